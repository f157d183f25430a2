"""A sans-I/O Server-Sent Events framer: bytes in, events out.

It follows the WHATWG event-stream rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):

- a line ends at ``\\r\\n``, ``\\r`` or ``\\n`` and nowhere else (U+2028, U+0085, ``\\x0b`` …
  are ordinary data), also when a ``\\r\\n`` pair is split between two feeds;
- one leading UTF-8 byte order mark is dropped, also when it is split between feeds;
- ``:comment`` lines are ignored, ``field: value`` loses one leading space, a line with no
  colon is a field with an empty value, ``data`` lines are joined with ``\\n``;
- a blank line dispatches the event, unless it had no ``data`` line;
- ``id`` persists from event to event and is ignored when it contains NUL; ``retry`` is kept
  only when it is made of ASCII digits.

Two things go beyond the spec, for an API client: an event that is still incomplete when the
input ends is reported (``close`` raises ``NetworkError``) instead of being dropped silently,
and an event larger than ``max_event_size`` raises ``ProviderError`` instead of growing without
bound.

The framer works on bytes: ``data`` is handed on undecoded, since msgspec decodes JSON from
bytes directly.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from ..errors import NetworkError, ProviderError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEEvent", "SSEFramer"]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_QUOTE = 80  # how much of a partial event an error message quotes


class SSEEvent(msgspec.Struct, frozen=True, gc=False):
    """One dispatched event.

    ``data`` is the raw UTF-8 bytes of the joined ``data`` lines. ``id`` is the last event id
    seen so far on the stream (``None`` before any), ``retry`` the event's own ``retry`` value.
    """

    event: str = "message"
    data: bytes = b""
    id: str | None = None
    retry: int | None = None


# Event names repeat on every event: decode each distinct one once. Bounded, so that a
# hostile stream with ever new names cannot grow it.
_NAMES: dict[bytes, str] = {}
_NAMES_MAX = 256


def _name(raw: bytes) -> str:
    name = _NAMES.get(raw)
    if name is None:
        name = raw.decode("utf-8", "replace") or "message"
        if len(_NAMES) < _NAMES_MAX:
            _NAMES[raw] = name
    return name


class SSEFramer:
    """Turns the bytes of an event stream, split anywhere, into ``SSEEvent`` objects.

    Call ``feed`` with each piece as it arrives and ``close`` at the end of the input.
    """

    __slots__ = (
        "_closed",
        "_data",
        "_event",
        "_head",
        "_last_id",
        "_max",
        "_more",
        "_more_size",
        "_retry",
        "_skip_lf",
        "_tail",
        "_tail_size",
    )

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._max = max_event_size
        # Bytes that may still be the start of a BOM; None once the stream has started.
        self._head: bytes | None = b""
        # The unterminated last line, as a list of pieces joined once the line ends (so a
        # long line fed in tiny pieces costs linear time, not quadratic).
        self._tail: list[bytes] = []
        self._tail_size = 0
        # The previous piece ended with "\r": a "\n" starting the next one ends no line.
        self._skip_lf = False
        # The event being built: its name, first data line, further data lines.
        self._event: bytes | None = None
        self._data: bytes | None = None
        self._more: list[bytes] | None = None
        self._more_size = 0
        self._last_id: str | None = None
        self._retry: int | None = None
        self._closed = False

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Frame one piece of the stream; return the events it completed."""
        out: list[SSEEvent] = []
        self.feed_into(data, out.append)
        return out

    def close(self) -> list[SSEEvent]:
        """End of input. Raise ``NetworkError`` when it cut an event short.

        An unterminated last line counts as a line here, so a stream that ends with
        ``data: …`` and no newline is reported too. Returns no events: per the spec, only a
        blank line dispatches one.
        """
        if self._closed:
            return []
        self._closed = True
        head = self._head
        if head:
            # Fewer than three bytes in all: there is nothing to frame besides them.
            self._tail = [head]
        if self._tail:
            line = b"".join(self._tail)
            self._tail = []
            self._lines([line], _drop)
        if self._data is not None:
            pending = self._data if self._more is None else b"\n".join([self._data, *self._more])
            quoted = pending[:_QUOTE].decode("utf-8", "replace")
            raise NetworkError(f"stream ended in the middle of an event: {quoted}")
        return []

    def feed_into(self, data: bytes, append: Callable[[SSEEvent], object]) -> None:
        """Like ``feed``, but hand each event to ``append`` as soon as it is complete.

        If a later event of the same piece fails (too large), the earlier ones have already
        been handed on, so a caller can report the failure in order.
        """
        if self._closed:
            raise ProviderError("SSEFramer.feed called after close")
        if type(data) is not bytes:
            data = bytes(data)
        head = self._head
        if head is not None:
            if head:
                data = head + data
            if len(data) < 3 and _BOM.startswith(data):
                self._head = data
                return
            self._head = None
            if data.startswith(_BOM):
                data = data[3:]
        if self._skip_lf:
            if not data:
                return
            self._skip_lf = False
            if data[0] == 10:  # b"\n"
                data = data[1:]
        if b"\r" in data:
            # Rare on the wire: normalise to "\n" and note a trailing "\r", whose "\n" may
            # arrive in the next piece.
            self._skip_lf = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        rest = lines.pop()
        tail = self._tail
        if lines:
            if tail:
                tail.append(lines[0])
                lines[0] = b"".join(tail)
                tail.clear()
                self._tail_size = 0
            self._lines(lines, append)
        if rest:
            tail.append(rest)
            self._tail_size += len(rest)
        pending = self._tail_size + self._more_size
        if self._data is not None:
            pending += len(self._data)
        if pending > self._max:
            raise ProviderError(
                f"SSE event larger than max_event_size ({self._max} bytes); "
                f"it starts: {self._start_of_pending()!r}"
            )

    def _start_of_pending(self) -> str:
        start = self._data if self._data is not None else b"".join(self._tail[:4])
        return start[:_QUOTE].decode("utf-8", "replace")

    def _lines(self, lines: list[bytes], append: Callable[[SSEEvent], object]) -> None:
        # The hot loop: state lives in locals and is written back at the end. The common
        # "data: " and "event: " lines get a fast path before the general field parsing.
        event = self._event
        first = self._data
        more = self._more
        last_id = self._last_id
        retry = self._retry
        limit = self._max
        try:
            for line in lines:
                if not line:
                    if first is not None:
                        if more is None:
                            payload = first
                        else:
                            payload = b"\n".join([first, *more])
                            more = None
                            self._more_size = 0
                        if len(payload) > limit:
                            first = None
                            raise ProviderError(
                                f"SSE event larger than max_event_size ({limit} bytes); "
                                f"it starts: {payload[:_QUOTE].decode('utf-8', 'replace')!r}"
                            )
                        append(
                            SSEEvent(
                                "message" if event is None else _name(event),
                                payload,
                                last_id,
                                retry,
                            )
                        )
                        first = None
                    event = None
                    retry = None
                    continue
                if line.startswith(b"data:"):
                    value = line[6:] if line.startswith(b"data: ") else line[5:]
                    if first is None:
                        first = value
                    elif more is None:
                        more = [value]
                        self._more_size = len(value) + 1
                    else:
                        more.append(value)
                        self._more_size += len(value) + 1
                    continue
                if line.startswith(b"event:"):
                    event = line[7:] if line.startswith(b"event: ") else line[6:]
                    continue
                if line[0] == 58:  # b":" starts a comment
                    continue
                name, _, value = line.partition(b":")
                if value.startswith(b" "):
                    value = value[1:]
                if name == b"data":  # "data" with no colon: an empty data line
                    if first is None:
                        first = value
                    elif more is None:
                        more = [value]
                        self._more_size = len(value) + 1
                    else:
                        more.append(value)
                        self._more_size += len(value) + 1
                elif name == b"event":
                    event = value
                elif name == b"id":
                    if b"\0" not in value:
                        last_id = value.decode("utf-8", "replace")
                elif name == b"retry" and value.isdigit():
                    # bytes.isdigit() is ASCII-only, as the spec wants (int() alone would
                    # also take " 1", "+1", "1_0").
                    retry = int(value)
                # Any other field is ignored.
        finally:
            self._event = event
            self._data = first
            self._more = more
            self._last_id = last_id
            self._retry = retry


def _drop(_event: SSEEvent) -> None:
    # close() frames the last unterminated line only to learn whether it held data; a
    # line with no blank line after it can never dispatch an event.
    raise AssertionError("unreachable: a single non-blank line cannot dispatch")  # pragma: no cover
