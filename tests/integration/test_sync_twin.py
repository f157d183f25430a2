"""The sync twin gives what the async provider gives: for every fixture and every recorded real
stream, served over a real 127.0.0.1 socket by ``provider serve``'s ``ReplayServer``, the same
chunks, then the same error (class, text, status, request id) or none, and from ``complete``
the same turn.

The two outcomes are also checked against the whole body fed to a ``ChunkDecoder`` at once, so
that two shells broken the same way (e.g. both yielding nothing) do not pass. The fault suite
(``tests/faults``) runs against both shells as well; this file covers what the API really sends.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from contextlib import suppress
from pathlib import Path

import anyio
import httpx
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    AssistantTurn,
    Message,
    MessageStreamChunk,
    ProviderConfig,
    ProviderError,
    SyncAnthropicProvider,
    TextChunk,
    collect_sync,
)
from provider.fixtures import fixture_paths, load_fixture
from provider.serve import ReplayServer
from provider.stream import ChunkDecoder

from ..shells import SHELLS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REAL_STREAMS = Path("/work/shared/real-streams")
LIMIT = 20  # seconds: a hang fails the test instead of the suite
KEY = "sk-ant-api03-TWINKEY-never-shown"
MESSAGES = [Message(role="user", content="Hi")]

Outcome = tuple[list[MessageStreamChunk], tuple[str, str, int | None, str | None] | None]


def _real_streams() -> list[Path]:
    return sorted(REAL_STREAMS.glob("*.sse")) if REAL_STREAMS.is_dir() else []


def config(url: str) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key=KEY,
        base_url=url,
    )


async def outcome(shell_name: str, url: str) -> Outcome:
    shell = SHELLS[shell_name]
    p = shell.provider(config(url), max_retries=0)
    try:
        chunks, error = await shell.consume(p, "", MESSAGES)
    finally:
        await shell.close(p)
    if error is None:
        return chunks, None
    assert isinstance(error, ProviderError), f"leaked {type(error).__name__}: {error!r}"
    assert KEY not in str(error) and KEY not in repr(error)
    # The server makes up a request id for a recording that has none: name it, do not compare it.
    rid = error.request_id
    text = str(error) if rid is None else str(error).replace(rid, "<request-id>")
    return chunks, (type(error).__name__, text, error.status, rid)


def decoded(body: bytes) -> list[MessageStreamChunk]:
    """The chunks of the whole body, fed at once, up to its end or its first fault."""
    decoder = ChunkDecoder()
    chunks = list(decoder.feed(body))
    if decoder.error is None:
        with suppress(ProviderError):
            chunks += decoder.close()
    return chunks


async def check_twins(path: Path) -> None:
    async with ReplayServer(path) as server:
        with anyio.fail_after(LIMIT):
            async_outcome = await outcome("async", server.url)
            sync_outcome = await outcome("sync", server.url)
    fixture = load_fixture(path)
    recorded_id = fixture.headers.get("request-id")
    if async_outcome[1] is not None and recorded_id is None:
        assert sync_outcome[1] is not None
        assert sync_outcome[1][3] is not None and async_outcome[1][3] is not None
        async_outcome = async_outcome[0], (*async_outcome[1][:3], None)
        sync_outcome = sync_outcome[0], (*sync_outcome[1][:3], None)
    assert sync_outcome == async_outcome
    if fixture.status == 200 and path.suffix == ".sse":
        chunks, _ = async_outcome
        assert chunks, "no chunk at all"
        assert chunks == decoded(fixture.body)[: len(chunks)]
    else:
        assert async_outcome[1] is not None and async_outcome[1][2] == fixture.status
    if async_outcome[1] is None:
        # complete(): the same turn from both, and it is the fold of the chunks above.
        async with ReplayServer(path) as server:
            with anyio.fail_after(LIMIT):
                turns = [await turn_of(name, server.url) for name in ("async", "sync")]
        assert turns[1] == turns[0] == collect_sync(async_outcome[0])


async def turn_of(shell_name: str, url: str) -> AssistantTurn:
    shell = SHELLS[shell_name]
    async with shell.opened(config(url), max_retries=0) as p:
        return await shell.complete(p, "", MESSAGES)


@pytest.fixture
def anyio_backend() -> str:
    # The servers need an event loop; the sync provider runs none, and the async provider's
    # chunks do not depend on which loop runs it (tests/faults runs it under both).
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("path", fixture_paths(FIXTURES), ids=lambda p: p.name)
async def test_every_fixture(path: Path) -> None:
    await check_twins(path)


@pytest.mark.anyio
@pytest.mark.skipif(not _real_streams(), reason=f"no recorded streams in {REAL_STREAMS}")
@pytest.mark.parametrize("path", _real_streams(), ids=lambda p: p.name)
async def test_every_recorded_real_stream(path: Path) -> None:
    await check_twins(path)


# --- what only the sync twin needs to show -------------------------------------------------------


@pytest.mark.anyio
async def test_a_with_block_closes_the_providers_own_client() -> None:
    async with ReplayServer(FIXTURES / "haiku.sse") as server:

        def run() -> tuple[SyncAnthropicProvider, str]:
            with SyncAnthropicProvider(config(server.url)) as p:
                text = "".join(
                    c.text for c in p.create_message("", MESSAGES) if isinstance(c, TextChunk)
                )
            return p, text

        with anyio.fail_after(LIMIT):
            p, text = await anyio.to_thread.run_sync(run)
    assert text.startswith("Bytes drift down the wire,")
    assert p._client is None  # closed and dropped: a later call would make a new one


@pytest.mark.anyio
async def test_a_callers_client_is_used_and_left_open() -> None:
    async with ReplayServer(FIXTURES / "haiku.sse") as server:

        def run() -> int:
            seen: list[httpx.Request] = []
            with httpx.Client(event_hooks={"request": [seen.append]}) as client:
                with SyncAnthropicProvider(config(server.url), http_client=client) as p:
                    for _ in p.create_message("", MESSAGES):
                        pass
                assert not client.is_closed
            return len(seen)

        with anyio.fail_after(LIMIT):
            assert await anyio.to_thread.run_sync(run) == 1


def test_the_wrong_client_flavour_fails_at_once() -> None:
    with pytest.raises(ProviderError, match=r"needs an httpx\.Client.*AsyncClient"):
        SyncAnthropicProvider(config("http://127.0.0.1:9"), http_client=httpx.AsyncClient())  # type: ignore[arg-type]


def test_a_malformed_argument_raises_on_first_use_before_any_io() -> None:
    p = SyncAnthropicProvider(config("http://127.0.0.1:9"))
    stream = p.create_message("", [Message(role="user", content="Hi"), "not a message"])  # type: ignore[list-item]
    with pytest.raises(ProviderError):
        next(stream)
    assert p._client is None


@pytest.mark.anyio
async def test_the_readme_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Synchronous use", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    async with ReplayServer(FIXTURES / "haiku.sse") as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        with anyio.fail_after(LIMIT):
            await anyio.to_thread.run_sync(exec, code, {})
    out = capsys.readouterr().out
    assert out.startswith("Bytes drift down the wire,")
    assert "\nend_turn: $0.000" in out
    assert len(server.requests) == 2


# --- the same public face -------------------------------------------------------------------------


def test_the_constructor_is_the_async_providers() -> None:
    def shape(cls: type) -> list[tuple[str, object, object]]:
        params = inspect.signature(cls.__init__).parameters.values()
        return [(p.name, p.kind, p.default) for p in params]

    assert shape(SyncAnthropicProvider) == shape(AnthropicProvider)
    hints = typing.get_type_hints(SyncAnthropicProvider.__init__)
    assert hints["http_client"] == httpx.Client | None


def test_repr_shows_no_secret() -> None:
    p = SyncAnthropicProvider(config("http://127.0.0.1:9"))
    assert KEY not in repr(p) and KEY not in str(p)
    assert repr(p) == "SyncAnthropicProvider(model_id='claude-sonnet-4-5')"


def test_it_is_loaded_on_first_use_only() -> None:
    code = (
        "import sys, provider\n"
        "assert 'provider.providers.sync' not in sys.modules\n"
        "from provider import SyncAnthropicProvider\n"
        "assert SyncAnthropicProvider.__module__ == 'provider.providers.sync'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
