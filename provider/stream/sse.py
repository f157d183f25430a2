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
and an event whose data is larger than ``max_event_size`` (or any line longer than that plus
the 6 bytes of ``data: ``) raises ``ProviderError`` instead of growing without bound.

The framer works on bytes: ``data`` is handed on undecoded, since msgspec decodes JSON from
bytes directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from ..errors import NetworkError, ProviderError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEEvent", "SSEFramer"]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_QUOTE = 80  # how much of a partial event an error message quotes
_PREFIX = len(b"data: ")  # a line may be this much longer than max_event_size


class SSEEvent(msgspec.Struct, frozen=True, gc=False):
    """One dispatched event.

    ``data`` is the raw UTF-8 bytes of the joined ``data`` lines. ``id`` is the last event id
    seen so far on the stream (``None`` before any), ``retry`` the event's own ``retry`` value.
    """

    event: str = "message"
    data: bytes = b""
    id: str | None = None
    retry: int | None = None


# The common shape of an event, "event: NAME\ndata: DATA\n\n" (or just its data line), is
# framed by one regex pass per piece; anything else ("other", one whole line) goes through the
# general field parsing. The scan needs no care: every position it starts at is a line start,
# and the last alternative matches any line, so its matches cover the buffer with no gaps.
_SCAN = re.compile(rb"(event: [^\n]*\n)?data: ([^\n]*)\n\n|([^\n]*\n)")

# Event names repeat on every event: decode each distinct one once, keyed by its whole
# "event: NAME\n" line (b"" when there is none). Bounded, against streams of ever new names.
_LINE_NAMES: dict[bytes, str] = {b"": "message"}
_NAMES_MAX = 256


def _name(raw: bytes | None) -> str:
    if not raw:
        return "message"
    return raw.decode("utf-8", "replace")


def _line_name(line: bytes) -> str:
    name = _name(line[7:-1])
    if len(_LINE_NAMES) < _NAMES_MAX:
        _LINE_NAMES[line] = name
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
        blank line dispatches one, and what is left cannot be one.
        """
        if self._closed:
            return []
        self._closed = True
        if self._head:
            # Fewer than three bytes in all, a prefix of the BOM: they are a line of their own.
            self._tail = [self._head]
        if self._tail:
            line = b"".join(self._tail)
            self._tail = []
            self._line(line, _never)
        if self._data is not None:
            quoted = self._pending_start()
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
            # Rare on the wire: normalise to "\n", noting a trailing "\r" (its "\n" may come
            # at the start of the next piece).
            self._skip_lf = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = data.rfind(b"\n") + 1
        tail = self._tail
        if end:
            start = 0
            if tail:
                start = data.find(b"\n") + 1
                tail.append(data[: start - 1])
                line = b"".join(tail)
                tail.clear()
                self._tail_size = 0
                self._line(line, append)
            if start < end:
                self._scan(data, start, end, append)
        if end < len(data):
            rest = data[end:]
            tail.append(rest)
            self._tail_size += len(rest)
        # The memory bound between pieces. Both tests are lower bounds of what the one-piece
        # path checks (the event's data, each line), so the outcome does not depend on the split.
        if self._tail_size > self._max + _PREFIX:
            raise self._too_large(b"".join(tail[:2]))
        if self._data is not None and len(self._data) + self._more_size > self._max:
            raise self._too_large(self._pending_start())

    def _scan(
        self, data: bytes, start: int, end: int, append: Callable[[SSEEvent], object]
    ) -> None:
        # The hot loop, over complete lines data[start:end].
        names = _LINE_NAMES
        last_id = self._last_id
        clean = self._event is None and self._data is None and self._retry is None
        checked = end - start > self._max
        for event, payload, other in _SCAN.findall(data, start, end):
            if other:
                self._line(other[:-1], append)
                last_id = self._last_id
                clean = self._event is None and self._data is None and self._retry is None
            elif clean:
                if checked and (len(payload) > self._max or len(event) > self._max + _PREFIX + 1):
                    raise self._too_large(payload)
                name = names.get(event)
                if name is None:
                    name = _line_name(event)
                append(SSEEvent(name, payload, last_id, None))
            else:
                # Fields of this event came before it: take the slow, general way.
                if event:
                    self._line(event[:-1], append)
                self._add_data(payload)
                self._dispatch(append)
                clean = True

    def _line(self, line: bytes, append: Callable[[SSEEvent], object]) -> None:
        if len(line) > self._max + _PREFIX:
            raise self._too_large(line)
        if not line:
            self._dispatch(append)
            return
        if line[0] == 58:  # b":" starts a comment
            return
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._add_data(value)
        elif name == b"event":
            self._event = value
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            # bytes.isdigit() is ASCII-only, as the spec wants (int() alone would also
            # take " 1", "+1", "1_0").
            self._retry = int(value)
        # Any other field is ignored.

    def _add_data(self, value: bytes) -> None:
        if self._data is None:
            self._data = value
        elif self._more is None:
            self._more = [value]
            self._more_size = len(value) + 1
        else:
            self._more.append(value)
            self._more_size += len(value) + 1

    def _dispatch(self, append: Callable[[SSEEvent], object]) -> None:
        first = self._data
        if first is not None:
            if self._more is None:
                payload = first
            else:
                payload = b"\n".join([first, *self._more])
                self._more = None
                self._more_size = 0
            self._data = None
            if len(payload) > self._max:
                raise self._too_large(payload)
            append(SSEEvent(_name(self._event), payload, self._last_id, self._retry))
        # Per the spec, an event with no data is dropped, name and all.
        self._event = None
        self._retry = None

    def _pending_start(self) -> str:
        if self._data is None:
            return ""
        start = self._data if self._more is None else b"\n".join([self._data, *self._more[:1]])
        return start[:_QUOTE].decode("utf-8", "replace")

    def _too_large(self, start: bytes | str) -> ProviderError:
        if isinstance(start, bytes):
            start = start[:_QUOTE].decode("utf-8", "replace")
        return ProviderError(
            f"SSE event larger than max_event_size ({self._max} bytes); it starts: {start!r}"
        )


def _never(_event: SSEEvent) -> None:  # pragma: no cover
    # close() frames the last unterminated line only to learn whether it held data; a
    # non-blank line cannot dispatch an event.
    raise AssertionError("unreachable")
