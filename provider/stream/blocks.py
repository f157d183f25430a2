"""Open content blocks: what each block kind does with its deltas and at its end (no I/O).

The state machine keeps one ``OpenBlock`` per open index, made by the block kind's ``start``
(``STARTS``, like h11's readers: a new kind is one class and one key; any other kind is kept
whole by ``WholeBlock``). ``delta`` gives the chunk of one delta (at most one); ``stop`` that
of the block's end, or the error of tool input that is not JSON, which the machine holds until
the stop reason says whether the message was cut short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET

from ..content import RawBlock
from ..errors import ProviderError
from ..types import (
    BlockChunk,
    CitationChunk,
    MessageStreamChunk,
    RedactedThinkingChunk,
    TextChunk,
    ThinkingChunk,
    ToolInputChunk,
    ToolUseChunk,
)
from .events import ContentBlock, Delta

__all__ = ["CUT_REASONS", "STARTS", "OpenBlock", "Out", "TextState", "WholeBlock", "missing"]

# What one event turns into: nothing, one chunk, or (rarely) several.
Out = MessageStreamChunk | list[MessageStreamChunk] | None
OneChunk = MessageStreamChunk | None

_JSON_OBJECT = msgspec.json.Decoder(dict[str, Any])
# Stop reasons for which the API cuts the output wherever it is, possibly inside a tool's
# input JSON (max_tokens is the common one).
CUT_REASONS = frozenset({"max_tokens", "model_context_window_exceeded", "refusal"})
# The deltas this module names, each with its payload field; a named block kind refuses the
# ones it does not take (a text_delta for a tool_use block is a broken stream).
PAYLOADS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
    "input_json_delta": "partial_json",
    "citations_delta": "citation",
}


def missing(delta: Delta, index: int) -> ProviderError:
    field = PAYLOADS[delta.type]
    return ProviderError(
        f"invalid content_block_delta event: {delta.type} without {field} (block {index})"
    )


class OpenBlock:
    __slots__ = ("index",)
    kind = "other"

    def __init__(self, index: int) -> None:
        self.index = index

    def delta(self, delta: Delta) -> OneChunk:
        if delta.type in PAYLOADS:
            raise ProviderError(
                f"invalid content_block_delta event: {delta.type} for block {self.index}, "
                f"a {self.kind} block"
            )
        return None  # a delta kind not known yet

    def stop(self) -> OneChunk | ProviderError:
        return None


class TextState(OpenBlock):
    __slots__ = ()
    kind = "text"

    def delta(self, delta: Delta) -> OneChunk:
        if delta.type == "text_delta":
            text = delta.text
            if text:
                return TextChunk(text, self.index)
            if text is None:
                raise missing(delta, self.index)
            return None
        if delta.type == "citations_delta":
            if delta.citation is None:
                raise missing(delta, self.index)
            return CitationChunk(delta.citation, self.index)
        return OpenBlock.delta(self, delta)

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[OpenBlock, Out]:
        # The API starts text blocks empty; a gateway may not.
        out: list[MessageStreamChunk] = []
        if block.text:
            out.append(TextChunk(block.text, index))
        out += [CitationChunk(c, index) for c in block.citations or ()]
        return TextState(index), out or None


class ThinkingState(OpenBlock):
    __slots__ = ()
    kind = "thinking"

    def delta(self, delta: Delta) -> OneChunk:
        if delta.type == "thinking_delta":
            thinking = delta.thinking
            if thinking is None:
                raise missing(delta, self.index)
            return ThinkingChunk(thinking, self.index) if thinking else None
        if delta.type == "signature_delta":
            if delta.signature is None:
                raise missing(delta, self.index)
            return ThinkingChunk("", self.index, delta.signature)
        return OpenBlock.delta(self, delta)

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[OpenBlock, Out]:
        out = None
        if block.thinking or block.signature:
            out = ThinkingChunk(block.thinking or "", index, block.signature or None)
        return ThinkingState(index), out


class RedactedState(OpenBlock):
    __slots__ = ()
    kind = "redacted_thinking"

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[OpenBlock, Out]:
        if block.data is None:
            raise ProviderError(
                f"invalid content_block_start event: redacted_thinking block {index} without data"
            )
        return RedactedState(index), RedactedThinkingChunk(block.data, index)


def _input(parts: list[str], start: Any, what: str) -> dict[str, Any] | ProviderError:
    """A tool's input: its JSON pieces joined and parsed once, or the start's input if none
    came; the error (not raised) if they are not a JSON object."""
    text = "".join(parts)
    if not text.strip():
        return start if isinstance(start, dict) else {}
    try:
        value: dict[str, Any] = _JSON_OBJECT.decode(text)
    except msgspec.DecodeError as exc:
        return ProviderError(f"{what} has invalid input JSON ({exc}): {text[:100]!r}", exc)
    return value


class ToolUseState(OpenBlock):
    """A ``tool_use`` block being received: its ``input`` arrives as JSON text in pieces."""

    __slots__ = ("caller", "id", "input", "name", "parts")
    kind = "tool_use"

    def __init__(self, index: int, block: ContentBlock) -> None:
        super().__init__(index)
        self.id = block.id or ""
        self.name = block.name or ""
        self.input = block.input
        self.caller = block.caller
        self.parts: list[str] = []

    def delta(self, delta: Delta) -> OneChunk:
        if delta.type == "input_json_delta":
            piece = delta.partial_json
            if piece is None:
                raise missing(delta, self.index)
            self.parts.append(piece)
            return ToolInputChunk(piece, self.index)
        return OpenBlock.delta(self, delta)

    def stop(self) -> OneChunk | ProviderError:
        what = f"tool_use block {self.index} ({self.name!r}, id {self.id!r})"
        value = _input(self.parts, self.input, what)
        if isinstance(value, ProviderError):
            return value
        return ToolUseChunk(self.id, self.name, value, self.index, self.caller)

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[OpenBlock, Out]:
        return ToolUseState(index, block), None


class WholeBlock(OpenBlock):
    """Any other block kind, kept as the JSON object it started as and completed by its
    deltas the way a non-streaming reply holds it."""

    __slots__ = ("block", "parts")

    def __init__(self, index: int, block: dict[str, Any]) -> None:
        super().__init__(index)
        self.block = block
        self.parts: list[str] = []

    @property
    def kind(self) -> str:  # type: ignore[override]
        return str(self.block["type"])

    def delta(self, delta: Delta) -> OneChunk:
        kind = delta.type
        if kind == "input_json_delta":  # server_tool_use, mcp_tool_use …
            if delta.partial_json is None:
                raise missing(delta, self.index)
            self.parts.append(delta.partial_json)
        elif kind == "compaction_delta":
            # As the official SDK does: each compaction_delta sets the fields it carries.
            if delta.content is not UNSET:
                self.block["content"] = delta.content
            if delta.encrypted_content is not UNSET:
                self.block["encrypted_content"] = delta.encrypted_content
        # Other deltas to a kind not named here are not known to apply to it: skipped.
        return None

    def stop(self) -> OneChunk | ProviderError:
        block = self.block
        if self.parts:
            what = f"{block['type']} block {self.index}"
            value = _input(self.parts, block.get("input"), what)
            if isinstance(value, ProviderError):
                return value
            block["input"] = value
        return BlockChunk(RawBlock(block), self.index)


STARTS: dict[str, Callable[[int, ContentBlock], tuple[OpenBlock, Out]]] = {
    "text": TextState.start,
    "thinking": ThinkingState.start,
    "redacted_thinking": RedactedState.start,
    "tool_use": ToolUseState.start,
}
