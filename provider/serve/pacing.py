"""The pace of a streamed body: the pieces it is cut into (pure) and the waits between them.

A recorded event stream is sent the way the API sends it, one SSE event per chunk, each as soon as
it is due; tests can cut it into fixed-size chunks instead, slow it down, or hold it after some
events until they release it.
"""

from __future__ import annotations

import re

import anyio

__all__ = ["Pacer", "plan_pieces", "split_events"]

_LINE_END = rb"(?:\r\n|\r(?!\n)|\n)"
_EVENT_END = re.compile(_LINE_END + _LINE_END)


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


class Pacer:
    """The waits of a server's streams: ``delay`` seconds between pieces, and a hold.

    A planned body holds before piece ``pause_index`` until :attr:`resume` is set (it stays set:
    later streams run through); :attr:`paused` is set when a stream starts holding. Build it
    inside the event loop that serves (anyio events belong to one loop).
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.resume = anyio.Event()
        self.paused = anyio.Event()

    async def before(self, index: int, pause_index: int | None) -> None:
        """Wait before piece ``index`` (``index == len(pieces)``: after the last one)."""
        if index == pause_index:
            self.paused.set()
            await self.resume.wait()
        elif index and self.delay:
            await anyio.sleep(self.delay)
