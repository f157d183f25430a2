"""ChunkDecoder: bytes of a Messages event stream in, chunks out (sans-I/O).

It puts the SSE framer (``sse.py``), the wire-event decoders (``events.py``) and the state
machine (``machine.py``) together for the HTTP shells; its docstring shows their loop.
"""

from __future__ import annotations

from ..errors import NetworkError, ProviderError
from ..types import MessageStreamChunk, TextChunk
from .blocks import TextState
from .events import DECODE_ERRORS, DECODERS, bad_event, decode_event
from .machine import StreamMachine
from .sse import DEFAULT_MAX_EVENT_SIZE, SSEEvent, SSEFramer

__all__ = ["ChunkDecoder"]

_DECODE_DELTA = DECODERS["content_block_delta"].decode


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
                    if (
                        delta.type == "text_delta"
                        and type(open_blocks.get(wire.index)) is TextState
                    ):
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
