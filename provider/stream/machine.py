"""The stream state machine (wire events in, chunks out) and ChunkDecoder (bytes in, chunks out).

Both are sans-I/O. ``StreamMachine`` checks the order of events and turns them into the
public chunks; ``ChunkDecoder`` puts the SSE framer, the wire-event decoders and the machine
together for the HTTP shell, which does in essence::

    decoder = ChunkDecoder()
    async for data in response.aiter_bytes():
        for chunk in decoder.feed(data):
            yield chunk
    for chunk in decoder.close():
        yield chunk

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

from collections import deque
from collections.abc import Callable, Iterator
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

    ``feed`` frames eagerly and returns an iterator that turns the framed events into chunks
    as it is consumed. Events not yet turned into chunks stay in the decoder, so an iterator
    dropped before its end loses nothing: the next ``feed`` or ``close`` continues with them.
    An error is raised at the event that caused it, after every earlier chunk; the decoder
    then stays failed and raises it again from ``feed`` and ``close``.
    """

    __slots__ = (
        "_closed",
        "_error",
        "_events",
        "_failure",
        "_framer",
        "_machine",
        "_partial",
        "_pending",
    )

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._framer = SSEFramer(max_event_size=max_event_size)
        self._machine = StreamMachine()
        self._events: deque[SSEEvent] = deque()
        self._pending: deque[MessageStreamChunk] = deque()
        # A framing error, raised once the events framed before it are processed.
        self._failure: ProviderError | None = None
        # The error raised to the caller; the decoder is unusable after it.
        self._error: BaseException | None = None
        # Set by close(): the input ended; and the framer's report if it cut an event short.
        self._closed = False
        self._partial: NetworkError | None = None

    @property
    def done(self) -> bool:
        """True once ``message_stop`` has been turned into chunks."""
        return self._machine.done

    def feed(self, data: bytes) -> Iterator[MessageStreamChunk]:
        """Frame ``data`` now; return an iterator of the chunks it (and anything left) gives."""
        if self._closed:
            raise ProviderError("ChunkDecoder.feed called after close")
        if self._failure is None and self._error is None:
            try:
                self._framer.feed_into(data, self._events.append)
            except ProviderError as exc:
                self._failure = exc
        return self._drain()

    def close(self) -> Iterator[MessageStreamChunk]:
        """End of input: the remaining chunks, then ``NetworkError`` if ``message_stop`` never came.

        A partial event at the end (no blank line after it) is ignored once ``message_stop``
        was seen: the message is complete by then. Before it, it is a ``NetworkError``.
        """
        if not self._closed:
            self._closed = True
            if self._failure is None and self._error is None:
                try:
                    self._framer.close()
                except NetworkError as exc:
                    self._partial = exc
        return self._finish()

    def _finish(self) -> Iterator[MessageStreamChunk]:
        yield from self._drain()
        if not self._machine.done:
            partial = self._partial
            if partial is not None:
                error = NetworkError(
                    f"stream ended before message_stop: {partial.message}", partial
                )
            else:
                error = NetworkError("stream ended before message_stop")
            self._error = error
            raise error

    def _drain(self) -> Iterator[MessageStreamChunk]:
        if self._error is not None:
            raise self._error
        pending = self._pending
        while pending:
            yield pending.popleft()
        events = self._events
        decoders = DECODERS
        handlers = self._machine._handlers
        try:
            while events:
                sse = events.popleft()
                decoder = decoders.get(sse.event)
                if decoder is None:
                    wire = decode_event(sse.event, sse.data)
                    if wire is None:
                        continue
                else:
                    try:
                        wire = decoder.decode(sse.data)
                    except DECODE_ERRORS as exc:
                        raise bad_event(sse.event, sse.data, exc) from exc
                out = handlers[type(wire)](wire)
                if out is None:
                    continue
                if type(out) is list:
                    pending.extend(out)
                    while pending:
                        yield pending.popleft()
                else:
                    yield out  # type: ignore[misc]
            if self._failure is not None:
                raise self._failure
        except ProviderError as exc:
            self._error = exc
            raise
