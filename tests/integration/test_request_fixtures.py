"""Every recorded conversation request (the ``request`` of a fixture's sidecar: image, PDF,
tools, thinking, server tools, cache breakpoints) can be written with this library's names,
and then encodes to exactly that JSON body: the contract expresses what real conversations send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from provider import Message, RequestOptions, Thinking, Tool, ToolChoice
from provider.content import TextBlock
from provider.fixtures import fixture_paths, load_fixture
from provider.request import encode_body

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LOADED = [load_fixture(path) for path in fixture_paths(FIXTURES)]
REQUESTS = {f.name: f.request for f in LOADED if f.request is not None}


def options_of(request: dict[str, Any]) -> RequestOptions:
    """The RequestOptions a caller writes for this body (each field by its own name)."""
    fields: dict[str, Any] = {}
    if "thinking" in request:
        fields["thinking"] = Thinking(**request["thinking"])
    if "tool_choice" in request:
        fields["tool_choice"] = ToolChoice(**request["tool_choice"])
    tools = request.get("tools", [])
    client = [i for i, t in enumerate(tools) if "input_schema" in t]
    if client != list(range(len(client))):
        # RequestOptions sends tools, then server_tools: another order goes through
        # extra_body, as the whole list.
        fields["extra_body"] = {"tools": tools}
    else:
        fields["tools"] = [Tool(**t) for t in tools if "input_schema" in t] or None
        fields["server_tools"] = [t for t in tools if "input_schema" not in t] or None
    for name in ("temperature", "top_p", "top_k", "stop_sequences", "service_tier"):
        if name in request:
            fields[name] = request[name]
    if "metadata" in request:
        fields["user_id"] = request["metadata"]["user_id"]
    return RequestOptions(max_tokens=request["max_tokens"], **fields)


def test_there_are_conversation_requests() -> None:
    assert len(REQUESTS) >= 8


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_recorded_request_is_expressible_and_encodes_to_the_same_body(name: str) -> None:
    request = REQUESTS[name]
    assert request is not None
    known = {"model", "max_tokens", "system", "messages", "stream", "tools", "thinking"}
    known |= {"tool_choice", "temperature", "top_p", "top_k", "stop_sequences", "metadata"}
    assert set(request) <= known | {"service_tier"}, "a field RequestOptions does not name"
    system = request.get("system", "")
    if not isinstance(system, str):
        system = [msgspec.convert(block, TextBlock) for block in system]
    messages = msgspec.json.decode(json.dumps(request["messages"]), type=list[Message])
    body = encode_body(request["model"], 1, system, messages, options_of(request))
    assert json.loads(body) == request
