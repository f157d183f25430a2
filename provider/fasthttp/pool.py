"""The connection pool: idle connections per origin, within httpx's ``Limits``.

As in httpcore: at most ``max_connections`` open or opening at once (a request waits for one to
come free, within the pool timeout), at most ``max_keepalive_connections`` kept idle, and an idle
connection older than ``keepalive_expiry`` or closed by the server is dropped when next looked at.
When the limit is reached and an idle connection to another origin is in the way, it is closed.
"""

from __future__ import annotations

import asyncio
import collections
import ssl

import httpx

from .connection import Connection, Failure

__all__ = ["Origin", "Pool"]

Origin = tuple[str, str, int]  # scheme, host, port


class Pool:
    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._ssl = ssl_context
        self._max = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}
        self._idle_count = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._all: set[Connection] = set()  # open or opening, idle ones included
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(
        self,
        origin: Origin,
        connect: float | None,
        pool: float | None,
        sni: str | None,
    ) -> Connection | Failure:
        """A connection to ``origin``, reused or new, or why none could be had."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._forget(loop)
        deadline = None if pool is None else loop.time() + pool
        while True:
            found = self._take_idle(origin, loop.time())
            if found is not None:
                return found
            if self._max is None or len(self._all) < self._max or self._close_one_idle():
                return await self._open(origin, connect, sni, loop)
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                left = None if deadline is None else max(deadline - loop.time(), 0.0)
                await asyncio.wait_for(waiter, left)
            except BaseException as exc:
                # A wake-up this waiter can no longer use goes to the next one.
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                self._wake_one()
                if isinstance(exc, asyncio.TimeoutError):
                    return (httpx.PoolTimeout, "timed out waiting for a free connection")
                raise

    def release(self, conn: Connection) -> None:
        """Back to the pool if it can carry another request; closed otherwise."""
        room = self._max_idle is None or self._idle_count < self._max_idle
        if conn.reusable and conn in self._all and room:
            conn.idle()
            self._idle.setdefault(conn.origin, []).append(conn)
            self._idle_count += 1
        else:
            self._drop(conn)
        self._wake_one()

    def release_broken(self, conn: Connection) -> None:
        """Closed whatever its state: a response not read to its end, or a failed one."""
        self._drop(conn)
        self._wake_one()

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._forget(loop)  # another loop's connections cannot be closed from this one
        for conn in list(self._all):
            self._drop(conn)
        self._idle.clear()
        self._idle_count = 0
        await asyncio.sleep(0)  # let the transports finish closing

    # --- internals ----------------------------------------------------------------------------

    async def _open(
        self,
        origin: Origin,
        connect: float | None,
        sni: str | None,
        loop: asyncio.AbstractEventLoop,
    ) -> Connection | Failure:
        scheme, host, port = origin
        conn = Connection(loop, origin)
        self._all.add(conn)
        tls = self._ssl if scheme == "https" else None
        failure: Failure | None = None
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: conn,
                    host,
                    port,
                    ssl=tls,
                    server_hostname=(sni or host) if tls else None,
                ),
                connect,
            )
        except asyncio.TimeoutError:
            failure = (httpx.ConnectTimeout, "timed out connecting")
        except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
            failure = (httpx.ConnectError, f"{type(exc).__name__}: {exc}")
        except BaseException:  # cancelled: the slot is given back
            self._drop(conn)
            self._wake_one()
            raise
        if failure is not None:
            self._drop(conn)
            self._wake_one()
            return failure
        return conn

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        """A client used from a new event loop (a second ``asyncio.run``): the connections of
        the old one can neither be used nor closed from here, so they are let go."""
        self._idle.clear()
        self._idle_count = 0
        self._waiters.clear()
        self._all.clear()
        self._loop = loop

    def _take_idle(self, origin: Origin, now: float) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be closed
            self._idle_count -= 1
            expired = self._expiry is not None and now - conn.idle_since > self._expiry
            if conn.reusable and not expired:
                return conn
            self._drop(conn)
        return None

    def _close_one_idle(self) -> bool:
        for idle in self._idle.values():
            if idle:
                self._idle_count -= 1
                self._drop(idle.pop(0))  # the oldest
                return True
        return False

    def _drop(self, conn: Connection) -> None:
        conn.close()
        self._all.discard(conn)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
