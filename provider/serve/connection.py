"""One loopback HTTP/1.1 connection: bytes between an anyio socket and h11, nothing else.

The connection reads requests (answering ``Expect: 100-continue`` and refusing bodies over the
size limit), asks its :class:`Host` for each reply, and sends it: whole with a content-length, or
streamed with chunked encoding while watching for the client going away. HTTP itself is h11's
job; nothing here parses HTTP by hand.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any, Protocol

import anyio
import anyio.abc
import h11

from .pacing import Pacer
from .replies import Reply, error_reply, new_request_id, reason

__all__ = ["MAX_REQUEST_BODY", "Host", "serve_connection"]

logger = logging.getLogger("provider.serve")

MAX_REQUEST_BODY = 32 * 1024 * 1024  # the API's own limit for Messages requests
_RECEIVE_SIZE = 65536
# A server-side close waits this long for the client to read the response and close first:
# closing with unread input makes the kernel send RST, which can destroy a response in flight.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 1024 * 1024
_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class Host(Protocol):
    """What a connection needs from its server."""

    pacer: Pacer

    async def reply_for(self, request: h11.Request, body: bytes, connection: int) -> Reply:
        """The reply to one complete request."""

    def piece_sent(self) -> None:
        """A streamed piece went out."""

    def disconnected(self) -> None:
        """A client went away before its response was complete."""


class _Disconnected(Exception):
    """The client went away before the response was complete."""


async def serve_connection(stream: anyio.abc.SocketStream, number: int, host: Host) -> None:
    """Serve requests on ``stream`` until the client closes it; always closes it."""
    conn = h11.Connection(h11.SERVER)
    try:
        await _serve(stream, conn, number, host)
    except _Disconnected:
        pass
    except Exception:
        # One broken connection must not take the server down with it.
        logger.exception("connection %d failed", number)
    finally:
        with anyio.CancelScope(shield=True):
            await stream.aclose()


async def _serve(
    stream: anyio.abc.SocketStream, conn: h11.Connection, number: int, host: Host
) -> None:
    while True:
        try:
            event = await _next_event(stream, conn)
            if isinstance(event, h11.ConnectionClosed):
                return
            assert isinstance(event, h11.Request)
            body = await _read_body(stream, conn)
        except h11.RemoteProtocolError as exc:
            await _reject_malformed(stream, conn, exc, host)
            return
        if body is None:
            reply = error_reply(
                413, f"Request body exceeds {MAX_REQUEST_BODY} bytes", new_request_id()
            )
        else:
            reply = await host.reply_for(event, body, number)
        await _send_reply(stream, conn, reply, host)
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            await _close_gracefully(stream)
            return


async def _next_event(stream: anyio.abc.SocketStream, conn: h11.Connection) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        if conn.they_are_waiting_for_100_continue:
            await _send(stream, conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        conn.receive_data(await _receive(stream))


async def _receive(stream: anyio.abc.SocketStream) -> bytes:
    try:
        return await stream.receive(_RECEIVE_SIZE)
    except _GONE:
        return b""  # h11 turns this into ConnectionClosed, or an error mid-request


async def _read_body(stream: anyio.abc.SocketStream, conn: h11.Connection) -> bytes | None:
    """The request body; None when it is over the size limit (the rest is left unread)."""
    parts: list[bytes] = []
    size = 0
    while True:
        event = await _next_event(stream, conn)
        if isinstance(event, h11.EndOfMessage):
            return b"".join(parts)
        if isinstance(event, h11.ConnectionClosed):
            raise _Disconnected
        assert isinstance(event, h11.Data)
        size += len(event.data)
        if size > MAX_REQUEST_BODY:
            return None
        parts.append(event.data)


async def _send_reply(
    stream: anyio.abc.SocketStream,
    conn: h11.Connection,
    reply: Reply,
    host: Host | None,
) -> None:
    """Send one response; a client gone before its end raises _Disconnected (and is reported
    to ``host``, when given). ``reply.close`` runs in every case."""
    async with AsyncExitStack() as stack:
        if reply.close is not None:
            stack.push_async_callback(reply.close)
        try:
            if reply.streamed or reply.stream is not None:
                await _send_streamed(stream, conn, reply, host)
            else:
                await _send_whole(stream, conn, reply)
        except _Disconnected:
            if host is not None:
                host.disconnected()
            raise


async def _send_whole(stream: anyio.abc.SocketStream, conn: h11.Connection, reply: Reply) -> None:
    length = sum(len(piece) for piece in reply.pieces)
    headers = [*reply.headers, ("content-length", str(length))]
    response = h11.Response(status_code=reply.status, headers=headers, reason=reason(reply.status))
    data = conn.send(response) or b""
    for piece in reply.pieces:
        data += conn.send(h11.Data(data=piece)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await _send(stream, data)


async def _send_streamed(
    stream: anyio.abc.SocketStream, conn: h11.Connection, reply: Reply, host: Host | None
) -> None:
    # No content-length: h11 frames the body with chunked encoding (close-delimited for an
    # HTTP/1.0 client), one chunk per piece.
    response = h11.Response(
        status_code=reply.status, headers=reply.headers, reason=reason(reply.status)
    )
    completed = False
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(_watch_for_close, stream, conn, task_group.cancel_scope)
        try:
            await _send(stream, conn.send(response))
            await _send_pieces(stream, conn, reply, host)
            await _send(stream, conn.send(h11.EndOfMessage()))
            completed = True
        except _Disconnected:
            pass  # raised below: from inside the task group it would come out wrapped
        task_group.cancel_scope.cancel()
    if not completed:
        raise _Disconnected


async def _send_pieces(
    stream: anyio.abc.SocketStream, conn: h11.Connection, reply: Reply, host: Host | None
) -> None:
    if reply.stream is not None:
        async for piece in reply.stream:  # relayed as it arrives: the upstream sets the pace
            await _send(stream, conn.send(h11.Data(data=piece)))
            if host is not None:
                host.piece_sent()
        return
    for index, piece in enumerate(reply.pieces):
        if host is not None:
            await host.pacer.before(index, reply.pause_index)
        await _send(stream, conn.send(h11.Data(data=piece)))
        if host is not None:
            host.piece_sent()
    if host is not None and reply.pause_index == len(reply.pieces):
        await host.pacer.before(len(reply.pieces), reply.pause_index)


async def _watch_for_close(
    stream: anyio.abc.SocketStream, conn: h11.Connection, scope: anyio.CancelScope
) -> None:
    """While a response streams, notice the client closing and stop the stream.

    Bytes that arrive meanwhile are a pipelined next request: h11 keeps them for later.
    End-of-stream counts as a disconnect even when it is only a half-close (``nc -N``):
    HTTP clients that stream do not half-close, and a held stream must notice a real close.
    """
    while True:
        data = await _receive(stream)
        if not data:
            scope.cancel()
            return
        conn.receive_data(data)


async def _send(stream: anyio.abc.SocketStream, data: bytes | None) -> None:
    if not data:
        return
    try:
        await stream.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
        raise _Disconnected from exc


async def _reject_malformed(
    stream: anyio.abc.SocketStream,
    conn: h11.Connection,
    exc: h11.RemoteProtocolError,
    host: Host,
) -> None:
    """Answer bytes that are not HTTP/1.1 with h11's suggested status, then close."""
    logger.info("malformed request: %s", exc)
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    status = exc.error_status_hint if 400 <= exc.error_status_hint < 600 else 400
    reply = error_reply(status, f"Malformed HTTP request: {exc}", new_request_id())
    await _send_reply(stream, conn, reply, None)
    await _close_gracefully(stream)


async def _close_gracefully(stream: anyio.abc.SocketStream) -> None:
    # Half-close, then read until the client closes too, so the response is delivered
    # before the socket goes (bounded: a client that never closes gets the plain close).
    with anyio.move_on_after(_LINGER_SECONDS):
        try:
            await stream.send_eof()
            drained = 0
            while drained < _LINGER_BYTES:
                drained += len(await stream.receive(_RECEIVE_SIZE))
        except _GONE:
            pass
