"""The README's "Conversations" examples run as written (issues 10 and 11): each block is run as a
script, offline, with ``ANTHROPIC_BASE_URL`` at a loopback server that answers with the fixtures
its ``<!-- replayed from: … -->`` line names, in order. Each prints what the recordings say it
should, and where a recording holds the request it answers, the example sent exactly that
request (so the recordings and the examples describe the same conversation)."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from provider.fixtures import Fixture, load_fixture
from provider.stream import ChunkDecoder
from provider.types import CitationChunk, TextChunk
from tests.gateway_support import Reply, ScriptedUpstream

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
README = ROOT / "README.md"
KEY = "sk-ant-readme-conversations"
COUNT = 1234
_EXAMPLE = re.compile(r"<!-- replayed from: ([\w, ]+) -->\n```python\n(.*?)```", re.S)


def _section() -> str:
    text = README.read_text()
    start = text.index("\n## Conversations\n")
    return text[start : text.index("\n## ", start + 1)]


EXAMPLES = [
    ([name.strip() for name in names.split(",")], code)
    for names, code in _EXAMPLE.findall(_section())
]


def fixture(name: str) -> Fixture:
    return load_fixture(FIXTURES / f"{name}.sse")


def fixture_expect(name: str) -> Any:
    expect = fixture(name).expect
    assert expect is not None
    return expect


def text(name: str) -> str:
    value = fixture_expect(name).text
    assert isinstance(value, str)
    return value


def cost(name: str) -> float:
    """Sonnet 4.5 by hand: $3 in, $15 out, $3.75 5-minute writes, $6 1-hour writes, $0.30 reads
    per million tokens."""
    u = fixture_expect(name).usage
    five_minute = u.cache_write_tokens - u.cache_write_1h_tokens
    return (
        u.input_tokens * 3
        + u.output_tokens * 15
        + five_minute * 3.75
        + u.cache_write_1h_tokens * 6
        + u.cache_read_tokens * 0.3
    ) / 1e6


def cited_pdf() -> str:
    shown = []
    decoder = ChunkDecoder()
    for chunk in [*decoder.feed((FIXTURES / "pdf_citations.sse").read_bytes()), *decoder.close()]:
        if isinstance(chunk, TextChunk):
            shown.append(chunk.text)
        elif isinstance(chunk, CitationChunk):
            c = chunk.citation
            shown.append(f" [p. {c['start_page_number']}: {c['cited_text']!r}]")
    assert len(shown) > len(text("pdf_citations").split("\n"))  # some citations were shown
    return "".join(shown) + "\n"


def haiku_twice() -> str:
    u = fixture_expect("haiku").usage
    poem = text("haiku")
    total = f"{2 * u.input_tokens} in, {2 * u.output_tokens} out, ${2 * cost('haiku'):.6f}"
    return f"{poem}\n{poem}\n{total}\n"


EXPECTED: dict[str, Callable[[], str]] = {
    "image_question": lambda: text("image_question") + "\n",
    "pdf_citations": cited_pdf,
    "prompt_caching": lambda: (
        f"{text('prompt_caching')}\ncache: wrote 3840 (2304 for 1h), read 10240; "
        f"${cost('prompt_caching'):.6f}\n"
    ),
    "tool_roundtrip_1": lambda: (
        f"{text('tool_roundtrip_1')}\n{text('tool_roundtrip_2')}\n"
        f"${cost('tool_roundtrip_1') + cost('tool_roundtrip_2'):.6f} in 2 turns\n"
    ),
    "thinking": lambda: (
        f"{fixture_expect('thinking').thinking}{text('thinking')}\n"
        "1 signed thinking block, stop: end_turn\n"
    ),
    "stop_sequence": lambda: f"{text('stop_sequence')}\nstop_sequence '\\n4.'\n",
    "count_tokens": lambda: f"{COUNT}\n",
    "haiku": haiku_twice,
}


def reply(name: str) -> Reply:
    if name == "count_tokens":
        return Reply(200, [("content-type", "application/json")], b'{"input_tokens": %d}' % COUNT)
    recording = fixture(name)
    return Reply(recording.status, list(recording.headers.items()), recording.body)


def inputs(directory: Path) -> None:
    """The files the examples read: the image and the PDF their recordings were made with."""

    def source(name: str) -> bytes:
        request = fixture(name).request
        assert isinstance(request, dict)
        data: str = request["messages"][0]["content"][0]["source"]["data"]
        return base64.b64decode(data)

    (directory / "photo.png").write_bytes(source("image_question"))
    (directory / "warranty.pdf").write_bytes(source("pdf_citations"))
    (directory / "contract.txt").write_text(
        "4.2 Either party may end this contract at 90 days' notice.\n"
    )


def test_the_section_has_every_example_the_issues_ask_for() -> None:
    names = [names[0] for names, _ in EXAMPLES]
    assert names == list(EXPECTED)
    code = "".join(code for _, code in EXAMPLES)
    for name in ("ImageBlock", "DocumentBlock", "Citations()", "CacheControl(", "ToolResultBlock",
                 "turn.tool_uses", "Thinking(", "count_tokens", "collect(", "p.complete(",
                 "usage + turn.usage", "stop_sequences=", "temperature="):  # fmt: skip
        assert name in code, name


@pytest.mark.parametrize(("names", "code"), EXAMPLES, ids=[n[0] for n, _ in EXAMPLES])
async def test_the_example_runs_offline_and_prints_what_the_recording_says(
    tmp_path: Path, names: list[str], code: str
) -> None:
    inputs(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    async with ScriptedUpstream([reply(name) for name in names]) as upstream:
        env.update(ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=upstream.url)
        with anyio.fail_after(30):
            result = await anyio.run_process(
                [sys.executable, "-c", code], check=False, env=env, cwd=tmp_path
            )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert result.stdout.decode() == EXPECTED[names[0]]()
    assert len(upstream.seen) == len(names)
    for name, seen in zip(names, upstream.seen, strict=True):
        assert seen.headers["x-api-key"] == KEY
        sent = json.loads(seen.body)
        if name == "count_tokens":
            assert seen.target == "/v1/messages/count_tokens"
            assert "max_tokens" not in sent and "stream" not in sent
            continue
        recorded = fixture(name).request
        if recorded is not None:
            assert sent == recorded, name  # the very request the recording answers
    if names == ["haiku", "haiku"]:
        second = json.loads(upstream.seen[1].body)["messages"]
        assert second == [
            {"role": "user", "content": "Write a haiku about streaming."},
            {"role": "assistant", "content": [{"type": "text", "text": text("haiku")}]},
            {"role": "user", "content": "Another one, please."},
        ]
