"""A :class:`~provider.serve.ReplayServer` in a thread of its own, for callers without a loop.

The server runs in its own event loop (asyncio, through an anyio blocking portal), so it answers
whatever the caller does meanwhile: block in a sync client, or run a trio or asyncio loop of its
own. This is how the pytest plugin serves sync tests and async tests alike.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType

from anyio.from_thread import start_blocking_portal

from .server import ReplayServer

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """``with BackgroundServer(ReplayServer(...)) as server:`` serves until the block ends.

    Inside the block, ``server.url`` answers; read ``server.requests`` / ``server.problems``
    from the calling thread (they are only appended to).
    """

    def __init__(self, server: ReplayServer) -> None:
        self.server = server
        self._stack: ExitStack | None = None

    def __enter__(self) -> ReplayServer:
        with ExitStack() as stack:
            portal = stack.enter_context(start_blocking_portal("asyncio"))
            stack.enter_context(portal.wrap_async_context_manager(self.server))
            self._stack = stack.pop_all()
        return self.server

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
