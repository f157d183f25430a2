"""An agent: extended thinking, a server tool (web search) and a client tool (a forecast), over
as many turns as it takes, with each turn's cost and the running total.

    python examples/agent.py ["your question"]

With ANTHROPIC_API_KEY set it asks the real API (or the gateway at ANTHROPIC_BASE_URL). Without a
key it runs offline, against the recorded conversation: a loopback ``provider serve`` of
``fixtures/`` answering with the sequence ``fixtures/sequences/agent.json``, one recording per
request, each served only to the very request it answers. So the second request must carry the
first turn back exactly (its thinking block with the signature, byte for byte, the web search
blocks, the tool call) followed by the tool's result; anything else gets a 400 with the diff.
The same runs against a server of your own:

    provider serve fixtures --port 8001 --default agent &
    ANTHROPIC_API_KEY=sk-ant-dummy ANTHROPIC_BASE_URL=http://127.0.0.1:8001 python examples/agent.py

The loop is the whole technique: append ``turn.message`` as it came (the API checks the thinking
signature when tools and thinking are combined, and wants server-tool blocks back unchanged),
answer each of ``turn.tool_uses`` with a ``ToolResultBlock``, and stop when the model stops
asking. The cost of the conversation is the sum of its turns' costs (each request is priced on
its own).
"""

from __future__ import annotations

import os
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any, TextIO

import anyio
import msgspec

from provider import (
    MODELS,
    AnthropicProvider,
    AssistantTurn,
    BlockChunk,
    Message,
    ProviderConfig,
    RequestOptions,
    TextChunk,
    Thinking,
    ThinkingChunk,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
    ToolUseChunk,
    TurnAccumulator,
)

MODEL = "claude-sonnet-4-5"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SYSTEM = "You are a travel assistant. Today is Friday 4 December 2026."
QUESTION = (
    "I'm in Lyon tomorrow. Is anything big on in the city this weekend, "
    "and what will the weather be like?"
)
WEATHER = Tool(
    "get_weather",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City and country"},
            "date": {"type": "string", "description": "YYYY-MM-DD"},
        },
        "required": ["location", "date"],
    },
    description="The weather forecast for a place and a date.",
)
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
OPTIONS = RequestOptions(
    max_tokens=4096,
    tools=[WEATHER],
    server_tools=[WEB_SEARCH],
    thinking=Thinking(budget_tokens=2048),
)
# A stand-in forecast service: an example has no weather API of its own.
FORECASTS = {
    ("Lyon, France", "2026-12-05"): (
        "Saturday 5 December, Lyon: 4 °C, light rain in the afternoon, dry from 5 pm."
    ),
}


def run_tool(call: ToolUseBlock) -> ToolResultBlock:
    """Run one client tool call and answer it."""
    if call.name != "get_weather":
        return ToolResultBlock(call.id, f"unknown tool {call.name!r}", is_error=True)
    place, date = str(call.input.get("location")), str(call.input.get("date"))
    forecast = FORECASTS.get((place, date), f"No forecast for {place} on {date}.")
    return ToolResultBlock(call.id, forecast)


def show(chunk: Any, out: TextIO, err: TextIO) -> None:
    """The reply on ``out`` as it streams; thinking and tool activity on ``err``."""
    if isinstance(chunk, TextChunk):
        out.write(chunk.text)
        out.flush()
    elif isinstance(chunk, ThinkingChunk) and chunk.thinking:
        err.write(chunk.thinking)
    elif isinstance(chunk, ToolUseChunk):
        err.write(f"\n[{chunk.name} {_json(chunk.input)}]\n")
    elif isinstance(chunk, BlockChunk) and chunk.block.type == "server_tool_use":
        err.write(f"\n[{chunk.block['name']} {_json(chunk.block['input'])}]\n")


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def run_agent(
    provider: AnthropicProvider,
    question: str = QUESTION,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    max_turns: int = 10,
) -> list[AssistantTurn]:
    """Run the conversation to its end; returns the assistant's turns."""
    history = [Message("user", question)]
    turns: list[AssistantTurn] = []
    total = 0.0
    while len(turns) < max_turns:
        acc = TurnAccumulator()
        stream = provider.create_message(SYSTEM, history, options=OPTIONS)
        async with aclosing(stream):
            async for chunk in stream:
                acc.add(chunk)
                show(chunk, out, err)
        turn = acc.turn()
        turns.append(turn)
        cost = provider.calculate_cost(turn.usage)
        total += cost
        u = turn.usage
        out.write("\n")
        err.write(
            f"[turn {len(turns)}: {u.input_tokens} in, {u.output_tokens} out, "
            f"{u.web_search_requests} web search(es): ${cost:.6f}; total ${total:.6f}]\n"
        )
        if not turn.complete:  # cut short (max_tokens inside a block): do not build on it
            err.write(f"[stopped: the turn is incomplete ({turn.stop_reason})]\n")
            break
        history.append(turn.message)  # as it came: signatures and server-tool blocks unchanged
        if turn.stop_reason == "pause_turn":
            continue  # the API paused its own tool loop: sending the turn back resumes it
        if turn.stop_reason != "tool_use":
            break
        history.append(Message("user", [run_tool(call) for call in turn.tool_uses]))
    return turns


async def main(question: str) -> None:
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        config = ProviderConfig(model_id=MODEL, model_info=MODELS[MODEL])
        async with AnthropicProvider(config) as provider:
            await run_agent(provider, question)
        return
    from provider.serve import ReplayServer

    print("No API key: replaying fixtures/sequences/agent.json offline.\n", file=sys.stderr)
    async with ReplayServer(FIXTURES, default="agent") as server:
        config = ProviderConfig(
            model_id=MODEL, model_info=MODELS[MODEL], api_key="sk-ant-offline", base_url=server.url
        )
        async with AnthropicProvider(config) as provider:
            await run_agent(provider, question)


if __name__ == "__main__":
    anyio.run(main, " ".join(sys.argv[1:]) or QUESTION)
