"""The prompt library: built-in prompts, `manage.py prompts import`, `ask --prompt`,
and a chain-of-thought turn run end to end against a loopback OpenAI-compatible upstream."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from playground.models import ModelProfile, Prompt, Provider, Turn
from playground.prompts.builtins import BUILTIN_PROMPTS, ensure_builtin_prompts
from reasoning.cot import DEFAULT_THINKING_INSTRUCTIONS, FINAL_ANSWER_PROMPT
from reasoning.events import Usage
from reasoning.testing import FakeUpstream, Script, openai_chat_sse

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prompts.toml"
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_text(tmp_path: Path, text: str) -> str:
    path = tmp_path / "prompts.toml"
    path.write_text(text)
    return run("prompts", "import", str(path))


def import_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(CommandError) as caught:
        import_text(tmp_path, text)
    assert caught.value.returncode == 2
    return str(caught.value)


def library() -> list[tuple]:
    return list(Prompt.objects.order_by("pk").values_list("owner", "name", "system", "chain_of_thought",
                                                           "thinking_instructions", "schema"))


# ---- the library ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_built_in_prompts_are_there_for_everyone(owner, stranger):
    names = [p["name"] for p in BUILTIN_PROMPTS]
    assert names == ["Step by step", "Plan, then answer", "Critique your draft"]
    Prompt.objects.create(owner=owner, name="Mine", system="x")
    assert list(Prompt.available_to(owner).values_list("name", flat=True)) == [*sorted(names), "Mine"]
    assert list(Prompt.available_to(stranger).values_list("name", flat=True)) == sorted(names)
    assert all(p.chain_of_thought for p in Prompt.objects.filter(owner=None))


# ---- prompts import ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_imports_the_example_file_and_is_idempotent():
    out = run("prompts", "import", str(EXAMPLE))
    assert "3 created, 0 updated" in out
    converter = Prompt.objects.get(name="Unit converter")
    assert converter.chain_of_thought and converter.owner is None
    assert converter.schema["required"] == ["value", "unit"]
    assert Prompt.objects.get(name="Sentiment").schema["properties"]["label"]["enum"][0] == "positive"
    plain = Prompt.objects.get(name="Plain and brief")
    assert not plain.chain_of_thought and plain.schema is None
    before = library()

    again = run("prompts", "import", str(EXAMPLE))

    assert "0 created, 3 updated" in again
    assert library() == before


@pytest.mark.django_db
def test_it_sets_a_prompt_to_what_the_file_says_and_files_it_under_its_user(tmp_path, owner):
    import_text(tmp_path, '[[prompts]]\nname = "Mine"\nuser = "olivia"\nthinking_instructions = "Go slow."\n')
    import_text(tmp_path, '[[prompts]]\nname = "Mine"\nuser = "olivia"\nsystem = "Now plain."\n')
    prompt = Prompt.objects.get(name="Mine")
    assert (prompt.owner, prompt.system, prompt.chain_of_thought, prompt.thinking_instructions) == (
        owner, "Now plain.", False, "",
    )


DEEP_TOML = "[[prompts]]\nname = \"deep\"\nschema = " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_JSON = "[[prompts]]\nname = \"deep\"\nschema = '" + '{"items":' * 3000 + "{}" + "}" * 3000 + "'\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text, message",
    [
        ('[[prompts]]\nname = "ok"\n[[prompts]]\nsystem = "no name"\n', "prompts[2].name: is required"),
        ('[[prompts]]\nname = "ok"\ncolour = "red"\n', "prompts[1].colour: unknown key"),
        ('[[prompts]]\nname = "ok"\nschema = "{not json"\n', "prompts[1].schema: is not valid JSON"),
        ('[[prompts]]\nname = "ok"\nschema = { type = "nonsense" }\n', "prompts[1].schema: is not a valid JSON Schema"),
        ('[[prompts]]\nname = "ok"\nschema = 3\n', "prompts[1].schema: must be a JSON Schema object"),
        ('[[prompts]]\nname = "ok"\nuser = "nobody"\n', "prompts[1].user: no user 'nobody'"),
        ('[[prompts]]\nname = "a"\n[[prompts]]\nname = "a"\n', "prompts[2].name: 'a' is already used by prompts[1]"),
        ('[[prompts]]\nname = "Step by step"\n', "prompts[1].name: 'Step by step' is a built-in prompt"),
        ("[[prompts]\n", "invalid TOML"),
        (DEEP_JSON, "prompts[1].schema: nests deeper than 32 levels"),
        (DEEP_TOML, "nest"),
    ],
)
def test_it_rejects_a_bad_file_naming_the_key_and_imports_nothing(tmp_path, text, message):
    Prompt.objects.create(name="existing", system="untouched")
    before = library()
    good = '[[prompts]]\nname = "existing"\nsystem = "changed"\n'
    assert message in import_error(tmp_path, good + text)
    assert library() == before


@pytest.mark.django_db
def test_a_prompt_nested_deeper_than_the_limit_names_the_limit(tmp_path):
    nested = "{ type = \"array\", items = " * 40 + "{}" + " }" * 40
    error = import_error(tmp_path, f'[[prompts]]\nname = "deep"\nschema = {nested}\n')
    assert "prompts[0].schema: nests deeper than 32 levels" in error


pytestmark = pytest.mark.usefixtures("builtin_prompts")


# ---- a chain-of-thought turn, end to end -----------------------------------------------------

pytestmark_ask = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upstream():
    with FakeUpstream() as up:
        yield up


@pytest.fixture
def plain_model(upstream, db):
    provider = Provider.objects.create(name="fake-openai", kind="openai", base_url=upstream.url)
    return ModelProfile.objects.create(
        provider=provider, model_id="plain-1", label="Plain", reasoning="none",
        price_input=Decimal("1"), price_output=Decimal("2"),
    )


@pytest.fixture
def reasoning_model(plain_model):
    return ModelProfile.objects.create(
        provider=plain_model.provider, model_id="thinker-1", label="Thinker", reasoning="native"
    )


def ask_json(*args: str) -> dict:
    out = io.StringIO()
    try:
        call_command("ask", "--json", "--user", "olivia", *args, stdout=out, stderr=io.StringIO())
    except CommandError as e:
        assert e.returncode == 1, e  # a provider failure; the JSON says how it ended
    return json.loads(out.getvalue())


@pytestmark_ask
def test_ask_with_a_cot_prompt_stores_both_calls_and_sums_their_usage(upstream, plain_model, owner):
    ensure_builtin_prompts()
    upstream.enqueue(Script(chunks=openai_chat_sse(content="Two and two make four.", usage=Usage(100, 50))))
    upstream.enqueue(Script(chunks=openai_chat_sse(content="4", usage=Usage(200, 1))))

    result = ask_json("--model", "Plain", "--prompt", "Step by step", "What is 2+2?")

    think, answer = (r.json for r in upstream.requests)
    system = {"role": "system", "content": Prompt.objects.get(name="Step by step").system}
    assert think["messages"] == [
        system,
        {"role": "user", "content": "What is 2+2?"},
        {"role": "user", "content": DEFAULT_THINKING_INSTRUCTIONS},
    ]
    assert answer["messages"][-2:] == [
        {"role": "assistant", "content": "Two and two make four."},
        {"role": "user", "content": FINAL_ANSWER_PROMPT},
    ]
    assert (result["reasoning"], result["content"], result["prompt"]) == ("Two and two make four.", "4", "Step by step")
    assert result["usage"] == {
        "prompt_tokens": 300, "completion_tokens": 51, "reasoning_tokens": 50, "reasoning_tokens_estimated": False,
    }
    assert "structured" not in result
    turn = Turn.objects.get(pk=result["turn"])
    assert turn.cost == Decimal("0.000402")  # (300 × 1 + 51 × 2) / 1M: both calls
    calls = turn.sent["calls"]
    assert [c["step"] for c in calls] == ["thinking", "answer"]
    assert [c["body"]["messages"] for c in calls] == [think["messages"], answer["messages"]]
    assert [c["usage"]["completion_tokens"] for c in calls] == [50, 1]
    assert turn.sent["body"] == think  # the first call, as for any turn
    assert turn.conversation.prompt.name == "Step by step"


@pytestmark_ask
def test_a_third_turn_sends_no_earlier_reasoning(upstream, plain_model, owner):
    ensure_builtin_prompts()
    for reply in ("R1", "A1", "R2", "A2", "R3", "A3"):
        upstream.enqueue(Script(chunks=openai_chat_sse(content=reply)))
    first = ask_json("--model", "Plain", "--prompt", "Step by step", "Q1")
    conversation = str(first["conversation"])
    ask_json("--model", "Plain", "--prompt", "Step by step", "--conversation", conversation, "Q2")
    third = ask_json("--model", "Plain", "--prompt", "Step by step", "--conversation", conversation, "Q3")

    think = upstream.requests[4].json
    assert [(m["role"], m["content"]) for m in think["messages"][1:]] == [
        ("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2"), ("user", "Q3"),
        ("user", DEFAULT_THINKING_INSTRUCTIONS),
    ]
    assert (third["reasoning"], third["content"]) == ("R3", "A3")


@pytestmark_ask
def test_a_reasoning_model_gets_the_instructions_in_the_system_prompt(upstream, reasoning_model, owner):
    Prompt.objects.create(owner=owner, name="Careful", system="Be exact.", chain_of_thought=True,
                          thinking_instructions="Check every step.")
    upstream.enqueue(Script(chunks=openai_chat_sse("own thinking", "4")))

    result = ask_json("--model", "Thinker", "--prompt", "Careful", "What is 2+2?")

    assert len(upstream.requests) == 1
    assert upstream.requests[0].json["messages"] == [
        {"role": "system", "content": "Be exact.\n\nCheck every step."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert (result["reasoning"], result["content"]) == ("own thinking", "4")


@pytestmark_ask
def test_a_structured_answer_validates_and_holds_no_reasoning(upstream, plain_model, owner):
    Prompt.objects.create(owner=owner, name="Number", chain_of_thought=True, schema=SCHEMA)
    upstream.enqueue(Script(chunks=openai_chat_sse(content="2 plus 2 is 4.")))
    upstream.enqueue(Script(chunks=openai_chat_sse(content='{"answer": 4}')))

    result = ask_json("--model", "Plain", "--prompt", "Number", "What is 2+2?")

    assert result["structured"] == {"valid": True, "value": {"answer": 4}, "errors": []}
    assert "2 plus 2" not in result["content"] and result["reasoning"] == "2 plus 2 is 4."
    think, answer = (r.json for r in upstream.requests)
    assert "response_format" not in think
    assert answer["response_format"]["json_schema"]["schema"] == SCHEMA


@pytestmark_ask
def test_an_invalid_structured_answer_is_kept_and_reported(upstream, plain_model, owner):
    Prompt.objects.create(owner=owner, name="Number", schema=SCHEMA)
    upstream.enqueue(Script(chunks=openai_chat_sse(content='{"answer": "four"}')))

    result = ask_json("--model", "Plain", "--prompt", "Number", "What is 2+2?")

    assert result["status"] == "complete"
    assert result["content"] == '{"answer": "four"}'
    assert result["structured"] == {
        "valid": False, "value": {"answer": "four"}, "errors": ["$.answer: 'four' is not of type 'integer'"],
    }


@pytestmark_ask
def test_ask_refuses_an_unknown_or_another_users_prompt(plain_model, owner, stranger):
    Prompt.objects.create(owner=stranger, name="Sams")
    with pytest.raises(CommandError) as caught:
        call_command("ask", "--model", "Plain", "--user", "olivia", "--prompt", "Sams", "Hi",
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 2
    assert "no prompt 'Sams'" in str(caught.value)


@pytest.mark.django_db
def test_it_lists_every_prompt_with_its_owner_and_kind(owner):
    Prompt.objects.create(owner=owner, name="Mine", schema=SCHEMA)
    out = run("prompts", "list")
    assert "Step by step  (chain of thought; everyone)" in out
    assert "Mine  (plain, JSON schema; olivia)" in out
