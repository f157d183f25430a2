"""The stream state machine (wire events in, chunks out) and ChunkDecoder (bytes in, chunks out).

Both are sans-I/O. ``StreamMachine`` checks the order of events and turns them into the
public chunks; ``ChunkDecoder`` puts the SSE framer, the wire-event decoders and the machine
together for the HTTP shell (its docstring shows the loop).

Chunks:

- ``TextChunk`` / ``ThinkingChunk`` for each non-empty ``text_delta`` / ``thinking_delta`` (and
  for the rare block that starts with non-empty text), as they arrive.
- one ``ToolUseChunk`` per ``tool_use`` block, at its ``content_block_stop``. Server-side tools
  (``server_tool_use``) run at Anthropic and give no chunk.
- ``UsageChunk``: exactly one at ``message_start`` and one at every ``message_delta``, even when
  the increase is zero, each carrying the increase over the previous one, so that their sum
  is the message's final usage. (An increase can be negative only if a gateway reports a
  cumulative count lower than an earlier one; the sum stays exact.)
- ``StopChunk`` at a ``message_delta`` that carries a ``stop_reason``, after its UsageChunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..errors import NetworkError, ProviderError, error_for
from ..types import (
    MessageStreamChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolUseChunk,
    UsageChunk,
)
from .events import (
    DECODE_ERRORS,
    DECODERS,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
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

_BEFORE, _STREAMING, _DONE = 0, 1, 2
_JSON_OBJECT = msgspec.json.Decoder(dict[str, Any])
_DECODE_DELTA = DECODERS["content_block_delta"].decode


class _ToolCall:
    """A ``tool_use`` block being received: its ``input`` arrives as JSON text in pieces."""

    __slots__ = ("id", "input", "name", "parts")

    def __init__(self, id: str, name: str, input: Any) -> None:
        self.id = id
        self.name = name
        self.input = input
        self.parts: list[str] = []


# The value of an open block that needs no state (text, thinking, server tools, …).
_PLAIN: None = None
# What a lookup of a block that is not open gives (a sentinel of the right type for mypy).
_ABSENT = _ToolCall("", "", None)


class StreamMachine:
    """Validates the order of wire events and turns them into chunks.

    Raises ``ProviderError`` naming the event on an order violation, and the mapped API error
    (e.g. ``OverloadedError``) on an ``error`` event. ``done`` is True after ``message_stop``.
    """

    __slots__ = ("_handlers", "_open", "_state", "_stopped", "_usage")

    def __init__(self) -> None:
        self._state = _BEFORE
        # Open blocks by index: a _ToolCall for tool_use blocks, _PLAIN for the others.
        self._open: dict[int, _ToolCall | None] = {}
        self._stopped: set[int] = set()
        # The cumulative usage so far: input, output, cache write, cache read, 1h cache write.
        self._usage = (0, 0, 0, 0, 0)
        self._handlers: dict[type[Any], Callable[[Any], _Out]] = {
            MessageStart: self._message_start,
            ContentBlockStart: self._block_start,
            ContentBlockDelta: self._block_delta,
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
        return self._usage_increase(event.message.usage)

    def _block_start(self, event: ContentBlockStart) -> _Out:
        if self._state != _STREAMING:
            raise self._misplaced("content_block_start")
        index = event.index
        if index in self._open:
            raise ProviderError(f"content_block_start for block {index} that is already open")
        if index in self._stopped:
            raise ProviderError(f"content_block_start for block {index} that already ended")
        block = event.content_block
        kind = block.type
        if kind == "tool_use":
            self._open[index] = _ToolCall(block.id or "", block.name or "", block.input)
            return None
        self._open[index] = _PLAIN
        # The API starts text and thinking blocks empty; a gateway may not.
        if kind == "text" and block.text:
            return TextChunk(block.text)
        if kind == "thinking" and block.thinking:
            return ThinkingChunk(block.thinking)
        return None

    def _block_delta(self, event: ContentBlockDelta) -> _Out:
        block = self._open.get(event.index, _ABSENT)
        if block is _ABSENT:
            raise self._not_open("content_block_delta", event.index)
        delta = event.delta
        kind = delta.type
        if kind == "text_delta":
            text = delta.text
            return TextChunk(text) if text else None
        if kind == "thinking_delta":
            thinking = delta.thinking
            return ThinkingChunk(thinking) if thinking else None
        if kind == "input_json_delta" and block is not None and delta.partial_json:
            block.parts.append(delta.partial_json)
        # signature_delta, citations_delta and kinds not known yet give no chunk.
        return None

    def _block_stop(self, event: ContentBlockStop) -> _Out:
        index = event.index
        block = self._open.pop(index, _ABSENT)
        if block is _ABSENT:
            raise self._not_open("content_block_stop", index)
        self._stopped.add(index)
        if block is None:
            return None
        text = "".join(block.parts)
        if not text.strip():
            start = block.input
            return ToolUseChunk(block.id, block.name, start if isinstance(start, dict) else {})
        try:
            arguments = _JSON_OBJECT.decode(text)
        except msgspec.DecodeError as exc:
            raise ProviderError(
                f"tool_use block {index} ({block.name!r}, id {block.id!r}) has invalid input "
                f"JSON ({exc}): {text[:100]!r}",
                exc,
            ) from exc
        return ToolUseChunk(block.id, block.name, arguments)

    def _message_delta(self, event: MessageDelta) -> _Out:
        if self._state != _STREAMING:
            raise self._misplaced("message_delta")
        usage = self._usage_increase(event.usage)
        stop_reason = event.delta.stop_reason
        if stop_reason is None:
            return usage
        return [usage, StopChunk(stop_reason, event.delta.stop_sequence)]

    def _message_stop(self, event: MessageStop) -> _Out:
        if self._state != _STREAMING:
            raise self._misplaced("message_stop")
        if self._open:
            # A tool call cut off here would otherwise vanish without a trace.
            index = min(self._open)
            raise ProviderError(f"message_stop while block {index} is still open")
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
        new = (
            old[0] if usage.input_tokens is None else usage.input_tokens,
            old[1] if usage.output_tokens is None else usage.output_tokens,
            old[2]
            if usage.cache_creation_input_tokens is None
            else usage.cache_creation_input_tokens,
            old[3] if usage.cache_read_input_tokens is None else usage.cache_read_input_tokens,
            one_hour,
        )
        self._usage = new
        return UsageChunk(
            new[0] - old[0], new[1] - old[1], new[2] - old[2], new[3] - old[3], new[4] - old[4]
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
        open_blocks = self._machine._open
        decode_delta = _DECODE_DELTA
        name = ""
        try:
            for sse in events:
                name = sse.event
                if name == "content_block_delta":
                    # The fast path for nearly every event of a reply: text for an open block.
                    # It does what _block_delta does for this case, minus the dispatch.
                    wire = decode_delta(sse.data)
                    delta = wire.delta
                    if delta.type == "text_delta" and wire.index in open_blocks:
                        text = delta.text
                        if text:
                            append(TextChunk(text))
                        continue
                else:
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
