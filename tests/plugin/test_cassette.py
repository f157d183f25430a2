"""The provider_cassette plugin, run in inner pytest sessions (pytester): record against a fake
upstream on 127.0.0.1, replay with no upstream at all, and fail readably when the application's
requests change; under sync, asyncio and trio tests, with this package's provider and the
official SDK."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic  # noqa: F401  imported once here, not again by every inner session
import pytest
import trio  # noqa: F401

from .support import API_KEY, HAIKU, HAIKU_TEXT, TOKEN, assert_no_secret, upstream

CONFTEST = """
import pytest

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

APP = '''
import anthropic, httpx
from provider import MODELS, AnthropicProvider, Message, ProviderConfig, TextChunk

PROMPTS = ["Write a haiku about streaming."]

async def haikus() -> list[str]:
    """The application: it builds its own client from the environment."""
    config = ProviderConfig(model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"])
    texts = []
    async with AnthropicProvider(config) as p:
        for prompt in PROMPTS:
            chunks = [c async for c in p.create_message("", [Message("user", prompt)])]
            texts.append("".join(c.text for c in chunks if isinstance(c, TextChunk)))
    return texts

def sdk_haiku() -> str:
    with anthropic.Anthropic() as client:
        reply = client.messages.create(
            model="claude-sonnet-4-5", max_tokens=64,
            messages=[{"role": "user", "content": PROMPTS[0]}],
        )
    return reply.content[0].text

def sdk_count() -> int:
    with anthropic.Anthropic() as client:
        return client.messages.count_tokens(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": PROMPTS[0]}]
        ).input_tokens

async def async_sdk_haiku() -> str:
    async with anthropic.AsyncAnthropic() as client:
        async with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64,
            messages=[{"role": "user", "content": PROMPTS[0]}],
        ) as stream:
            return await stream.get_final_text()

def raw_httpx_status() -> int:
    import os
    response = httpx.post(
        os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages",
        headers={"x-api-key": os.environ["ANTHROPIC_API_KEY"], "authorization": "Bearer " + TOKEN},
        json={"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
              "messages": [{"role": "user", "content": "raw"}]},
    )
    return response.status_code
'''

TESTS = f"""
import pytest
import app

HAIKU = {HAIKU_TEXT!r}

@pytest.mark.anyio
@pytest.mark.provider_cassette("haiku")
async def test_provider(provider_cassette):
    assert await app.haikus() == [HAIKU] * len(app.PROMPTS)
    assert provider_cassette.requests[0].headers["x-api-key"] == "<redacted>"

@pytest.mark.anyio
@pytest.mark.provider_cassette("sdk_stream")
async def test_async_sdk(provider_cassette):
    assert await app.async_sdk_haiku() == HAIKU

def test_sync_sdk_and_httpx(provider_cassette):
    assert app.sdk_haiku() == HAIKU
    assert app.raw_httpx_status() == 200
    assert app.sdk_count() == 15
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PROVIDER_RECORD", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(app=APP.replace("+ TOKEN", f"+ {TOKEN!r}"), test_app=TESTS)
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Hypothesis' plugin would import (and assertion-rewrite) all of hypothesis in every inner
    # session: pytester drops the modules an inner session imported.
    return project.runpytest("-p", "no:hypothesispytest", *args)


def record(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    with upstream() as server, monkeypatch.context() as env:
        env.setenv("ANTHROPIC_BASE_URL", server.url)
        env.setenv("ANTHROPIC_API_KEY", API_KEY)
        result = run(project, "--provider-record", *args)
        result.assert_outcomes(passed=5)
        forwarded = server.requests
    assert len(forwarded) == 7  # 2 + 2 (asyncio, trio) + the sync SDK's two + httpx's
    for sent in forwarded:  # the key went upstream (the SDK sends it as a bearer token)
        assert "<redacted>" in (sent.headers.get("x-api-key"), sent.headers.get("authorization"))


def cassettes(project: pytest.Pytester) -> Path:
    return project.path / "cassettes" / "test_app"


def test_record_writes_readable_cassettes_without_secrets_then_replays_offline(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(project, monkeypatch)
    root = cassettes(project)
    assert sorted(p.name for p in root.iterdir()) == [
        "haiku",
        "sdk_stream",
        "test_sync_sdk_and_httpx",
    ]
    assert sorted(p.name for p in (root / "haiku").iterdir()) == ["001.meta.json", "001.sse"]
    # The non-streamed SDK reply is a JSON body, the raw httpx call the second request, and
    # the token count (POST /v1/messages/count_tokens) the third.
    assert sorted(p.name for p in (root / "test_sync_sdk_and_httpx").iterdir()) == [
        "001.json",
        "001.meta.json",
        "002.meta.json",
        "002.sse",
        "003.json",
        "003.meta.json",
    ]
    meta = json.loads((root / "haiku" / "001.meta.json").read_text())
    assert meta.get("status", 200) == 200 and meta["headers"]["request-id"] == "req_up"
    assert meta["request"]["messages"] == [
        {"role": "user", "content": "Write a haiku about streaming."}
    ]
    assert meta["request"]["model"] == "claude-sonnet-4-5" and meta["request"]["stream"] is True
    assert (
        HAIKU_TEXT.split("\n")[0].split(" ")[0].encode()
        in (root / "haiku" / "001.sse").read_bytes()
    )
    assert_no_secret(project.path / "cassettes")
    # Replay: no upstream, no key in the environment.
    run(
        project,
    ).assert_outcomes(passed=5)
    run(project, "-k", "test_sync_sdk").assert_outcomes(passed=1)


def test_a_changed_request_fails_with_a_diff_and_how_to_re_record(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(project, monkeypatch)
    app = project.path / "app.py"
    app.write_text(app.read_text().replace("about streaming.", "about rivers."))
    result = run(project, "-k", "test_provider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*request 1 differs from the one recorded in *haiku (001):",
            "--- recorded",
            "+++ sent",
            '-      "content": "Write a haiku about streaming.",',
            '+      "content": "Write a haiku about rivers.",',
            "*Record it again with: pytest --provider-record *test_app.py::test_provider*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_requests_past_the_end_and_recordings_left_over_fail(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(project, monkeypatch)
    app = project.path / "app.py"
    original = app.read_text()
    app.write_text(
        original.replace(
            'PROMPTS = ["Write a haiku about streaming."]',
            'PROMPTS = ["Write a haiku about streaming."] * 2',
        )
    )
    result = run(project, "-k", "test_provider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*request 2 is beyond the end of *haiku: it holds 1 recording(s)"])
    app.write_text(original.replace('PROMPTS = ["Write a haiku about streaming."]', "PROMPTS = []"))
    result = run(project, "-k", "test_provider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*the test made 0 request(s) but *haiku holds 1 recording(s)"])


def test_a_missing_cassette_says_how_to_record_it(project: pytest.Pytester) -> None:
    result = run(project, "-k", "test_sync_sdk")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*No cassette for test_app.py::test_sync_sdk_and_httpx at *test_sync_sdk_and_httpx.",
            "*Record it with: pytest --provider-record test_app.py::test_sync_sdk_and_httpx "
            "(or PROVIDER_RECORD=1)*",
        ]
    )


def test_record_by_environment_variable_and_the_plugin_is_inert_unless_used(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = "import os\n\ndef test_plain():\n    assert 'ANTHROPIC_BASE_URL' not in os.environ\n"
    project.makepyfile(test_plain=plain)
    run(project, "test_plain.py").assert_outcomes(passed=1)
    assert not (project.path / "cassettes").exists()
    with upstream() as server, monkeypatch.context() as env:
        env.setenv("ANTHROPIC_BASE_URL", server.url)
        env.setenv("ANTHROPIC_API_KEY", API_KEY)
        env.setenv("PROVIDER_RECORD", "1")
        run(project, "-k", "test_sync_sdk").assert_outcomes(passed=1)
    assert (cassettes(project) / "test_sync_sdk_and_httpx" / "002.sse").exists()


def test_a_request_made_after_the_test_fails_its_teardown(project: pytest.Pytester) -> None:
    # A hand-made cassette: one recording, with no request to compare.
    folder = project.path / "cassettes" / "test_late" / "test_late"
    folder.mkdir(parents=True)
    (folder / "001.sse").write_bytes(HAIKU)
    project.makepyfile(
        test_late="""
import pytest, app

@pytest.fixture
def client_closing_late(provider_cassette):
    yield
    assert app.raw_httpx_status() == 400  # one request more, after the test's own

def test_late(client_closing_late):
    assert app.raw_httpx_status() == 200
"""
    )
    result = run(project, "test_late.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*request 2 is beyond the end of *test_late: it holds 1*"])
