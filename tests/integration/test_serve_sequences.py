"""Choosing the reply: the ``x-provider-fixture`` header, sequences served one per request, and
the check of each request against the one recorded in its step's sidecar (the mechanism the
pytest plugin's cassettes use), over a real loopback server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from provider.errors import ProviderError
from provider.serve import FIXTURE_HEADER, Catalog, ReplayServer

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10


def sse_text(text: str) -> bytes:
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }
    return f"event: content_block_delta\ndata: {json.dumps(delta)}\n\n".encode()


def request(text: str, model: str = "claude-haiku-4-5") -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
        "stream": True,
    }


def write_step(folder: Path, name: str, text: str, asked: dict[str, Any] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sse").write_bytes(sse_text(text))
    if asked is not None:
        meta = {"request": asked}
        (folder / f"{name}.meta.json").write_text(json.dumps(meta))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "fixtures"
    write_step(root, "haiku", "a haiku")
    # A sequence without recorded requests, and one (a cassette) with them.
    write_step(root / "chat", "001", "first")
    write_step(root / "chat", "002", "second")
    write_step(root / "checked", "001", "one", request("Hi"))
    write_step(root / "checked", "002", "two", request("And then?"))
    return root


async def post(
    client: httpx.AsyncClient, server: ReplayServer, body: dict[str, Any], name: str | None
) -> httpx.Response:
    headers = {FIXTURE_HEADER: name} if name is not None else {}
    return await client.post(server.url + "/v1/messages", json=body, headers=headers)


@pytest.mark.anyio
async def test_a_sequence_is_served_one_step_per_request_then_refused(source: Path) -> None:
    async with ReplayServer(source) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            replies = [await post(client, server, request("x"), "chat") for _ in range(3)]
            plain = await post(client, server, request("x"), None)
    assert [r.status_code for r in replies] == [200, 200, 400]
    assert replies[0].content == sse_text("first")
    assert replies[1].content == sse_text("second")
    message = replies[2].json()["error"]["message"]
    assert "request 3 is beyond the end" in message and "holds 2 recording(s)" in message
    assert plain.content == sse_text("a haiku")  # other names are untouched by the sequence
    assert [r.fixture for r in server.requests] == ["chat/001", "chat/002", None, "haiku"]
    assert len(server.problems) == 1 and "beyond the end" in server.problems[0]
    assert server.fixture_names == ["chat", "checked", "haiku"]


@pytest.mark.anyio
async def test_a_step_is_served_only_to_the_request_it_recorded(source: Path) -> None:
    async with ReplayServer(source) as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            first = await post(client, server, request("Hi"), "checked")
            # Key order and the gateway prefix do not matter; the body does.
            reordered = dict(reversed(list(request("And then?").items())))
            second = await client.post(
                server.url + "/gateway/v1/messages",
                json=reordered,
                headers={FIXTURE_HEADER: "checked/002"},
            )
            changed = await post(client, server, request("And then?", model="other"), "checked")
    assert first.content == sse_text("one") and second.content == sse_text("two")
    assert changed.status_code == 400
    message = changed.json()["error"]["message"]
    assert "request 2 differs from the one recorded in" in message
    assert '-  "model": "claude-haiku-4-5",' in message
    assert '+  "model": "other",' in message
    assert "--- recorded" in message and "+++ sent" in message
    assert server.problems == [message]


@pytest.mark.anyio
async def test_the_default_can_be_a_sequence(source: Path) -> None:
    async with ReplayServer(source, default="chat") as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            texts = [(await post(client, server, request("x"), None)).content for _ in range(2)]
    assert texts == [sse_text("first"), sse_text("second")]


def test_bad_catalogs_fail_when_built(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="no fixture or sequence named 'nope'"):
        ReplayServer(source, default="nope")
    write_step(source, "chat", "a fixture with a sequence's name")
    with pytest.raises(ProviderError, match="two fixtures or sequences are named 'chat'"):
        Catalog.load(source)
    only_sequences = tmp_path / "only"
    write_step(only_sequences / "chat", "001", "x")
    assert Catalog.load(only_sequences).names == ["chat"]


def test_serve_help_documents_the_header_and_sequences() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "provider", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0
    assert f"{FIXTURE_HEADER}: NAME" in result.stdout
    assert "sequence" in result.stdout and "--default" in result.stdout


def fixture_request(name: str) -> dict[str, Any]:
    meta = json.loads((ROOT / "fixtures" / f"{name}.meta.json").read_text())
    return dict(meta["request"])


@pytest.mark.anyio
async def test_the_corpus_sequence_files_serve_their_conversations() -> None:
    listed = json.loads((ROOT / "fixtures" / "sequences" / "tool_roundtrip.json").read_text())
    async with ReplayServer(ROOT / "fixtures") as server, httpx.AsyncClient() as client:
        with anyio.fail_after(TIMEOUT):
            replies = [
                await post(client, server, fixture_request(name), "tool_roundtrip")
                for name in listed
            ]
            wrong = await post(
                client, server, fixture_request(listed[0]), "tool_roundtrip/" + listed[1]
            )
    for name, reply in zip(listed, replies, strict=True):
        assert reply.status_code == 200
        assert reply.content == (ROOT / "fixtures" / f"{name}.sse").read_bytes()
    assert wrong.status_code == 400 and "differs from the one recorded" in wrong.text
    assert "tool_roundtrip" in server.fixture_names and "haiku" in server.fixture_names


def test_a_sequence_file_naming_an_unknown_fixture_fails_when_built(source: Path) -> None:
    (source / "sequences").mkdir()
    (source / "sequences" / "talk.json").write_text('["haiku", "nope"]')
    with pytest.raises(ProviderError, match=r"talk\.json: no fixture named 'nope'"):
        Catalog.load(source)
    (source / "sequences" / "talk.json").write_text('["haiku"]')
    assert Catalog.load(source).sequences["talk"].where.endswith("talk.json")
