"""AnthropicProvider.complete: the whole reply as an AssistantTurn, over recorded fixtures."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import httpx
import msgspec
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    OverloadedError,
    ProviderConfig,
    ThinkingBlock,
    ToolResultBlock,
    TurnAccumulator,
    collect,
)
from provider.replay import ReplayTransport

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
pytestmark = pytest.mark.anyio


def provider_for(client: httpx.AsyncClient) -> AnthropicProvider:
    config = ProviderConfig(
        model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"], api_key="sk-ant-t"
    )
    return AnthropicProvider(config, http_client=client, max_retries=0)


def signatures(body: bytes) -> list[str]:
    return [
        json.loads(line[5:])["delta"]["signature"]
        for line in body.decode().splitlines()
        if line.startswith("data:") and "signature_delta" in line
    ]


async def test_a_thinking_turn_keeps_its_signature_for_the_next_request() -> None:
    path = FIXTURES / "thinking.sse"
    async with httpx.AsyncClient(transport=ReplayTransport(path)) as client:
        turn = await provider_for(client).complete("sys", [Message("user", "hi")])
    assert turn.complete
    thinking = [b for b in turn.message.content if isinstance(b, ThinkingBlock)]
    assert [b.signature for b in thinking] == signatures(path.read_bytes())
    assert turn.id.startswith("msg_01")
    assert turn.usage.output_tokens > 0
    # The turn goes back into the history as the API's JSON, signature included.
    sent = json.loads(msgspec.json.encode([Message("user", "hi"), turn.message]))
    assert sent[1]["content"][0]["signature"] == signatures(path.read_bytes())[0]


async def test_a_tool_turn_gives_the_calls_to_answer() -> None:
    async with httpx.AsyncClient(transport=ReplayTransport(FIXTURES / "tool_use.sse")) as client:
        turn = await provider_for(client).complete("sys", [Message("user", "hi")])
    assert turn.stop_reason == "tool_use"
    assert turn.tool_uses
    answer = Message("user", [ToolResultBlock(u.id, "ok") for u in turn.tool_uses])
    assert [b.tool_use_id for b in answer.content] == [u.id for u in turn.tool_uses]  # type: ignore[union-attr]


async def test_a_max_tokens_stop_inside_a_tool_block() -> None:
    path = FIXTURES / "tool_cut_max_tokens.sse"
    async with httpx.AsyncClient(transport=ReplayTransport(path, chunk_size=7)) as client:
        turn = await provider_for(client).complete("sys", [Message("user", "hi")])
    assert turn.stop_reason == "max_tokens"
    assert turn.tool_uses == []
    assert not turn.complete
    assert turn.text == "I'll write the packing list to a file called packing.txt."
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (388, 64)


async def test_a_mid_stream_error_raises_and_the_partial_turn_is_kept() -> None:
    path = FIXTURES / "midstream_overloaded.sse"
    async with httpx.AsyncClient(transport=ReplayTransport(path)) as client:
        p = provider_for(client)
        with pytest.raises(OverloadedError):
            await p.complete("sys", [Message("user", "hi")])
        acc = TurnAccumulator()
        with pytest.raises(OverloadedError):
            await collect(p.create_message("sys", [Message("user", "hi")]), acc)
    turn = acc.turn()
    assert not turn.complete
    assert turn.text  # the text that arrived before the error


SEQUENCES = sorted((FIXTURES / "sequences").glob("*.json"))


@pytest.mark.parametrize("sequence", SEQUENCES, ids=[p.stem for p in SEQUENCES])
async def test_the_next_request_of_a_sequence_carries_the_turn_byte_for_byte(
    sequence: Path,
) -> None:
    names = json.loads(sequence.read_text())
    for first, second in itertools.pairwise(names):
        path = FIXTURES / f"{first}.sse"
        async with httpx.AsyncClient(transport=ReplayTransport(path, chunk_size=11)) as client:
            turn = await provider_for(client).complete("sys", [Message("user", "hi")])
        request = json.loads((FIXTURES / f"{second}.meta.json").read_text())["request"]
        sent = [m for m in request["messages"] if m["role"] == "assistant"][-1]
        assert json.loads(msgspec.json.encode(turn.message)) == sent
        assert turn.complete
