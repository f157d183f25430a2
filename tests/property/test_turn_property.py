"""The assembled turn of every recorded stream, at byte splits hypothesis chooses.

Three views of the same bytes must agree:

1. ``TurnAccumulator`` over the chunks ``ChunkDecoder`` gives for the bytes fed in pieces:
   ``msgspec.json.encode(turn.message)``, ``turn.usage``;
2. ``plain_fold``: the assistant message rebuilt from the events with nothing but ``json`` and
   dicts (the block as it started, its deltas applied), and the last cumulative usage;
3. the official SDK's ``MessageStream`` accumulation of the same bytes (through an httpx2
   ``MockTransport``), on text, thinking, signatures and tool inputs.

The fold applies the turn's documented omissions (see ``provider/turn.py``) itself: empty text
blocks, empty ``citations`` lists, unsigned empty thinking, and tool blocks whose input never
came whole are left out.

The streams: every ``.sse`` fixture, and the recordings in /work/shared/real-streams when
present (they are not part of the repository).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import warnings
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider import ProviderError, RawBlock, ThinkingBlock, TurnAccumulator
from provider.stream import ChunkDecoder
from provider.turn import AssistantTurn

ROOT = Path(__file__).resolve().parents[2]
REAL_DIR = Path("/work/shared/real-streams")
STREAMS = sorted((ROOT / "fixtures").glob("*.sse")) + (
    sorted(REAL_DIR.glob("*.sse")) if REAL_DIR.is_dir() else []
)
IDS = [f"{p.parent.name}/{p.name}" for p in STREAMS]
# What the SDK cannot read at all (see tests/integration/test_sdk_differential.py).
SDK_CANNOT_READ = {"bom.sse", "gateway_data_only.sse"}

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the independent fold: str methods, json and dicts only --------------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")


def events_of(body: bytes) -> list[dict[str, Any]]:
    """Each event's JSON data, per the SSE line rules; a trailing partial event is dropped."""
    text = body.decode("utf-8").removeprefix("\ufeff")
    out: list[dict[str, Any]] = []
    data: list[str] = []
    for line in _LINE_END.split(text):
        if line == "":
            if data:
                out.append(json.loads("\n".join(data)))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return out


def plain_fold(body: bytes) -> tuple[dict[str, Any], dict[str, int], bool]:
    """(the assistant message as JSON, the final usage, whether the stream had an error)."""
    blocks: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] = {}
    one_hour = searches = 0
    failed = False
    for event in events_of(body):
        kind = event["type"]
        if kind in ("message_start", "message_delta"):
            reported = event["message"]["usage"] if kind == "message_start" else event["usage"]
            usage.update({k: v for k, v in (reported or {}).items() if v is not None})
            one_hour = ((reported or {}).get("cache_creation") or {}).get(
                "ephemeral_1h_input_tokens", one_hour
            )
            server = (reported or {}).get("server_tool_use") or {}
            searches = server.get("web_search_requests", searches)
        elif kind == "content_block_start":
            blocks[event["index"]] = {
                "block": dict(event["content_block"]),
                "parts": [],
                "stopped": False,
                "signed": bool(event["content_block"].get("signature")),
            }
        elif kind == "content_block_delta":
            entry = blocks[event["index"]]
            block, delta = entry["block"], event["delta"]
            dtype = delta["type"]
            if dtype == "text_delta":
                block["text"] += delta["text"]
            elif dtype == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif dtype == "signature_delta":
                block["signature"] = delta["signature"]
                entry["signed"] = True
            elif dtype == "citations_delta":
                block["citations"] = [*(block.get("citations") or []), delta["citation"]]
            elif dtype == "input_json_delta":
                entry["parts"].append(delta["partial_json"])
            elif dtype == "compaction_delta":
                for key in ("content", "encrypted_content"):
                    if key in delta:
                        block[key] = delta[key]
        elif kind == "content_block_stop":
            blocks[event["index"]]["stopped"] = True
        elif kind == "error":
            failed = True
            break
        elif kind == "message_stop":
            break
    content = [b for b in (finish(blocks[i]) for i in sorted(blocks)) if b is not None]
    final = {
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "cache_write_tokens": usage.get("cache_creation_input_tokens", 0),
        "cache_read_tokens": usage.get("cache_read_input_tokens", 0),
        "cache_write_1h_tokens": one_hour or 0,
        "web_search_requests": searches or 0,
    }
    return {"role": "assistant", "content": content}, final, failed


def finish(entry: dict[str, Any]) -> dict[str, Any] | None:
    block = entry["block"]
    kind = block["type"]
    if kind == "text":
        if not block["text"]:
            return None
        if not block.get("citations"):
            block.pop("citations", None)
        return block
    if kind == "thinking":
        if not block["thinking"] and not entry["signed"]:
            return None
        block.setdefault("signature", "")
        return block
    if kind == "redacted_thinking":
        return block
    # Tool calls and every other kind: only when the block ended, with input that is JSON.
    if not entry["stopped"]:
        return None
    joined = "".join(entry["parts"])
    if joined.strip():
        try:
            value = json.loads(joined)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        block["input"] = value
    elif kind == "tool_use" and not isinstance(block.get("input"), dict):
        block["input"] = {}
    if kind == "tool_use" and block.get("caller") is None:
        block.pop("caller", None)
    return block


# --- provider, fed in pieces -----------------------------------------------------------------


def provider_turn(body: bytes, cuts: list[int]) -> tuple[AssistantTurn, ProviderError | None]:
    decoder = ChunkDecoder()
    acc = TurnAccumulator()
    bounds = [0, *sorted(set(cuts)), len(body)]
    error: ProviderError | None = None
    try:
        for a, b in itertools.pairwise(bounds):
            for chunk in decoder.feed(body[a:b]):
                acc.add(chunk)
            if decoder.error is not None:
                raise decoder.error
        for chunk in decoder.close():
            acc.add(chunk)
    except ProviderError as exc:
        error = exc
        acc.fail()
    return acc.turn(), error


# --- the official SDK (a test oracle only) ---------------------------------------------------


@functools.cache
def sdk_view(path: Path) -> dict[str, Any] | None:
    anthropic = pytest.importorskip("anthropic")
    httpx2 = pytest.importorskip("httpx2")
    body = path.read_bytes()

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with httpx2.Client(transport=httpx2.MockTransport(handler)) as http:
            client = anthropic.Anthropic(
                api_key="sk-ant-test", base_url="http://oracle.invalid", http_client=http
            )
            stream = client.messages.stream(
                model="claude-sonnet-4-5",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
            )
            try:
                with stream as s:
                    message = s.get_final_message()
            except anthropic.APIError:
                return None  # an error event: nothing final to compare
    return {
        "text": "".join(b.text for b in message.content if b.type == "text"),
        "thinking": "".join(b.thinking for b in message.content if b.type == "thinking"),
        "signatures": [b.signature for b in message.content if b.type == "thinking"],
        "inputs": {
            b.id: b.input
            for b in message.content
            if b.type in ("tool_use", "server_tool_use", "mcp_tool_use")
        },
    }


def view_of(turn: AssistantTurn) -> dict[str, Any]:
    blocks = turn.message.content
    thinking = [b for b in blocks if isinstance(b, ThinkingBlock)]
    return {
        "text": turn.text,
        "thinking": "".join(b.thinking for b in thinking),
        "signatures": [b.signature for b in thinking],
        "inputs": {
            **{u.id: u.input for u in turn.tool_uses},
            **{b["id"]: b["input"] for b in blocks if isinstance(b, RawBlock) and "input" in b},
        },
    }


# --- the property ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", STREAMS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_the_turn_is_the_plain_fold_and_agrees_with_the_sdk(
    path: Path, data: st.DataObject
) -> None:
    body = path.read_bytes()
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12), label="cuts")
    turn, error = provider_turn(body, cuts)
    message, usage, failed = plain_fold(body)

    assert (error is not None) == failed
    assert json.loads(msgspec.json.encode(turn.message)) == message
    assert msgspec.structs.asdict(turn.usage) == usage
    assert turn.complete == (not failed and all_blocks_kept(body, message))
    assert turn.stop_reason is not None or failed

    if path.name in SDK_CANNOT_READ:
        return
    sdk = sdk_view(path)
    if sdk is None:
        assert failed
        return
    ours = view_of(turn)
    assert ours["text"] == sdk["text"]
    assert ours["thinking"] == sdk["thinking"]
    assert ours["signatures"] == sdk["signatures"]
    for tool_id, value in ours["inputs"].items():
        assert sdk["inputs"][tool_id] == value
    # The SDK keeps a call cut short (with partial input); the turn leaves it out and says so.
    if set(sdk["inputs"]) != set(ours["inputs"]):
        assert not turn.complete


def all_blocks_kept(body: bytes, message: dict[str, Any]) -> bool:
    """False when a tool (or other whole) block was left out because it never came whole."""
    started = [
        e["content_block"]["type"] for e in events_of(body) if e["type"] == "content_block_start"
    ]
    streamed = ("text", "thinking", "redacted_thinking")
    whole = [k for k in started if k not in streamed]
    return len(whole) == len([b for b in message["content"] if b["type"] not in streamed])


def test_the_corpus_has_every_kind_of_turn() -> None:
    kinds: set[str] = set()
    for path in STREAMS:
        for block in plain_fold(path.read_bytes())[0]["content"]:
            kinds.add(block["type"])
    assert {"text", "thinking", "tool_use"} <= kinds
    if REAL_DIR.is_dir():
        assert {"server_tool_use", "web_search_tool_result"} <= kinds
