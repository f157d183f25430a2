"""Shared by the tests' own scripted servers: listen on a free 127.0.0.1 port and serve."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc


async def listen(
    stack: contextlib.AsyncExitStack, handler: Callable[[Any], Awaitable[None]]
) -> str:
    """Serve ``handler`` for each connection, in a task group that ``stack`` cancels and closes
    (the cancel runs first: callbacks run LIFO). Returns the server's ``http://`` URL."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    stack.push_async_callback(listener.aclose)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    group = await stack.enter_async_context(anyio.create_task_group())
    stack.callback(group.cancel_scope.cancel)
    group.start_soon(listener.serve, handler, group)
    return f"http://127.0.0.1:{port}"
