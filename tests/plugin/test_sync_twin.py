"""The provider_cassette fixture records and replays an application that uses the sync twin
(``SyncAnthropicProvider``): its stream, its ``complete`` and its ``count_tokens``, in a plain
sync test, with no secret in the cassette and no upstream on replay."""

from __future__ import annotations

import pytest

from .support import API_KEY, HAIKU_TEXT, assert_no_secret, upstream

APP = """
from contextlib import closing
from provider import MODELS, Message, ProviderConfig, SyncAnthropicProvider, TextChunk

def run() -> tuple[str, str, int]:
    config = ProviderConfig(model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"])
    history = [Message("user", "Write a haiku about streaming.")]
    with SyncAnthropicProvider(config) as p:
        with closing(p.create_message("", history)) as stream:
            text = "".join(c.text for c in stream if isinstance(c, TextChunk))
        turn = p.complete("", history)
        return text, turn.text, p.count_tokens("", history)
"""

TESTS = f"""
import sync_app

def test_sync_provider(provider_cassette):
    text = {HAIKU_TEXT!r}
    assert sync_app.run() == (text, text, 15)
    assert len(provider_cassette.requests) == 3
"""


def test_the_sync_twin_is_recorded_and_replayed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PROVIDER_RECORD", raising=False)
    pytester.makepyfile(sync_app=APP, test_sync_app=TESTS)
    args = ("-p", "no:hypothesispytest")
    with upstream() as server, monkeypatch.context() as env:
        env.setenv("ANTHROPIC_BASE_URL", server.url)
        env.setenv("ANTHROPIC_API_KEY", API_KEY)
        pytester.runpytest(*args, "--provider-record").assert_outcomes(passed=1)
        assert len(server.requests) == 3
    cassette = pytester.path / "cassettes" / "test_sync_app" / "test_sync_provider"
    assert sorted(p.name for p in cassette.iterdir()) == [
        "001.meta.json",
        "001.sse",
        "002.meta.json",
        "002.sse",
        "003.json",
        "003.meta.json",
    ]
    assert_no_secret(pytester.path / "cassettes")
    # Replay: no upstream, no key in the environment.
    pytester.runpytest(*args).assert_outcomes(passed=1)
