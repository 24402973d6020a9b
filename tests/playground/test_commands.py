"""`manage.py providers import|list` and `manage.py ask`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError

from playground.management.commands import ask
from playground.models import Conversation, ModelProfile, Provider, Turn
from reasoning.errors import Unavailable
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "providers.toml"
EXAMPLE_KEYS = {
    "OPENAI_API_KEY": "sk-openai-example-0001",
    "DEEPSEEK_API_KEY": "sk-deepseek-example-0002",
    "ANTHROPIC_API_KEY": "sk-ant-example-0003",
    "GEMINI_API_KEY": "gemini-example-0004",
}

VALID = """
[[providers]]
name = "local-vllm"
kind = "openai"
base_url = "http://127.0.0.1:8001/v1"

  [[providers.models]]
  id = "Qwen/Qwen3-8B"
  label = "Qwen3 8B"
  reasoning = "markup"
  markup = "think"
  starts_in_reasoning = true
"""


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_text(tmp_path: Path, text: str) -> str:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return run("providers", "import", str(path))


def import_error(tmp_path: Path, text: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        import_text(tmp_path, text)
    assert caught.value.returncode == 2
    return caught.value


def snapshot() -> list[tuple]:
    return [
        *Provider.objects.values_list("name", "kind", "base_url", "api_key_encrypted", "enabled", "options"),
        *ModelProfile.objects.values_list("provider__name", "model_id", "label", "reasoning", "markup", "efforts"),
    ]


@pytest.fixture
def example_keys(monkeypatch):
    for name, value in EXAMPLE_KEYS.items():
        monkeypatch.setenv(name, value)


# ---- providers import -----------------------------------------------------------------


@pytest.mark.django_db
def test_it_imports_the_example_file_with_encrypted_keys(example_keys):
    out = run("providers", "import", str(EXAMPLE))

    assert "created provider local-vllm" in out
    anthropic = Provider.objects.get(name="anthropic")
    assert anthropic.kind == "anthropic"
    assert anthropic.config().api_key == EXAMPLE_KEYS["ANTHROPIC_API_KEY"]
    assert EXAMPLE_KEYS["ANTHROPIC_API_KEY"] not in anthropic.api_key_encrypted
    assert not Provider.objects.get(name="local-vllm").has_api_key
    qwen = ModelProfile.objects.get(label="Qwen3 8B")
    assert (qwen.provider.name, qwen.model_id, qwen.reasoning, qwen.markup) == (
        "local-vllm", "Qwen/Qwen3-8B", "markup", "think",
    )
    assert qwen.thinking_control == "chat_template_kwargs"
    assert (qwen.max_output_tokens, qwen.context_window) == (8192, 32768)
    claude = ModelProfile.objects.get(label="Claude Sonnet 4.5")
    assert claude.efforts == ["low", "medium", "high", "max"]
    assert claude.supports_budget and not claude.supports_temperature
    assert str(claude.price_input) == "3.0000" and str(claude.price_output) == "15.0000"
    assert ModelProfile.objects.get(label="Simulator (imported)").options == {
        "tokens_per_second": 120, "first_token_delay": 0.2,
    }
    assert not any(key in out for key in EXAMPLE_KEYS.values())


@pytest.mark.django_db
def test_it_is_idempotent(example_keys):
    run("providers", "import", str(EXAMPLE))
    first = snapshot()
    first_keys = {p.name: p.config().api_key for p in Provider.objects.all()}

    out = run("providers", "import", str(EXAMPLE))

    assert "created" not in out.replace("0 created", "")
    assert "updated provider anthropic" in out
    assert Provider.objects.count() == 7 and ModelProfile.objects.count() == 7
    # Re-encryption gives a new token for the same key: compare what it decrypts to.
    assert [row[:3] + row[4:] for row in snapshot()[:7]] == [row[:3] + row[4:] for row in first[:7]]
    assert snapshot()[7:] == first[7:]
    assert {p.name: p.config().api_key for p in Provider.objects.all()} == first_keys


@pytest.mark.django_db
def test_it_sets_a_model_to_what_the_file_says(tmp_path):
    import_text(tmp_path, VALID + '  efforts = ["low"]\n')
    assert ModelProfile.objects.get(label="Qwen3 8B").efforts == ["low"]

    import_text(tmp_path, VALID.replace('reasoning = "markup"\n  markup = "think"', 'reasoning = "native"'))

    qwen = ModelProfile.objects.get(label="Qwen3 8B")
    assert (qwen.reasoning, qwen.markup) == ("native", "")
    assert qwen.efforts == []  # left out of the file: back to the default
    assert ModelProfile.objects.count() == 1


@pytest.mark.django_db
def test_it_keeps_a_stored_key_when_the_file_names_none(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "vllm-secret-key-123")
    import_text(tmp_path, VALID.replace('base_url', 'api_key_env = "VLLM_API_KEY"\nbase_url'))

    import_text(tmp_path, VALID)

    assert Provider.objects.get(name="local-vllm").config().api_key == "vllm-secret-key-123"


@pytest.mark.django_db
def test_it_leaves_providers_that_are_not_in_the_file_alone(tmp_path, simulator_model):
    import_text(tmp_path, VALID)
    assert Provider.objects.filter(name="offline").exists()
    assert ModelProfile.objects.filter(label="Offline simulator").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[providers]]\nname = "x"\nkind = openai\n', "invalid TOML: Invalid value (at line 3, column 8)"),
        ('[[providers]]\nname = "x"\n\n[[providers]]\nname = "y"\nname = "z"\n', "(at line 6, column"),
        ('title = "x"\n', "title: unknown key"),
        ("", "providers: add at least one [[providers]] table"),
        (VALID.replace("kind =", "kinds ="), "providers[0].kinds: unknown key (known: name, kind,"),
        (VALID.replace('kind = "openai"', 'kind = "openia"'), "providers[0].kind: must be one of openai, "),
        (VALID.replace('name = "local-vllm"', 'name = "local vllm"'), "providers[0].name: must be letters"),
        (VALID.replace('name = "local-vllm"\n', ""), "providers[0].name: is required"),
        (VALID.replace('"http://127.0.0.1:8001/v1"', '"127.0.0.1:8001"'),
         "providers[0].base_url: '127.0.0.1:8001' is not an http(s) URL"),
        (VALID.replace("kind =", "enabled = 1\nkind ="), "providers[0].enabled: must be true or false"),
        (VALID.replace("kind =", 'options = "x"\nkind ='), "providers[0].options: must be a table"),
        (VALID.replace('label = "Qwen3 8B"', 'lable = "Qwen3 8B"'), "providers[0].models[0].lable: unknown key"),
        (VALID.replace('label = "Qwen3 8B"\n', ""), "providers[0].models[0].label: is required"),
        (VALID.replace('id = "Qwen/Qwen3-8B"', 'id = ""'), "providers[0].models[0].id: must not be empty"),
        (VALID.replace('reasoning = "markup"', 'reasoning = "visible"'),
         "providers[0].models[0].reasoning: must be one of native, markup, hidden, none"),
        (VALID.replace('markup = "think"', 'markup = "thonk"'), "providers[0].models[0].markup: must be one of think,"),
        (VALID.replace('markup = "think"\n', ""), "providers[0].models[0].markup: is required when reasoning"),
        (VALID.replace('reasoning = "markup"', 'reasoning = "native"'),
         "providers[0].models[0].markup: only applies when reasoning"),
        (VALID.replace("starts_in_reasoning = true", "starts_in_reasoning = \"yes\""),
         "providers[0].models[0].starts_in_reasoning: must be true or false"),
        (VALID + '  efforts = ["low", "hihg"]\n', "providers[0].models[0].efforts[1]: must be one of none, minimal,"),
        (VALID + '  efforts = "low"\n', "providers[0].models[0].efforts: must be a list"),
        (VALID + "  max_output_tokens = 0\n", "providers[0].models[0].max_output_tokens: must be a whole number"),
        (VALID + '  context_window = "32k"\n', "providers[0].models[0].context_window: must be a whole number"),
        (VALID + "  price_input = -1\n", "providers[0].models[0].price_input: must be a number ≥ 0"),
        (VALID + "  price_output = 0.123456\n", "providers[0].models[0].price_output: must be below 1,000,000 with"),
        (VALID + '  markup_open = "<t>"\n', "providers[0].models[0].markup_open: markup_open and markup_close go"),
        (VALID + "  options = 3\n", "providers[0].models[0].options: must be a table"),
        (VALID + '  thinking_control = "enable_thinking"\n',
         "providers[0].models[0].thinking_control: must be one of none, reasoning_effort,"),
        (VALID + '  thinking_control = "anthropic_budget"\n',
         "providers[0].models[0].thinking_control: 'anthropic_budget' applies to anthropic providers, not openai"),
        (VALID + '  thinking_control = "simulator"\n',
         "providers[0].models[0].thinking_control: 'simulator' applies to simulator providers, not openai"),
        (VALID + "\n  [[providers.models]]\n  id = \"Qwen/Qwen3-8B\"\n  label = \"Other\"\n",
         "providers[0].models[1].id: 'Qwen/Qwen3-8B' is already used by providers[0].models[0]"),
        (VALID + VALID.replace('"local-vllm"', '"other"'),
         "providers[1].models[0].label: 'Qwen3 8B' is already used by providers[0].models[0]"),
        (VALID + VALID, "providers[1].name: 'local-vllm' is already used by providers[0]"),
        (VALID.replace("base_url", 'api_key_env = "PLAYGROUND_TEST_UNSET_KEY"\nbase_url'),
         "providers[0].api_key_env: environment variable PLAYGROUND_TEST_UNSET_KEY is not set"),
    ],
)
@pytest.mark.django_db
def test_it_rejects_a_bad_file_naming_the_line_or_key_and_imports_nothing(tmp_path, text, message):
    # Nothing is written, even where an earlier provider in the file was valid.
    before = snapshot()
    error = import_error(tmp_path, text)
    assert message in str(error)
    assert str(tmp_path / "providers.toml") in str(error)
    assert snapshot() == before == []


@pytest.mark.django_db
def test_it_rejects_a_label_taken_by_another_providers_model(tmp_path, simulator_model):
    before = snapshot()
    error = import_error(tmp_path, VALID.replace('label = "Qwen3 8B"', 'label = "Offline simulator"'))
    expected = "providers[0].models[0].label: 'Offline simulator' is already the label of simulator at offline"
    assert expected in str(error)
    assert snapshot() == before


@pytest.mark.django_db
def test_it_refuses_a_label_swap_before_writing(tmp_path):
    two = VALID + '\n  [[providers.models]]\n  id = "Qwen/Qwen3-32B"\n  label = "Qwen3 32B"\n'
    import_text(tmp_path, two)
    before = snapshot()
    swapped = two.replace('"Qwen3 8B"', '"TMP"').replace('"Qwen3 32B"', '"Qwen3 8B"').replace('"TMP"', '"Qwen3 32B"')

    error = import_error(tmp_path, swapped)

    assert "providers[0].models[0].label: 'Qwen3 32B' is already the label of Qwen/Qwen3-32B" in str(error)
    assert snapshot() == before


@pytest.mark.django_db
def test_it_rolls_everything_back_when_a_write_fails_half_way(tmp_path, monkeypatch):
    two = VALID + '\n  [[providers.models]]\n  id = "Qwen/Qwen3-32B"\n  label = "Qwen3 32B"\n'
    import_text(tmp_path, two)
    before = snapshot()
    save = ModelProfile.save

    def failing_save(self, *args, **kwargs):
        if self.label == "Qwen3 32B":
            raise IntegrityError("UNIQUE constraint failed (simulated)")
        save(self, *args, **kwargs)

    monkeypatch.setattr(ModelProfile, "save", failing_save)

    error = import_error(tmp_path, two.replace("8001", "9001").replace('"think"', '"mistral"'))

    assert "conflicts with the stored providers: UNIQUE constraint failed (simulated)" in str(error)
    assert snapshot() == before  # the provider and first model written before it were rolled back


@pytest.mark.django_db
def test_it_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError) as caught:
        run("providers", "import", str(tmp_path / "nope.toml"))
    assert caught.value.returncode == 2
    assert "nope.toml: cannot read" in str(caught.value)


@pytest.mark.django_db
def test_it_lists_providers_and_models_without_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "vllm-secret-key-123")
    import_text(tmp_path, VALID.replace("base_url", 'api_key_env = "VLLM_API_KEY"\nbase_url'))

    out = run("providers", "list")

    assert "local-vllm  kind=openai  base_url=http://127.0.0.1:8001/v1  key stored" in out
    assert "Qwen3 8B  id=Qwen/Qwen3-8B  reasoning=markup" in out
    assert "vllm-secret" not in out and "-123" not in out


# ---- ask --------------------------------------------------------------------------------

pytestmark_ask = pytest.mark.django_db(transaction=True)


def ask_json(*args: str) -> dict:
    return json.loads(run("ask", "--json", *args))


@pytestmark_ask
def test_it_answers_arithmetic_with_the_simulator_and_stores_the_turn(simulator_model, admin_user):
    result = ask_json("--model", "Offline simulator", "What is 17*23?")

    assert result["status"] == "complete" and result["error"] is None
    assert "391" in result["content"]
    assert "17 × 20 = 340" in result["reasoning"]
    assert result["finish_reason"] == "stop"
    assert result["usage"]["reasoning_tokens"] > 0
    assert set(result["timings"]) == {"first_reasoning_ms", "first_content_ms", "thinking_ms", "duration_ms"}
    turn = Turn.objects.get(pk=result["turn"])
    assert (turn.content, turn.reasoning, turn.status) == (result["content"], result["reasoning"], "complete")
    assert turn.conversation_id == result["conversation"]
    assert turn.conversation.owner == admin_user  # the first superuser by default
    assert turn.parent.content == "What is 17*23?"


@pytestmark_ask
def test_it_continues_a_conversation_without_its_earlier_reasoning(simulator_model, admin_user):
    first = ask_json("--model", "Offline simulator", "What is 17*23?")

    second = ask_json("--model", "Offline simulator", "--conversation", str(first["conversation"]), "And (3+4)*2?")

    assert second["conversation"] == first["conversation"]
    assert "14" in second["content"]
    assert "2 earlier message(s)" in second["reasoning"]
    turn = Turn.objects.get(pk=second["turn"])
    assert turn.parent.parent_id == first["turn"]
    sent = turn.sent["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == first["content"]
    assert first["reasoning"] not in json.dumps(sent)


@pytestmark_ask
def test_it_passes_effort_thinking_max_tokens_and_system(scripted, scripted_model, owner):
    result = ask_json(
        "--model", "Scripted", "--user", "olivia", "--effort", "high", "--thinking", "on",
        "--max-tokens", "500", "--system", "Be brief.", "Hi",
    )

    request = scripted.requests[-1]
    assert (request.thinking.mode, request.thinking.effort) == ("on", "high")
    assert (request.max_tokens, request.system) == (500, "Be brief.")
    assert Conversation.objects.get(pk=result["conversation"]).owner == owner


@pytestmark_ask
def test_it_prints_the_live_frames_thinking_then_answer(scripted, scripted_model, owner, monkeypatch):
    scripted.enqueue(
        [ReasoningDelta("Let me see. "), ReasoningDelta("Seven."), ContentDelta("It is "),
         ContentDelta("7."), Usage(5, 9, 4), Finish("stop")],
        delay=0.03,
    )
    printed_by_frames = []
    finish = ask.Printer.finish

    def spy(self, turn):
        printed_by_frames.append(list(self.have))
        finish(self, turn)

    monkeypatch.setattr(ask.Printer, "finish", spy)

    out = run("ask", "--model", "Scripted", "--user", "olivia", "What is 3+4?")

    assert out == "Thinking:\nLet me see. Seven.\n\nAnswer:\nIt is 7.\n"
    assert printed_by_frames == [[len("Let me see. Seven."), len("It is 7.")]]  # none from the database


@pytestmark_ask
def test_it_exits_1_with_the_error_in_json_when_the_provider_fails(scripted, scripted_model, owner):
    scripted.enqueue([ReasoningDelta("Thinking hard."), Unavailable("upstream is down", status_code=503)])
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("ask", "--json", "--model", "Scripted", "--user", "olivia", "Hi", stdout=out)

    assert caught.value.returncode == 1
    assert "upstream is down" in str(caught.value)
    result = json.loads(out.getvalue())
    assert result["status"] == "error"
    assert result["error"] == {
        "kind": "unavailable", "message": "upstream is down", "status_code": 503, "retry_after": None
    }
    assert result["reasoning"] == "Thinking hard."  # the partial text is kept
    assert Turn.objects.get(pk=result["turn"]).status == "error"


@pytestmark_ask
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "No such model", "Hi"], "'No such model' is no enabled model; choose one of: Offline simulator"),
        (["--model", "Offline simulator", "--effort", "max", "Hi"], "Effort max is not available for Offline"),
        (["--model", "Offline simulator", "--max-tokens", "0", "Hi"], "max_tokens must be between 1"),
        (["--model", "Offline simulator", "   "], "The prompt is empty."),
        (["--model", "Offline simulator", "--user", "nobody", "Hi"], "no user 'nobody'"),
        (["--model", "Offline simulator", "--conversation", "999999", "Hi"], "olivia has no conversation 999999"),
    ],
)
def test_it_exits_2_on_bad_arguments(simulator_model, owner, admin_user, args, message):
    if "--user" not in args:
        args = ["--user", "olivia", *args]
    with pytest.raises(CommandError) as caught:
        run("ask", *args)
    assert caught.value.returncode == 2
    assert message in str(caught.value)
    assert not Conversation.objects.exists()  # nothing left behind


@pytestmark_ask
def test_it_refuses_another_users_conversation(simulator_model, owner, stranger):
    theirs = ask_json("--model", "Offline simulator", "--user", "sam", "Private question")
    conversation = str(theirs["conversation"])

    with pytest.raises(CommandError) as caught:
        run("ask", "--model", "Offline simulator", "--user", "olivia", "--conversation", conversation, "Hi")

    assert caught.value.returncode == 2
    assert Turn.objects.filter(conversation_id=theirs["conversation"]).count() == 2


@pytestmark_ask
def test_it_uses_a_local_cli_user_when_there_is_no_superuser(simulator_model, owner):
    result = ask_json("--model", "Offline simulator", "What is 2+2?")

    user = Conversation.objects.get(pk=result["conversation"]).owner
    assert user.username == "cli" and not user.has_usable_password()
    ask_json("--model", "Offline simulator", "Again")
    assert Conversation.objects.filter(owner=user).count() == 2


@pytestmark_ask
def test_it_exits_1_when_the_provider_cannot_be_reached(owner):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = Provider.objects.create(name="closed", kind="openai", base_url=f"http://127.0.0.1:{port}/v1")
    ModelProfile.objects.create(provider=provider, model_id="m", label="Closed port")
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("ask", "--json", "--model", "Closed port", "--user", "olivia", "Hi", stdout=out)

    assert caught.value.returncode == 1
    result = json.loads(out.getvalue())
    assert (result["status"], result["error"]["kind"]) == ("error", "unavailable")
    assert result["content"] == "" and result["usage"]["completion_tokens"] is None


@pytest.mark.slow
def test_it_stops_on_ctrl_c_and_keeps_the_partial_turn(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATA_DIR=str(tmp_path), SIMULATOR_TOKENS_PER_SECOND="200", DJANGO_SETTINGS_MODULE="playground.settings")

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "-v0")
    manage("bootstrap")
    asking = subprocess.Popen(
        [sys.executable, "manage.py", "ask", "--model", "Offline simulator (long thoughts)", "What is 6*7?"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert asking.stdout.readline() == "Thinking:\n"  # it is streaming the thought now
    asking.send_signal(signal.SIGINT)
    _, err = asking.communicate(timeout=30)

    assert asking.returncode == 130
    assert "Stopped; the text so far is kept." in err
    stored = manage("shell", "-c", (
        "from playground.models import Turn; t = Turn.objects.get(role='assistant'); "
        "print(t.status, t.finish_reason, len(t.reasoning), repr(t.content))"
    )).splitlines()[-1].split()
    assert stored[:2] == ["stopped", "cancelled"]
    assert 0 < int(stored[2]) < 12_000 and stored[3] == "''"


@pytest.mark.django_db
def test_bootstrap_creates_the_first_user_once_and_says_where_to_log_in(monkeypatch, client):
    monkeypatch.setenv("PORT", "8123")
    first, second = io.StringIO(), io.StringIO()
    call_command("bootstrap", stdout=first)
    call_command("bootstrap", stdout=second)
    said = first.getvalue()
    assert "http://127.0.0.1:8123/login/" in said
    password = said.split("password:", 1)[1].split()[0]
    # Through the login form: login throttling (django-axes) needs the request.
    assert client.post("/login/", {"username": "admin", "password": password}).status_code == 302
    assert "password" not in second.getvalue()  # shown once, never again
    assert ModelProfile.objects.filter(provider__kind="simulator").exists()
