"""``examples/agent.py`` (issue 11): the two-turn agent against a loopback ``provider serve`` of the
fixture sequence ``agent``. Its second request carries the first turn back exactly (the thinking
block with its signature, byte for byte, then the web search blocks, the text and the tool call),
then the user's tool result; it prints the reply and the running cost."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from provider import MODELS, AnthropicProvider, ProviderConfig
from provider.fixtures import load_fixture
from provider.serve import ReplayServer

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
AGENT = ROOT / "examples" / "agent.py"
KEY = "sk-ant-agent-example-test"


def load_agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_example", AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded_events(name: str) -> list[dict[str, Any]]:
    body = (FIXTURES / name).read_text()
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


def signature() -> str:
    """The signature as the API streamed it in turn 1 (its one signature_delta)."""
    (value,) = [
        e["delta"]["signature"]
        for e in recorded_events("agent_1.sse")
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "signature_delta"
    ]
    assert isinstance(value, str) and len(value) > 100
    return value


def texts(name: str) -> str:
    expect = load_fixture(FIXTURES / name).expect
    assert expect is not None and expect.text is not None
    return expect.text


async def test_the_second_request_carries_the_thinking_block_the_tool_call_then_the_result() -> (
    None
):
    agent = load_agent()
    out, err = io.StringIO(), io.StringIO()
    async with ReplayServer(FIXTURES, default="agent") as server:
        config = ProviderConfig(
            model_id="claude-sonnet-4-5",
            model_info=MODELS["claude-sonnet-4-5"],
            api_key=KEY,
            base_url=server.url,
        )
        async with AnthropicProvider(config) as provider:
            with anyio.fail_after(30):
                turns = await agent.run_agent(provider, out=out, err=err)
    assert server.problems == []  # each request was the one its recording answers
    assert [t.stop_reason for t in turns] == ["tool_use", "end_turn"]
    assert all(t.complete for t in turns)
    first, second = (request.json for request in server.requests)
    assert first == load_fixture(FIXTURES / "agent_1.sse").request
    assert second == load_fixture(FIXTURES / "agent_2.sse").request

    question, assistant, results = second["messages"]
    assert question == first["messages"][0]
    thinking_text = load_fixture(FIXTURES / "agent_1.sse").expect.thinking  # type: ignore[union-attr]
    blocks = assistant["content"]
    assert assistant["role"] == "assistant"
    assert blocks[0] == {"type": "thinking", "thinking": thinking_text, "signature": signature()}
    assert [b["type"] for b in blocks[1:3]] == ["server_tool_use", "web_search_tool_result"]
    assert blocks[-1] == {
        "type": "tool_use",
        "id": "toolu_019yxp0Lbb9Vs2IIhGcPaDMQ",
        "name": "get_weather",
        "input": {"location": "Lyon, France", "date": "2026-12-05"},
    }
    assert results == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_019yxp0Lbb9Vs2IIhGcPaDMQ",
                "content": "Saturday 5 December, Lyon: 4 °C, light rain in the afternoon, "
                "dry from 5 pm.",
            }
        ],
    }
    # The running cost, by hand: $3 / $15 per million, plus $10 per 1,000 web searches.
    one = (9846 * 3 + 436 * 15) / 1e6 + 10 / 1000
    two = (10394 * 3 + 71 * 15) / 1e6
    lines = [line for line in err.getvalue().splitlines() if line.startswith("[turn ")]
    assert lines == [
        f"[turn 1: 9846 in, 436 out, 1 web search(es): ${one:.6f}; total ${one:.6f}]",
        f"[turn 2: 10394 in, 71 out, 0 web search(es): ${two:.6f}; total ${one + two:.6f}]",
    ]
    assert out.getvalue() == f"{texts('agent_1.sse')}\n{texts('agent_2.sse')}\n"


async def test_the_example_runs_offline_as_a_script_without_a_key() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    with anyio.fail_after(60):
        result = await anyio.run_process(
            [sys.executable, str(AGENT)], check=False, env=env, cwd=ROOT
        )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == f"{texts('agent_1.sse')}\n{texts('agent_2.sse')}\n"
    err = result.stderr.decode()
    assert err.startswith("No API key: replaying fixtures/sequences/agent.json offline.\n")
    assert '[web_search {"query":"Lyon events this weekend December 2026"}]' in err
    assert "total $0.078325]" in err
