"""A minimal loopback HTTP/1.1 server for event streams (asyncio streams, keep-alive, chunked).

It answers every request with ``200 text/event-stream`` and hands the response to a handler
that writes SSE bytes, so each bench decides how the stream is paced: all at once, in timed
bursts, one event per acknowledgement (latency), or held open (memory per open stream).
The server does as little as possible per request so that the clients' cost dominates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

__all__ = ["Handler", "Response", "SSEServer"]

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\n"
    b"request-id: req_bench\r\n"
    b"transfer-encoding: chunked\r\n"
    b"\r\n"
)


class Response:
    """The body of one response: ``send`` writes one HTTP chunk and waits for the socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes) -> None:
        self._writer.write(b"%x\r\n%b\r\n" % (len(data), data))
        await self._writer.drain()

    async def send_framed(self, data: bytes) -> None:
        """Write bytes already framed as HTTP chunks (many at once) and wait for the socket."""
        self._writer.write(data)
        await self._writer.drain()

    async def wait_closed_by_peer(self) -> None:
        """Wait until the client closes the connection (it stopped reading the stream)."""
        while await self._reader.read(65536):
            pass


Handler = Callable[[Response], Awaitable[None]]


class SSEServer:
    """``async with SSEServer(handler) as server: server.url`` (an ``http://127.0.0.1:PORT``)."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> SSEServer:
        # A deep backlog: the concurrency bench connects 500 clients at once.
        self._server = await asyncio.start_server(
            self._connection, self._host, self._port, backlog=4096
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                writer.write(_HEAD)
                await self._handler(Response(reader, writer))
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
