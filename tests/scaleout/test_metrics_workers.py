"""`/metrics` on two real daphne workers (PostgreSQL + Redis, one metrics directory):
turns run on either worker are counted in whichever answers, read with
prometheus_client's own parser; a worker killed mid-stream leaves no active stream."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reasoning.events import Usage
from reasoning.testing.upstream import FakeUpstream, Script, openai_chat_sse
from tests.playground.stream_page import Page
from tests.scaleout.harness import Deployment, Server, create_database, drop_database, open_socket, services_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.services]

TOKEN = "metrics-token-0123456789abcdef"
OPTIONS = {"reasoning": 30, "content": 10, "rate": 300}
LONG = {"reasoning": 6000, "content": 10, "rate": 200}  # 30 s: still streaming when its worker dies


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


def scrape(server: Server, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)


async def run_turn(server: Server, ids, model: int) -> int:
    ws = await open_socket(server, ids["conversation"], ids["session"])
    try:
        await ws.send(json.dumps({"action": "send", "prompt": "Go", "model": model}))
        page = Page()
        first = await asyncio.wait_for(ws.recv(), 10)
        page.apply(first)
        turn_id = int(first.rsplit('data-turn="', 1)[1].split('"', 1)[0])
        async with asyncio.timeout(20):
            while turn_id not in page.done:
                page.apply(await ws.recv())
        return turn_id
    finally:
        await ws.close()


@pytest.fixture
def deployment(tmp_path):
    pg_user, redis_url = services_or_skip()
    name = f"test_metrics_{os.getpid()}"
    database_url = create_database(pg_user, name)
    try:
        yield Deployment(tmp_path, database_url=database_url, redis_url=redis_url, extra={"METRICS_TOKEN": TOKEN})
    finally:
        drop_database(pg_user, name)


async def test_metrics_add_up_every_worker(deployment):
    ids = deployment.setup(OPTIONS, conversations=4)
    async with FakeUpstream() as up:
        code = f"""
import json
from django.contrib.auth import get_user_model
from playground.api.tokens import create_token
from playground.models import ModelProfile, Provider
provider = Provider(name="fake openai", kind="openai", base_url="{up.url}/v1")
provider.set_api_key("sk-test-0123456789")
provider.save()
model = ModelProfile.objects.create(provider=provider, model_id="fake-model", label="Fake", reasoning="native")
_, secret = create_token(get_user_model().objects.get(username="olivia"), "t")
long = ModelProfile.objects.create(provider=Provider.objects.get(name="paced"), model_id="paced-long",
                                   label="Long", options={LONG!r})
print(json.dumps({{"openai": model.pk, "token": secret, "long": long.pk}}))
"""
        more = json.loads(deployment.manage("shell", code=code).strip().splitlines()[-1])
        a, b = Server(deployment).start(), Server(deployment).start()
        try:
            assert scrape(a, None).status_code == 401
            assert scrape(a, "wrong-token").status_code == 401
            before = samples(scrape(a).text)
            assert value(before, "playground_turns_started_total") == 0

            await run_turn(a, ids, ids["model"])
            await run_turn(b, ids, ids["model"])
            up.enqueue(Script(chunks=openai_chat_sse("Thinking it over.", "Yes.", usage=Usage(12, 40, 25))))
            await run_turn(b, ids, more["openai"])
            up.enqueue(Script.error(429, {"error": {"message": "Slow down", "type": "rate_limit"}}))
            await run_turn(a, ids, more["openai"])
            auth = {"Authorization": f"Bearer {more['token']}"}
            async with httpx.AsyncClient(timeout=10) as http:
                assert (await http.get(f"{b.url}/v1/models", headers=auth)).status_code == 200
                assert (await http.get(f"{b.url}/v1/models")).status_code == 401

            for server in (a, b):  # either worker answers for both
                found = samples(scrape(server).text)
                paced = {"gen_ai_provider_name": "paced", "gen_ai_request_model": "paced"}
                fake = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "fake-model"}
                assert value(found, "playground_turns_started_total", **paced) == 2
                assert value(found, "playground_turns_finished_total", **paced, outcome="complete") == 2
                assert value(found, "playground_turns_finished_total", **fake, outcome="complete") == 1
                assert value(found, "playground_turns_finished_total", **fake, outcome="error") == 1
                assert value(found, "playground_upstream_errors_total", **fake, kind="rate_limited") == 1
                # Tokens by type, reasoning apart: the paced adapter reports 1 in, 40 out each.
                usage = "gen_ai_client_token_usage_sum"
                assert value(found, usage, **fake, gen_ai_token_type="input") == 12
                assert value(found, usage, **fake, gen_ai_token_type="output") == 40
                assert value(found, usage, **fake, gen_ai_token_type="reasoning") == 25
                assert value(found, usage, **paced, gen_ai_token_type="output") == 2 * 40
                # The paced adapter reports no reasoning count: it is estimated from its
                # reasoning text (issue 20.6), never above the turn's output tokens.
                assert 0 < value(found, usage, **paced, gen_ai_token_type="reasoning") <= 2 * 40
                first_r = "playground_time_to_first_reasoning_token_seconds_count"
                assert value(found, first_r, **paced) == 2 and value(found, first_r, **fake) == 1
                first_a = "playground_time_to_first_answer_token_seconds_count"
                assert value(found, first_a) == 3
                assert value(found, "playground_time_to_first_answer_token_seconds_sum", **paced) > 0
                assert value(found, "playground_gateway_requests_total", status="200") == 1
                assert value(found, "playground_gateway_requests_total", status="401") == 1
                assert value(found, "playground_active_streams") == 0

            # A long turn on b: one active stream, seen from a; b killed, none.
            ws = await open_socket(b, ids["conversations"][1], ids["session"])
            await ws.send(json.dumps({"action": "send", "prompt": "Go", "model": more["long"]}))
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.sleep(0.5)
            assert value(samples(scrape(a).text), "playground_active_streams") == 1
            b.kill9()
            found = samples(scrape(a).text)
            assert value(found, "playground_active_streams") == 0
            assert value(found, "playground_turns_started_total") == 5  # the dead worker's counts stay
        finally:
            a.stop()
            b.stop()
