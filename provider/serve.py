"""A loopback Messages endpoint that streams recorded fixtures: ``provider serve``.

Point curl, the official SDK, a gateway or :class:`~provider.AnthropicProvider` at
:attr:`ReplayServer.url` and every ``POST …/v1/messages`` is answered with a recorded fixture,
streamed the way the API streams it: chunked transfer encoding, one SSE event per chunk, each
sent as soon as it is due, so a client sees the first event while the rest is still held.

HTTP is h11 over anyio sockets (asyncio or trio); nothing here parses HTTP by hand. The planning
of a reply (which fixture, which status, which pieces) is plain functions, free of I/O; the
connection loop only moves bytes between the socket and h11.

Test hooks: ``pause_after_events`` holds a stream until :attr:`ReplayServer.resume` is set,
:attr:`ReplayServer.requests` records what clients sent (secrets redacted), and
:attr:`ReplayServer.disconnects` / :meth:`ReplayServer.wait_for_disconnects` report clients that
went away in the middle of a response.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
from collections.abc import Callable
from contextlib import AsyncExitStack
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import h11
import msgspec

from .errors import ProviderError
from .fixtures import Fixture, fixture_paths, load_fixture

__all__ = [
    "DEFAULT_FIXTURE",
    "FIXTURE_HEADER",
    "RecordedRequest",
    "ReplayServer",
    "plan_pieces",
    "serve_forever",
    "split_events",
]

logger = logging.getLogger(__name__)

#: Request header that picks a fixture by name (file name without extension).
FIXTURE_HEADER = "x-provider-fixture"
#: The fixture a directory serves when a request names none.
DEFAULT_FIXTURE = "haiku"

MAX_REQUEST_BODY = 32 * 1024 * 1024  # the API's own limit for Messages requests
_RECEIVE_SIZE = 65536
# A server-side close waits this long for the client to read the response and close first:
# closing with unread input makes the kernel send RST, which can destroy a response in flight.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 1024 * 1024

_REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
# Framing headers are h11's job; copied from a recording they would contradict the chunking.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te"}
)
_ENDPOINT = "/v1/messages"
_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    431: "invalid_request_error",
    500: "api_error",
}
_LINE_END = rb"(?:\r\n|\r(?!\n)|\n)"
_EVENT_END = re.compile(_LINE_END + _LINE_END)


class RecordedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request the server answered, as the client sent it, secrets redacted.

    ``headers`` has lower-case names; the values of ``x-api-key``, ``authorization``,
    ``proxy-authorization`` and ``cookie`` are replaced by ``"<redacted>"`` (the name stays, so a
    test can see the header was sent). ``json`` is the decoded body, or None when it was not
    JSON. ``connection`` numbers the TCP connection (equal numbers: a kept-alive connection).
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any
    status: int
    request_id: str
    fixture: str | None
    connection: int


class _Reply(msgspec.Struct, kw_only=True):
    """What to send for one request: status, headers and the body in pieces."""

    status: int
    headers: list[tuple[str, str]]
    pieces: list[bytes]
    pause_index: int | None = None  # hold after this many pieces
    streamed: bool = False  # chunked, piece by piece; else one body with a content-length
    fixture: str | None = None


class _Prepared(msgspec.Struct, frozen=True):
    """A fixture with its body already cut into pieces."""

    fixture: Fixture
    pieces: list[bytes]
    pause_index: int | None
    streamed: bool


# --- sans-I/O: pieces, routing, validation ----------------------------------------------------


def split_events(body: bytes) -> list[bytes]:
    """Cut an SSE body after each blank line; concatenating the pieces gives ``body`` back.

    A line ends with ``\\r\\n``, ``\\r`` or ``\\n``; text after the last blank line is a final
    piece of its own.
    """
    pieces: list[bytes] = []
    start = 0
    for match in _EVENT_END.finditer(body):
        pieces.append(body[start : match.end()])
        start = match.end()
    if start < len(body):
        pieces.append(body[start:])
    return pieces


def plan_pieces(
    body: bytes, *, chunk_size: int | None = None, pause_after_events: int | None = None
) -> tuple[list[bytes], int | None]:
    """The pieces to send ``body`` in, and after how many of them to hold (None: never).

    Pieces are SSE events, or ``chunk_size`` bytes. The hold point is the end of event number
    ``pause_after_events`` (the end of the body when there are fewer events); with
    ``chunk_size`` the chunks are cut there too, so the held part ends exactly on that event.
    """
    events = split_events(body)
    if chunk_size is None:
        if pause_after_events is None:
            return events, None
        return events, min(pause_after_events, len(events))
    if pause_after_events is None:
        return _chunks(body, chunk_size), None
    cut = sum(len(event) for event in events[:pause_after_events])
    head = _chunks(body[:cut], chunk_size)
    return head + _chunks(body[cut:], chunk_size), len(head)


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _error_reply(status: int, message: str, request_id: str, **extra: str) -> _Reply:
    """An Anthropic-style JSON error: ``{"type":"error","error":{"type","message"},…}``."""
    body = msgspec.json.encode(
        {
            "type": "error",
            "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": request_id,
        }
    )
    headers = [("content-type", "application/json"), ("request-id", request_id)]
    headers += list(extra.items())
    return _Reply(status=status, headers=headers, pieces=[body])


def _route_error(method: str, path: str, request_id: str) -> _Reply | None:
    """404 unless the path is ``/v1/messages`` under some prefix; 405 unless the method is POST.

    A prefix is allowed because gateways add one; ``//`` and ``…/v1/v1/messages`` are refused so
    the client bugs that produce them (a doubled slash or ``/v1``) show up here as they would
    against the real API.
    """
    prefix = path[: -len(_ENDPOINT)]
    if not path.endswith(_ENDPOINT) or "//" in path or prefix.endswith("/v1"):
        return _error_reply(404, f"Not found: {path}", request_id)
    if method != "POST":
        return _error_reply(
            405, f"Method {method} not allowed for {path}: use POST", request_id, allow="POST"
        )
    return None


def _decode_body(raw: bytes, request_id: str) -> tuple[Any, _Reply | None]:
    """The decoded JSON body, or a 400 when it is not a Messages request object."""
    try:
        decoded: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return None, _error_reply(400, f"Request body is not valid JSON: {exc}", request_id)
    if not isinstance(decoded, dict):
        return decoded, _error_reply(400, "Request body must be a JSON object", request_id)
    if "messages" not in decoded:
        return decoded, _error_reply(400, "messages: Field required", request_id)
    if not isinstance(decoded["messages"], list):
        return decoded, _error_reply(400, "messages: Input should be a valid list", request_id)
    return decoded, None


def _fixture_reply(prepared: _Prepared, request_id: str) -> _Reply:
    fixture = prepared.fixture
    headers = [(k, v) for k, v in fixture.headers.items() if k not in _HOP_BY_HOP]
    if "request-id" not in fixture.headers:
        headers.append(("request-id", request_id))
    return _Reply(
        status=fixture.status,
        headers=headers,
        pieces=prepared.pieces,
        pause_index=prepared.pause_index,
        streamed=prepared.streamed,
        fixture=fixture.name,
    )


def _prepare(fixture: Fixture, chunk_size: int | None, pause_after_events: int | None) -> _Prepared:
    where = f"fixture {fixture.name!r}"
    if not 200 <= fixture.status <= 599 or fixture.status in (204, 304):
        raise ProviderError(f"{where}: status {fixture.status} cannot carry a response body")
    try:
        h11.Response(status_code=fixture.status, headers=list(fixture.headers.items()))
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        raise ProviderError(f"{where}: headers cannot be sent over HTTP/1.1: {exc}", exc) from exc
    streamed = fixture.headers.get("content-type", "").startswith("text/event-stream")
    if not streamed:
        return _Prepared(fixture, [fixture.body], None, False)
    pieces, pause_index = plan_pieces(
        fixture.body, chunk_size=chunk_size, pause_after_events=pause_after_events
    )
    return _Prepared(fixture, pieces, pause_index, True)


def _redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = _REDACTED if name in _SECRET_HEADERS else raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out and value != _REDACTED else value
    return out


def _split_target(target: str) -> tuple[str, str]:
    """Path and query of a request target. Not urlsplit alone: it reads ``//v1/messages`` as a
    host named ``v1``."""
    if not target.startswith("/"):  # absolute-form, as a client sends it to a proxy
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query


def _reason(status: int) -> str:
    if status == 529:
        return "Overloaded"  # Anthropic's own status, unknown to the standard library
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class _Disconnected(Exception):
    """The client went away before the response was complete."""


# --- the server ----------------------------------------------------------------------------------


class ReplayServer:
    """A loopback HTTP/1.1 server that answers ``POST …/v1/messages`` with recorded fixtures.

    ``source`` is one fixture body file (served for every request) or a fixture directory (the
    ``x-provider-fixture: NAME`` header picks one; no header serves ``haiku``). Fixtures are
    loaded and checked when the server is built, so a bad one fails here, not mid-request.

    ``delay`` seconds pass between body pieces; pieces are SSE events, or ``chunk_size`` bytes.
    With ``pause_after_events=N`` each stream holds after N events until :attr:`resume` is set
    (it stays set: later streams run through). Use as ``async with ReplayServer(...) as server``;
    :attr:`url`, :attr:`resume` and :attr:`paused` exist once entered. Leaving the block closes
    every connection, including streams still running.
    """

    url: str
    #: Set it to release streams held by ``pause_after_events``.
    resume: anyio.Event
    #: Set when a stream starts holding at ``pause_after_events``.
    paused: anyio.Event

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        chunk_size: int | None = None,
        pause_after_events: int | None = None,
        record_requests: bool = True,
    ) -> None:
        if not math.isfinite(delay) or delay < 0:
            raise ValueError(f"delay must be a non-negative number of seconds, got {delay!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of bytes, got {chunk_size!r}")
        if pause_after_events is not None and pause_after_events < 0:
            raise ValueError(f"pause_after_events must be >= 0, got {pause_after_events!r}")
        self.host = host
        self.port = port
        self.delay = delay
        self.record_requests = record_requests
        #: Every request answered, in order (only when ``record_requests``).
        self.requests: list[RecordedRequest] = []
        #: How many responses were cut short because the client went away (closed its end).
        self.disconnects = 0
        #: Stream pieces (chunks) sent so far, over all responses; whole-body replies such as
        #: JSON errors do not count.
        self.pieces_sent = 0
        self._single, self._fixtures = self._load(Path(source), chunk_size, pause_after_events)
        self._connections = 0
        self._stack: AsyncExitStack | None = None
        self._disconnect_seen: anyio.Event | None = None

    @staticmethod
    def _load(
        source: Path, chunk_size: int | None, pause_after_events: int | None
    ) -> tuple[_Prepared | None, dict[str, _Prepared]]:
        if source.is_file():
            return _prepare(load_fixture(source), chunk_size, pause_after_events), {}
        if not source.is_dir():
            raise ProviderError(f"Fixture source not found: {source}")
        fixtures: dict[str, _Prepared] = {}
        for path in fixture_paths(source):
            fixture = load_fixture(path)
            if fixture.name in fixtures:
                raise ProviderError(f"{source}: two fixtures are named {fixture.name!r}")
            fixtures[fixture.name] = _prepare(fixture, chunk_size, pause_after_events)
        if not fixtures:
            raise ProviderError(f"No fixtures in {source}")
        return None, fixtures

    @property
    def fixture_names(self) -> list[str]:
        """The names a request can pick with ``x-provider-fixture`` (empty for a single file)."""
        return sorted(self._fixtures)

    async def __aenter__(self) -> ReplayServer:
        if self._stack is not None:
            raise RuntimeError("ReplayServer is already running")
        self.resume = anyio.Event()
        self.paused = anyio.Event()
        self._disconnect_seen = anyio.Event()
        async with AsyncExitStack() as stack:
            listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
            stack.push_async_callback(self._close_listener, listener)
            self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
            self.url = _url(self.host, self.port)
            task_group = await stack.enter_async_context(anyio.create_task_group())
            # The task group's cancel scope is cancelled first on exit (callbacks run LIFO).
            stack.callback(task_group.cancel_scope.cancel)
            task_group.start_soon(listener.serve, self._handle_connection, task_group)
            self._stack = stack.pop_all()
        logger.info("serving fixtures on %s", self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            # The caller's exception is not handed to the task group: it would come back
            # wrapped in an ExceptionGroup. It propagates unchanged once the server is down.
            await stack.aclose()

    @staticmethod
    async def _close_listener(listener: anyio.abc.Listener[Any]) -> None:
        with anyio.CancelScope(shield=True):
            await listener.aclose()

    async def wait_for_disconnects(self, count: int = 1) -> None:
        """Return once ``count`` responses in all have been cut short by their client."""
        while self.disconnects < count:
            if self._disconnect_seen is None:
                raise RuntimeError("ReplayServer was never started")
            await self._disconnect_seen.wait()

    def _note_disconnect(self) -> None:
        self.disconnects += 1
        if self._disconnect_seen is not None:
            self._disconnect_seen.set()
            self._disconnect_seen = anyio.Event()

    # --- one connection ------------------------------------------------------------------------

    async def _handle_connection(self, stream: anyio.abc.SocketStream) -> None:
        self._connections += 1
        number = self._connections
        conn = h11.Connection(h11.SERVER)
        try:
            await self._serve_connection(stream, conn, number)
        except _Disconnected:
            pass
        except Exception:
            # One broken connection must not take the server down with it.
            logger.exception("connection %d failed", number)
        finally:
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _serve_connection(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection, number: int
    ) -> None:
        while True:
            try:
                event = await self._next_event(stream, conn)
                if isinstance(event, h11.ConnectionClosed):
                    return
                assert isinstance(event, h11.Request)
                body = await self._read_body(stream, conn)
            except h11.RemoteProtocolError as exc:
                await self._reject_malformed(stream, conn, exc)
                return
            if body is None:
                reply = _error_reply(
                    413, f"Request body exceeds {MAX_REQUEST_BODY} bytes", _new_request_id()
                )
                await self._send_reply(stream, conn, reply)
            else:
                reply = self._reply_for(event, body, number)
                await self._send_reply(stream, conn, reply)
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                await self._close_gracefully(stream)
                return

    async def _next_event(self, stream: anyio.abc.SocketStream, conn: h11.Connection) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if conn.they_are_waiting_for_100_continue:
                await self._send(
                    stream, conn.send(h11.InformationalResponse(status_code=100, headers=[]))
                )
            conn.receive_data(await self._receive(stream))

    @staticmethod
    async def _receive(stream: anyio.abc.SocketStream) -> bytes:
        try:
            return await stream.receive(_RECEIVE_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return b""  # h11 turns this into ConnectionClosed, or an error mid-request

    async def _read_body(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection
    ) -> bytes | None:
        """The request body; None when it is over the size limit (the rest is left unread)."""
        parts: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event(stream, conn)
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            if isinstance(event, h11.ConnectionClosed):
                raise _Disconnected
            assert isinstance(event, h11.Data)
            size += len(event.data)
            if size > MAX_REQUEST_BODY:
                return None
            parts.append(event.data)

    def _reply_for(self, request: h11.Request, body: bytes, connection: int) -> _Reply:
        """Pick the reply and record the request: routing, validation, fixture choice."""
        method = request.method.decode("ascii", "replace")
        path, query = _split_target(request.target.decode("latin-1"))
        headers = _redact_headers(list(request.headers))
        request_id = _new_request_id()
        decoded: Any = None
        reply = _route_error(method, path, request_id)
        if reply is None:
            decoded, reply = _decode_body(body, request_id)
        if reply is None:
            reply = self._choose_fixture(headers.get(FIXTURE_HEADER), request_id)
        request_id = dict(reply.headers).get("request-id", request_id)
        logger.info(
            "%s %s -> %d %s (%s)",
            method,
            path,
            reply.status,
            reply.fixture or "",
            request_id,
        )
        if self.record_requests:
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    query=query,
                    headers=headers,
                    json=decoded,
                    status=reply.status,
                    request_id=request_id,
                    fixture=reply.fixture,
                    connection=connection,
                )
            )
        return reply

    def _choose_fixture(self, name: str | None, request_id: str) -> _Reply:
        if self._single is not None:
            return _fixture_reply(self._single, request_id)
        names = ", ".join(self.fixture_names)
        if name is None:
            if DEFAULT_FIXTURE not in self._fixtures:
                return _error_reply(
                    400,
                    f"No {FIXTURE_HEADER} header and no default fixture {DEFAULT_FIXTURE!r}; "
                    f"available: {names}",
                    request_id,
                )
            name = DEFAULT_FIXTURE
        prepared = self._fixtures.get(name.strip())
        if prepared is None:
            return _error_reply(404, f"Unknown fixture {name!r}; available: {names}", request_id)
        return _fixture_reply(prepared, request_id)

    async def _send_reply(
        self,
        stream: anyio.abc.SocketStream,
        conn: h11.Connection,
        reply: _Reply,
        *,
        count_disconnect: bool = True,
    ) -> None:
        """Send one response; a client gone before its end raises _Disconnected (and is
        counted in ``disconnects`` when ``count_disconnect``)."""
        if not reply.streamed:
            length = sum(len(piece) for piece in reply.pieces)
            headers = [*reply.headers, ("content-length", str(length))]
            data = (
                conn.send(
                    h11.Response(
                        status_code=reply.status, headers=headers, reason=_reason(reply.status)
                    )
                )
                or b""
            )
            for piece in reply.pieces:
                data += conn.send(h11.Data(data=piece)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
            try:
                await self._send(stream, data)
            except _Disconnected:
                if count_disconnect:
                    self._note_disconnect()
                raise
            return
        # No content-length: h11 frames the body with chunked encoding (close-delimited for an
        # HTTP/1.0 client), one chunk per piece.
        response = h11.Response(
            status_code=reply.status, headers=reply.headers, reason=_reason(reply.status)
        )
        completed = False
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self._watch_for_close, stream, conn, task_group.cancel_scope)
            try:
                await self._send(stream, conn.send(response))
                await self._send_pieces(stream, conn, reply)
                await self._send(stream, conn.send(h11.EndOfMessage()))
                completed = True
            except _Disconnected:
                pass  # raised below: from inside the task group it would come out wrapped
            task_group.cancel_scope.cancel()
        if not completed:
            if count_disconnect:
                self._note_disconnect()
            raise _Disconnected

    async def _send_pieces(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection, reply: _Reply
    ) -> None:
        for index, piece in enumerate(reply.pieces):
            if index == reply.pause_index:
                await self._hold()
            elif index and self.delay:
                await anyio.sleep(self.delay)
            await self._send(stream, conn.send(h11.Data(data=piece)))
            self.pieces_sent += 1
        if reply.pause_index == len(reply.pieces):
            await self._hold()

    async def _hold(self) -> None:
        self.paused.set()
        await self.resume.wait()

    async def _watch_for_close(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection, scope: anyio.CancelScope
    ) -> None:
        """While a response streams, notice the client closing and stop the stream.

        Bytes that arrive meanwhile are a pipelined next request: h11 keeps them for later.
        End-of-stream counts as a disconnect even when it is only a half-close (``nc -N``):
        HTTP clients that stream do not half-close, and a held stream must notice a real close.
        """
        while True:
            data = await self._receive(stream)
            if not data:
                scope.cancel()
                return
            conn.receive_data(data)

    @staticmethod
    async def _send(stream: anyio.abc.SocketStream, data: bytes | None) -> None:
        if not data:
            return
        try:
            await stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise _Disconnected from exc

    async def _reject_malformed(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection, exc: h11.RemoteProtocolError
    ) -> None:
        """Answer bytes that are not HTTP/1.1 with h11's suggested status, then close."""
        logger.info("malformed request: %s", exc)
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = exc.error_status_hint if 400 <= exc.error_status_hint < 600 else 400
        reply = _error_reply(status, f"Malformed HTTP request: {exc}", _new_request_id())
        await self._send_reply(stream, conn, reply, count_disconnect=False)
        await self._close_gracefully(stream)

    @staticmethod
    async def _close_gracefully(stream: anyio.abc.SocketStream) -> None:
        # Half-close, then read until the client closes too, so the response is delivered
        # before the socket goes (bounded: a client that never closes gets the plain close).
        with anyio.move_on_after(_LINGER_SECONDS):
            try:
                await stream.send_eof()
                drained = 0
                while drained < _LINGER_BYTES:
                    drained += len(await stream.receive(_RECEIVE_SIZE))
            except (
                anyio.EndOfStream,
                anyio.BrokenResourceError,
                anyio.ClosedResourceError,
                OSError,
            ):
                pass


async def serve_forever(
    source: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    delay: float = 0.0,
    announce: Callable[[str], None] | None = None,
    *,
    chunk_size: int | None = None,
) -> None:
    """Serve ``source`` until cancelled; ``announce(url)`` is called once the port is bound.

    Requests are not recorded (a long-running server would hold them all in memory).
    """
    server = ReplayServer(
        source, host=host, port=port, delay=delay, chunk_size=chunk_size, record_requests=False
    )
    async with server:
        if announce is not None:
            announce(server.url)
        await anyio.sleep_forever()
