"""The server's lifecycle: a listener, one task per connection, and what tests can observe."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Protocol

import anyio
import anyio.abc
import h11
import msgspec

from ..errors import redact
from .choice import DEFAULT_FIXTURE, Catalog
from .connection import logger, serve_connection
from .pacing import Pacer
from .replies import Reply, error_reply, new_request_id
from .routing import Incoming, parse_request

__all__ = ["RecordedRequest", "ReplayServer", "Responder", "serve_forever"]


class Responder(Protocol):
    """Answers valid Messages requests: a :class:`~provider.serve.Catalog`, or a recorder.

    A responder with an ``async def aclose()`` is closed when the server stops.
    """

    async def respond(self, incoming: Incoming) -> Reply:
        """The reply to ``incoming``; an exception becomes a 500 naming it."""


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


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class ReplayServer:
    """A loopback HTTP/1.1 server that answers ``POST …/v1/messages`` with recorded fixtures.

    ``source`` is one fixture body file (served for every request), a fixture directory (the
    ``x-provider-fixture: NAME`` header picks a fixture or a sequence; no header serves
    ``default``, ``haiku`` unless told otherwise), or any :class:`Responder` (a
    :class:`~provider.serve.Catalog` built by hand, a recorder that forwards upstream). Fixtures
    are loaded and checked when the server is built, so a bad one fails here, not mid-request.

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
    pacer: Pacer

    def __init__(
        self,
        source: str | os.PathLike[str] | Responder,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        chunk_size: int | None = None,
        pause_after_events: int | None = None,
        record_requests: bool = True,
        default: str | None = DEFAULT_FIXTURE,
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
        #: Why requests could not be answered as recorded (a differing request, one past the
        #: end of a sequence), in order; kept whatever ``record_requests`` says.
        self.problems: list[str] = []
        #: How many responses were cut short because the client went away (closed its end).
        self.disconnects = 0
        #: Stream pieces (chunks) sent so far, over all responses; whole-body replies such as
        #: JSON errors do not count.
        self.pieces_sent = 0
        if isinstance(source, (str, os.PathLike)):
            source = Catalog.load(
                source,
                default=default,
                chunk_size=chunk_size,
                pause_after_events=pause_after_events,
            )
        self.responder: Responder = source
        self._connections = 0
        self._stack: AsyncExitStack | None = None
        self._disconnect_seen: anyio.Event | None = None

    @property
    def fixture_names(self) -> list[str]:
        """The names a request can pick with ``x-provider-fixture`` (empty for a single file)."""
        return self.responder.names if isinstance(self.responder, Catalog) else []

    async def __aenter__(self) -> ReplayServer:
        if self._stack is not None:
            raise RuntimeError("ReplayServer is already running")
        self.pacer = Pacer(self.delay)
        self.resume = self.pacer.resume
        self.paused = self.pacer.paused
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
        aclose = getattr(self.responder, "aclose", None)  # a recorder's upstream client
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()

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

    async def _handle_connection(self, stream: anyio.abc.SocketStream) -> None:
        self._connections += 1
        await serve_connection(stream, self._connections, self)

    # --- the connection's Host ------------------------------------------------------------------

    def disconnected(self) -> None:
        self.disconnects += 1
        if self._disconnect_seen is not None:
            self._disconnect_seen.set()
            self._disconnect_seen = anyio.Event()

    def piece_sent(self) -> None:
        self.pieces_sent += 1

    async def reply_for(self, request: h11.Request, body: bytes, connection: int) -> Reply:
        """Route and validate the request, ask the responder, and record the exchange."""
        method = request.method.decode("ascii", "replace")
        incoming, reply = parse_request(
            method, request.target.decode("latin-1"), list(request.headers), body, new_request_id()
        )
        if reply is None:
            try:
                reply = await self.responder.respond(incoming)
            except Exception as exc:
                logger.exception("responder failed on %r", incoming)
                problem = redact(f"the server could not answer: {type(exc).__name__}: {exc}")
                reply = error_reply(500, problem, incoming.request_id)
                reply.problem = problem
        if reply.problem is not None:
            self.problems.append(reply.problem)
        request_id = dict(reply.headers).get("request-id", incoming.request_id)
        logger.info(
            "%s %s -> %d %s (%s)",
            method,
            incoming.path,
            reply.status,
            reply.fixture or "",
            request_id,
        )
        if self.record_requests:
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=incoming.path,
                    query=incoming.query,
                    headers=incoming.headers,
                    json=incoming.json,
                    status=reply.status,
                    request_id=request_id,
                    fixture=reply.fixture,
                    connection=connection,
                )
            )
        return reply


async def serve_forever(
    source: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    delay: float = 0.0,
    announce: Callable[[str], None] | None = None,
    *,
    chunk_size: int | None = None,
    default: str | None = DEFAULT_FIXTURE,
) -> None:
    """Serve ``source`` until cancelled; ``announce(url)`` is called once the port is bound.

    Requests are not recorded (a long-running server would hold them all in memory).
    """
    server = ReplayServer(
        source,
        host=host,
        port=port,
        delay=delay,
        chunk_size=chunk_size,
        record_requests=False,
        default=default,
    )
    async with server:
        if announce is not None:
            announce(server.url)
        await anyio.sleep_forever()
