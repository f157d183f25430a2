"""The stream state machine (wire events in, chunks out) and ChunkDecoder (bytes in, chunks out).

Both are sans-I/O. ``StreamMachine`` checks the order of events and turns them into the
public chunks; ``ChunkDecoder`` puts the SSE framer, the wire-event decoders and the machine
together for the HTTP shell (its docstring shows the loop).

Chunks (every block chunk carries its block's ``index``):

- ``StartChunk`` (id, model) at ``message_start``, before its UsageChunk.
- ``TextChunk`` / ``ThinkingChunk`` for each non-empty ``text_delta`` / ``thinking_delta`` (and
  for the rare block that starts with non-empty text); a ``ThinkingChunk`` with
  ``thinking=""`` and the ``signature`` at each ``signature_delta``; a ``CitationChunk`` at each
  ``citations_delta``; a ``RedactedThinkingChunk`` at a ``redacted_thinking`` block's start.
- a ``ToolInputChunk`` per ``input_json_delta`` of a ``tool_use`` block, and one
  ``ToolUseChunk`` at its ``content_block_stop`` once its input is complete JSON.
- a ``BlockChunk`` at the end of any other block kind (server tools, their results,
  compaction, kinds not known yet): the block as a non-streaming reply holds it.
- ``UsageChunk``: exactly one at ``message_start`` and one at every ``message_delta``, even when
  the increase is zero, each carrying the increase over the previous one, so that their sum
  is the message's final usage. (An increase can be negative only if a gateway reports a
  cumulative count lower than an earlier one; the sum stays exact.)
- ``StopChunk`` at a ``message_delta`` that carries a ``stop_reason``, after its UsageChunk;
  its ``cut_blocks`` are the indexes of the blocks that stop left unfinished (see below).

A message cut short (``max_tokens`` and the like) can leave a tool block with input that is
not complete JSON, or never closed: it gets no ToolUseChunk (or BlockChunk), and no error,
since nothing is wrong with the stream; the StopChunk names it in ``cut_blocks``. Input that
is not JSON in a message that was not cut is an error, raised at the ``message_delta`` that
says so, before its StopChunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET

from ..content import RawBlock
from ..errors import NetworkError, ProviderError, error_for
from ..types import (
    BlockChunk,
    CitationChunk,
    MessageStreamChunk,
    RedactedThinkingChunk,
    StartChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolInputChunk,
    ToolUseChunk,
    UsageChunk,
)
from .events import (
    DECODE_ERRORS,
    DECODERS,
    ContentBlock,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    Delta,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    Usage,
    WireEvent,
    bad_event,
    decode_event,
)
from .sse import DEFAULT_MAX_EVENT_SIZE, SSEEvent, SSEFramer

__all__ = ["ChunkDecoder", "StreamMachine"]

# What one event turns into: nothing, one chunk, or (rarely) several.
_Out = MessageStreamChunk | list[MessageStreamChunk] | None
_Chunk = MessageStreamChunk | None

_BEFORE, _STREAMING, _DONE = 0, 1, 2
_JSON_OBJECT = msgspec.json.Decoder(dict[str, Any])
_DECODE_DELTA = DECODERS["content_block_delta"].decode
# Stop reasons for which the API cuts the output wherever it is, possibly inside a tool's
# input JSON (max_tokens is the common one).
CUT_REASONS = frozenset({"max_tokens", "model_context_window_exceeded", "refusal"})
# The deltas this module names, each with its payload field; a named block kind refuses the
# ones it does not take (a text_delta for a tool_use block is a broken stream).
_PAYLOADS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
    "input_json_delta": "partial_json",
    "citations_delta": "citation",
}


def _missing(delta: Delta, index: int) -> ProviderError:
    field = _PAYLOADS[delta.type]
    return ProviderError(
        f"invalid content_block_delta event: {delta.type} without {field} (block {index})"
    )


# Open blocks: one small class per block kind, picked by the block's type (the default keeps
# any other kind whole). ``delta`` gives the chunk of one delta (at most one); ``stop`` that of
# the end,
# or the error of input that is not JSON (which is held until the stop reason is known).


class _Block:
    __slots__ = ("index",)
    kind = "other"

    def __init__(self, index: int) -> None:
        self.index = index

    def delta(self, delta: Delta) -> _Chunk:
        if delta.type in _PAYLOADS:
            raise ProviderError(
                f"invalid content_block_delta event: {delta.type} for block {self.index}, "
                f"a {self.kind} block"
            )
        return None  # a delta kind not known yet

    def stop(self) -> _Chunk | ProviderError:
        return None


class _Text(_Block):
    __slots__ = ()
    kind = "text"

    def delta(self, delta: Delta) -> _Chunk:
        if delta.type == "text_delta":
            text = delta.text
            if text:
                return TextChunk(text, self.index)
            if text is None:
                raise _missing(delta, self.index)
            return None
        if delta.type == "citations_delta":
            if delta.citation is None:
                raise _missing(delta, self.index)
            return CitationChunk(delta.citation, self.index)
        return _Block.delta(self, delta)

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[_Block, _Out]:
        # The API starts text blocks empty; a gateway may not.
        out: list[MessageStreamChunk] = []
        if block.text:
            out.append(TextChunk(block.text, index))
        out += [CitationChunk(c, index) for c in block.citations or ()]
        return _Text(index), out or None


class _Thinking(_Block):
    __slots__ = ()
    kind = "thinking"

    def delta(self, delta: Delta) -> _Chunk:
        if delta.type == "thinking_delta":
            thinking = delta.thinking
            if thinking is None:
                raise _missing(delta, self.index)
            return ThinkingChunk(thinking, self.index) if thinking else None
        if delta.type == "signature_delta":
            if delta.signature is None:
                raise _missing(delta, self.index)
            return ThinkingChunk("", self.index, delta.signature)
        return _Block.delta(self, delta)

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[_Block, _Out]:
        out = None
        if block.thinking or block.signature:
            out = ThinkingChunk(block.thinking or "", index, block.signature or None)
        return _Thinking(index), out


class _Redacted(_Block):
    __slots__ = ()
    kind = "redacted_thinking"

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[_Block, _Out]:
        if block.data is None:
            raise ProviderError(
                f"invalid content_block_start event: redacted_thinking block {index} without data"
            )
        return _Redacted(index), RedactedThinkingChunk(block.data, index)


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


class _ToolUse(_Block):
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

    def delta(self, delta: Delta) -> _Chunk:
        if delta.type == "input_json_delta":
            piece = delta.partial_json
            if piece is None:
                raise _missing(delta, self.index)
            self.parts.append(piece)
            return ToolInputChunk(piece, self.index)
        return _Block.delta(self, delta)

    def stop(self) -> _Chunk | ProviderError:
        what = f"tool_use block {self.index} ({self.name!r}, id {self.id!r})"
        value = _input(self.parts, self.input, what)
        if isinstance(value, ProviderError):
            return value
        return ToolUseChunk(self.id, self.name, value, self.index, self.caller)

    @staticmethod
    def start(index: int, block: ContentBlock) -> tuple[_Block, _Out]:
        return _ToolUse(index, block), None


class _Whole(_Block):
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

    def delta(self, delta: Delta) -> _Chunk:
        kind = delta.type
        if kind == "input_json_delta":  # server_tool_use, mcp_tool_use …
            if delta.partial_json is None:
                raise _missing(delta, self.index)
            self.parts.append(delta.partial_json)
        elif kind == "compaction_delta":
            # As the official SDK does: each compaction_delta sets the fields it carries.
            if delta.content is not UNSET:
                self.block["content"] = delta.content
            if delta.encrypted_content is not UNSET:
                self.block["encrypted_content"] = delta.encrypted_content
        # Other deltas to a kind not named here are not known to apply to it: skipped.
        return None

    def stop(self) -> _Chunk | ProviderError:
        block = self.block
        if self.parts:
            what = f"{block['type']} block {self.index}"
            value = _input(self.parts, block.get("input"), what)
            if isinstance(value, ProviderError):
                return value
            block["input"] = value
        return BlockChunk(RawBlock(block), self.index)


_STARTS: dict[str, Callable[[int, ContentBlock], tuple[_Block, _Out]]] = {
    "text": _Text.start,
    "thinking": _Thinking.start,
    "redacted_thinking": _Redacted.start,
    "tool_use": _ToolUse.start,
}
_TO_BLOCK = msgspec.convert


class StreamMachine:
    """Validates the order of wire events and turns them into chunks.

    Raises ``ProviderError`` naming the event on an order violation or malformed event data,
    and the mapped API error (e.g. ``OverloadedError``) on an ``error`` event. ``done`` is True
    after ``message_stop``.
    """

    __slots__ = ("_cut", "_handlers", "_open", "_state", "_stop_reason", "_stopped", "_usage")

    def __init__(self) -> None:
        self._state = _BEFORE
        self._open: dict[int, _Block] = {}
        self._stopped: set[int] = set()
        # Tool input that was not complete JSON: an error unless the message was cut short.
        self._cut: dict[int, ProviderError] = {}
        self._stop_reason: str | None = None
        # The cumulative usage so far: input, output, cache write, cache read, 1h cache write,
        # web search requests.
        self._usage = (0, 0, 0, 0, 0, 0)
        self._handlers: dict[type[Any], Callable[[Any], _Out]] = {
            MessageStart: self._message_start,
            ContentBlockStart: self._block_start,
            ContentBlockDelta: self.block_delta,
            ContentBlockStop: self._block_stop,
            MessageDelta: self._message_delta,
            MessageStop: self._message_stop,
            ErrorEvent: self._error,
        }

    @property
    def done(self) -> bool:
        """True once ``message_stop`` has been received."""
        return self._state == _DONE

    def process(self, event: WireEvent | None) -> list[MessageStreamChunk]:
        """Take one wire event (``None`` for a skipped one); return the chunks it produces."""
        if event is None:
            return []
        out = self._handlers[type(event)](event)
        if out is None:
            return []
        if type(out) is list:
            return out
        return [out]  # type: ignore[list-item]

    # Handlers return one chunk, a list of chunks, or None (the fast form ChunkDecoder uses).

    def _message_start(self, event: MessageStart) -> _Out:
        if self._state != _BEFORE:
            raise self._misplaced("message_start")
        self._state = _STREAMING
        message = event.message
        start = StartChunk(message.id or "", message.model or "")
        return [start, self._usage_increase(message.usage)]

    def _block_start(self, event: ContentBlockStart) -> _Out:
        if self._state != _STREAMING:
            raise self._misplaced("content_block_start")
        index = event.index
        if index in self._open:
            raise ProviderError(f"content_block_start for block {index} that is already open")
        if index in self._stopped:
            raise ProviderError(f"content_block_start for block {index} that already ended")
        raw = event.content_block
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise ProviderError(
                f"invalid content_block_start event: block {index} has no string type"
            )
        start = _STARTS.get(kind)
        if start is None:
            self._open[index] = _Whole(index, raw)
            return None
        try:
            fields = _TO_BLOCK(raw, ContentBlock)
        except msgspec.ValidationError as exc:
            raise ProviderError(
                f"invalid content_block_start event ({exc}): block {index} ({kind})", exc
            ) from exc
        block, out = start(index, fields)
        self._open[index] = block
        return out

    def block_delta(self, event: ContentBlockDelta) -> MessageStreamChunk | None:
        """A ``content_block_delta``: the one place deltas are handled (ChunkDecoder's fast
        path for text calls it directly)."""
        block = self._open.get(event.index)
        delta = event.delta
        # Text for a text block, nearly every event of a reply, is handled right here.
        if delta.type == "text_delta" and type(block) is _Text:
            text = delta.text
            if text:
                return TextChunk(text, event.index)
            if text is None:
                raise _missing(delta, event.index)
            return None
        if block is None:
            raise self._not_open("content_block_delta", event.index)
        return block.delta(delta)

    def _block_stop(self, event: ContentBlockStop) -> _Out:
        index = event.index
        block = self._open.pop(index, None)
        if block is None:
            raise self._not_open("content_block_stop", index)
        self._stopped.add(index)
        out = block.stop()
        if isinstance(out, ProviderError):
            self._cut[index] = out
            return None
        return out

    def _message_delta(self, event: MessageDelta) -> _Out:
        if self._state != _STREAMING:
            raise self._misplaced("message_delta")
        usage = self._usage_increase(event.usage)
        stop_reason = event.delta.stop_reason
        if stop_reason is None:
            return usage
        self._stop_reason = stop_reason
        if self._cut and stop_reason not in CUT_REASONS:
            raise next(iter(self._cut.values()))
        # The blocks this stop leaves unfinished: still open (never closed), or closed with
        # input that is not complete JSON. Known once, here, so a fold over the chunks can
        # tell a turn that lost a block whatever its kind (none of their chunks says so).
        cut = tuple(sorted([*self._open, *self._cut])) if self._open or self._cut else ()
        return [usage, StopChunk(stop_reason, event.delta.stop_sequence, cut)]

    def _message_stop(self, event: MessageStop) -> _Out:
        if self._state != _STREAMING:
            raise self._misplaced("message_stop")
        if self._cut and self._stop_reason not in CUT_REASONS:
            raise next(iter(self._cut.values()))
        # Blocks still open here were cut short: they give no chunk (their StopChunk, if the
        # message had one, has been handed on), and that is no error. They are closed now, so
        # that a delta after message_stop is refused on the fast path too.
        self._open.clear()
        self._state = _DONE
        return None

    def _error(self, event: ErrorEvent) -> _Out:
        body = event.error
        raise error_for(
            body.message or "the stream reported an error",
            error_type=body.type,
            request_id=event.request_id,
        )

    def _usage_increase(self, usage: Usage | None) -> UsageChunk:
        # Wire usage is cumulative; a field absent (or null) keeps its earlier value.
        old = self._usage
        if usage is None:
            return UsageChunk()
        one_hour = old[4]
        if usage.cache_creation is not None:
            value = usage.cache_creation.ephemeral_1h_input_tokens
            if value is not None:
                one_hour = value
        server = usage.server_tool_use
        searches = None if server is None else server.web_search_requests
        new = (
            old[0] if usage.input_tokens is None else usage.input_tokens,
            old[1] if usage.output_tokens is None else usage.output_tokens,
            old[2]
            if usage.cache_creation_input_tokens is None
            else usage.cache_creation_input_tokens,
            old[3] if usage.cache_read_input_tokens is None else usage.cache_read_input_tokens,
            one_hour,
            old[5] if searches is None else searches,
        )
        self._usage = new
        return UsageChunk(
            new[0] - old[0],
            new[1] - old[1],
            new[2] - old[2],
            new[3] - old[3],
            new[4] - old[4],
            new[5] - old[5],
        )

    def _misplaced(self, name: str) -> ProviderError:
        if self._state == _BEFORE:
            return ProviderError(f"{name} before message_start")
        if self._state == _DONE:
            return ProviderError(f"{name} after message_stop")
        return ProviderError(f"{name} received twice")

    def _not_open(self, name: str, index: int) -> ProviderError:
        if self._state != _STREAMING:
            return self._misplaced(name)
        if index in self._stopped:
            return ProviderError(f"{name} for block {index} that already stopped")
        return ProviderError(f"{name} for block {index} that was never started")


class ChunkDecoder:
    """Bytes of a Messages event stream in, chunks out: framer + wire decoder + machine.

    ``feed`` does all the work for the bytes it is given and returns the chunks they complete.
    A fault in the stream (a malformed or misplaced event, an ``error`` event, an event over
    ``max_event_size``) never costs the chunks before it: ``feed`` returns those, and the fault
    is kept in ``error``; the caller raises it after handing the chunks on. From then on
    ``feed`` and ``close`` raise it too. The shell does, in essence::

        decoder = ChunkDecoder()
        async for data in response.aiter_bytes():
            for chunk in decoder.feed(data):
                yield chunk
            if decoder.error is not None:
                raise decoder.error
        for chunk in decoder.close():
            yield chunk
    """

    __slots__ = ("_closed", "_error", "_framer", "_machine")

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._framer = SSEFramer(max_event_size=max_event_size)
        self._machine = StreamMachine()
        self._error: ProviderError | None = None
        self._closed = False

    @property
    def done(self) -> bool:
        """True once ``message_stop`` has been received."""
        return self._machine.done

    @property
    def error(self) -> ProviderError | None:
        """The fault that stopped the stream, once there is one."""
        return self._error

    def feed(self, data: bytes) -> list[MessageStreamChunk]:
        """Take the next bytes of the stream; return the chunks they complete, in order.

        Raises only when the decoder had already failed or was closed; a fault found in
        ``data`` itself is kept in ``error`` after the chunks before it are returned.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            raise ProviderError("ChunkDecoder.feed called after close")
        events: list[SSEEvent] = []
        failure: ProviderError | None = None
        try:
            self._framer.feed_into(data, events.append)
        except ProviderError as exc:
            failure = exc  # the events framed before the oversized one still count
        chunks = self._process(events)
        if failure is not None and self._error is None:
            self._error = failure
        return chunks

    def close(self) -> list[MessageStreamChunk]:
        """End of input. Raises the stream's fault if it had one, and ``NetworkError`` if
        ``message_stop`` never came (a partial last event is named in the message).

        A partial event after ``message_stop`` is ignored: the message is complete by then.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            return []
        self._closed = True
        partial: NetworkError | None = None
        try:
            self._framer.close()
        except NetworkError as exc:
            partial = exc
        if not self._machine.done:
            if partial is not None:
                self._error = NetworkError(
                    f"stream ended before message_stop: {partial.message}", partial
                )
            else:
                self._error = NetworkError("stream ended before message_stop")
            raise self._error
        return []

    def _process(self, events: list[SSEEvent]) -> list[MessageStreamChunk]:
        # The hot loop: one pass over the framed events, chunks appended as they come.
        out: list[MessageStreamChunk] = []
        append = out.append
        decoders = DECODERS
        handlers = self._machine._handlers
        block_delta = self._machine.block_delta
        open_blocks = self._machine._open
        decode_delta = _DECODE_DELTA
        name = ""
        try:
            for sse in events:
                name = sse.event
                if name == "content_block_delta":
                    # The fast path for nearly every event of a reply: non-empty text for an
                    # open text block, the one case handled here (the rule is block_delta's
                    # first lines); anything else goes to block_delta itself. Calling it for
                    # every delta costs about 5% of the throughput.
                    wire = decode_delta(sse.data)
                    delta = wire.delta
                    if delta.type == "text_delta" and type(open_blocks.get(wire.index)) is _Text:
                        text = delta.text
                        if text:
                            append(TextChunk(text, wire.index))
                            continue
                    chunk = block_delta(wire)
                    if chunk is not None:
                        append(chunk)
                    continue
                decoder = decoders.get(name)
                if decoder is None:
                    wire = decode_event(name, sse.data)
                    if wire is None:
                        continue
                else:
                    wire = decoder.decode(sse.data)
                result = handlers[type(wire)](wire)
                if result is None:
                    continue
                if type(result) is list:
                    out.extend(result)
                else:
                    append(result)  # type: ignore[arg-type]
        except DECODE_ERRORS as exc:
            self._error = bad_event(name, sse.data, exc)  # chains exc as the cause
        except ProviderError as exc:
            self._error = exc
        return out
