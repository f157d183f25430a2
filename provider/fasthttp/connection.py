"""One HTTP/1.1 client connection as an asyncio protocol.

It writes a request in one piece, parses the response with httptools (llhttp, in C) and keeps
the body's bytes until they are read. The point of the design is the cost per HTTP chunk: the
API sends one chunk per SSE event, and here a chunk costs one call from C into ``on_body``;
everything else (waking the reader, the read timeout, flow control) happens once per socket
read, however many chunks it held.

Failures are kept as ``(kind, message)`` and raised by the transport as httpx's exceptions, so
that nothing of the request (its headers hold the API key) travels in them.
"""

from __future__ import annotations

import asyncio

import httptools
import httpx

__all__ = ["Connection", "Failure"]

Failure = tuple[type[httpx.TransportError], str]

MAX_HEAD = 64 * 1024  # a response head larger than this is refused (h11 allows 16 KiB)
HIGH_WATER = 256 * 1024  # body bytes buffered before the socket stops being read
_HEAD_TOO_LARGE = "the response head exceeds 64 KiB"


class _Surplus(Exception):
    """Raised from a parser callback to stop parsing: bytes that follow the response, or a
    response already refused."""


class Connection(asyncio.Protocol):
    """A connection to one origin; one request at a time (no pipelining)."""

    __slots__ = (
        "_deadline",
        "_drain",
        "_fields_bytes",
        "_framed",
        "_head_bytes",
        "_keep_alive",
        "_loop",
        "_parser",
        "_paused",
        "_surplus",
        "_timer",
        "_transport",
        "_waiter",
        "buffered",
        "closed",
        "done",
        "failure",
        "head_done",
        "headers",
        "idle_since",
        "on_body",
        "origin",
        "parts",
        "reason",
        "status",
        "timed_out",
        "version",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._paused = False
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.parts: list[bytes] = []  # body bytes received and not yet read
        # httptools' body callback, called from C once per HTTP chunk: the list's own append,
        # so that a chunk runs no Python code at all.
        self.on_body = self.parts.append
        self.buffered = 0  # bytes fed since the last read: the body's, and its framing
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.version = b"HTTP/1.1"
        self.head_done = False
        self.done = False  # the whole response has arrived
        self.failure: Failure | None = None
        self.timed_out = False
        self._framed = False  # content-length or chunked: the close does not end the body
        self._keep_alive = False
        self._surplus = False  # bytes after the response: the connection is not reused
        self._head_bytes = 0  # bytes of the reads that ended inside the head
        self._fields_bytes = 0  # the head's status line and fields, however they arrived

    # --- what the transport asks -------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Whether another request may go out on this connection."""
        return (
            self.done
            and self._keep_alive
            and not self._surplus
            and not self.closed
            and self._transport is not None
            and not self._transport.is_closing()
        )

    async def send(self, data: bytes, write_timeout: float | None) -> None:
        """Write a request (head and body) and start reading its response."""
        self._reset()
        self._parser = parser = httptools.HttpResponseParser(self)
        # A bare LF ending a line of the head, as h11 (httpx's own parser) accepts.
        parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        transport = self._transport
        if transport is None or self.closed:
            self.failure = (httpx.WriteError, "the connection is closed")
            return
        transport.write(data)
        if self._drain is not None:  # the kernel's buffer is full: wait for room
            try:
                await asyncio.wait_for(asyncio.shield(self._drain), write_timeout)
            except asyncio.TimeoutError:
                self.failure = (httpx.WriteTimeout, "timed out writing the request")

    async def wait(self, timeout: float | None) -> None:
        """Until bytes arrive, the response ends or fails, or ``timeout`` seconds pass
        (``timed_out`` is then set)."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        if timeout is not None:
            # One timer per connection, re-armed lazily: a wait costs no timer of its own.
            self._deadline = self._loop.time() + timeout
            timer = self._timer
            if timer is None or timer.when() > self._deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        try:
            await waiter
        finally:
            self._waiter = None
            self._deadline = 0.0

    def take(self) -> bytes:
        """Every body byte buffered so far, at once."""
        parts = self.parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()  # the same list: on_body appends to it
        self.buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return data

    def idle(self) -> None:
        """The response was read to its end; the connection waits for the next request."""
        self._parser = None
        self.idle_since = self._loop.time()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
        self.closed = True

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self.done:
            # Bytes nobody asked for (after the response, or on an idle connection).
            self._surplus = True
            if parser is None and self._transport is not None:
                self._transport.close()
            return
        self.timed_out = False  # a timer that fired in the same turn as these bytes: no silence
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError, "the server switched protocols unasked")
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError, f"malformed HTTP response: {exc}")
        else:
            if not self.head_done:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD:
                    self._fail(httpx.RemoteProtocolError, _HEAD_TOO_LARGE)
            else:
                self.buffered += len(data)
                # Only with body bytes to take: their reader is what resumes reading.
                full = self.buffered > HIGH_WATER and self.parts
                if full and not self._paused and self._transport:
                    self._paused = True
                    self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._ended(exc)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    # --- httptools callbacks (names are httptools') -------------------------------------------

    def on_message_begin(self) -> None:
        if self.head_done:
            # A second response to one request, in the read that ended the first: parsing
            # stops here, or its body would be handed over as the first one's.
            self._surplus = True
            raise _Surplus

    def on_status(self, status: bytes) -> None:
        self.reason += status  # llhttp may hand it over in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer: dropped, as httpcore does
        self.headers.append((name, value))
        self._fields_bytes += len(name) + len(value) + 4
        lowered = name.lower()
        if lowered == b"transfer-encoding" and value.strip().lower() != b"chunked":
            # As h11: another coding (gzip, ...) would reach the caller still encoded, and
            # with "chunked" not last the length is the close (RFC 9112, 6.3).
            self._fail(httpx.RemoteProtocolError, "Only Transfer-Encoding: chunked is supported")
            raise _Surplus
        if lowered == b"content-length" or lowered == b"transfer-encoding":
            self._framed = True

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        # The reads that ended inside the head are counted in data_received; this catches a
        # head that arrived whole, in the read that also ended it.
        if self._fields_bytes + len(self.reason) > MAX_HEAD:
            self._fail(httpx.RemoteProtocolError, _HEAD_TOO_LARGE)
            return
        status = parser.get_status_code()
        if status < 200:  # informational (101 makes feed_data raise): the real one follows
            self.headers = []
            self.reason = b""
            self._framed = False
            self._fields_bytes = 0
            return
        self.status = status
        self.version = b"HTTP/" + parser.get_http_version().encode("ascii")
        self._keep_alive = parser.should_keep_alive()
        self.head_done = True

    def on_message_complete(self) -> None:
        if self.head_done and not self._surplus:
            self.done = True

    # --- internals ----------------------------------------------------------------------------

    def _fail(self, kind: type[httpx.TransportError], message: str) -> None:
        if self.failure is None and not self.done:
            self.failure = (kind, message)
        self._surplus = True
        if self._transport is not None:
            self._transport.close()

    def _ended(self, exc: Exception | None) -> None:
        """The peer closed (or the socket failed): an end or a failure, by what was due."""
        if self.done or self.failure is not None or self._parser is None:
            self._wake()
            return
        if exc is not None:
            self.failure = (httpx.ReadError, f"{type(exc).__name__}: {exc}")
        elif not self.head_done:
            self.failure = (
                httpx.RemoteProtocolError,
                "Server disconnected without sending a response.",
            )
        elif self._framed:
            self.failure = (
                httpx.RemoteProtocolError,
                "peer closed connection without sending complete message body",
            )
        else:  # no length and not chunked: the body runs to the close (RFC 9112, 6.3)
            self.done = True
            self._keep_alive = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_deadline(self) -> None:
        self._timer = None
        if self._waiter is None or self._deadline == 0.0:
            return  # nobody is waiting now
        if self._loop.time() >= self._deadline:
            self.timed_out = True
            self._wake()
        else:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
