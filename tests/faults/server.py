"""A scripted loopback server that breaks HTTP on purpose, and the checks the fault tests share.

``FaultServer`` listens on 127.0.0.1 with raw anyio TCP (asyncio or trio) and hands every
accepted connection to the test's *script*, an async function of a ``FaultConnection``. The
script reads the request (h11 parses it), then writes what it likes: a well-formed response,
part of one, one byte at a time, or nothing; and ends the connection how it likes: a reset
(SO_LINGER 0), a FIN in the middle of the body, or waiting for the client to give up.

Everything a connection writes is recorded, with the body bytes told apart from the framing
(``FaultConnection.body``), so that a test computes what a correct client must have yielded
from the bytes actually sent (``sent_text``), not from what it meant to send. Every connection
also records how it ended (``closed_by``), so a test can check the client closed its side.
"""

from __future__ import annotations

import contextlib
import gc
import json
import socket
import struct
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.abc
import h11
import sniffio

from tests.loopback import listen

__all__ = [
    "CLIENT_CLOSED",
    "FaultConnection",
    "FaultServer",
    "Framing",
    "LoadScript",
    "Response",
    "Script",
    "message_events",
    "no_leaks",
    "sent_text",
    "sse",
]

Framing = Literal["chunked", "length", "close"]
Script = Callable[["FaultConnection"], Awaitable[None]]

#: ``closed_by`` values that mean the client closed (or reset) its end of the connection.
CLIENT_CLOSED = frozenset({"eof", "reset", "broken"})
SSE_HEADERS = (("content-type", "text/event-stream; charset=utf-8"), ("request-id", "req_fault"))

try:  # Linux: bytes the peer has not acknowledged yet
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):  # pragma: no cover - not Linux
    _OUTQ = None

_RECEIVE = 65536
_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)


# --- what to send ---------------------------------------------------------------------------------


def sse(name: str, data: Any) -> bytes:
    """One event: ``event: NAME`` and its JSON data (``bytes`` data is sent as it is)."""
    payload = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


def message_events(
    pieces: Iterable[str],
    *,
    input_tokens: int = 12,
    output_tokens: int = 9,
    stop_reason: str = "end_turn",
) -> list[bytes]:
    """A complete Messages stream, one event per item: one text block made of ``pieces``."""
    usage = {"input_tokens": input_tokens, "output_tokens": 1}
    message: dict[str, object] = {
        "id": "msg_fault", "type": "message", "role": "assistant", "content": [],
        "model": "claude-sonnet-4-5", "stop_reason": None, "usage": usage,
    }  # fmt: skip
    block = {"type": "text", "text": ""}
    events = [
        sse("message_start", {"type": "message_start", "message": message}),
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        sse("ping", {"type": "ping"}),
    ]
    for text in pieces:
        delta = {"type": "text_delta", "text": text}
        events.append(
            sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    stop = {"stop_reason": stop_reason, "stop_sequence": None}
    final = {"type": "message_delta", "delta": stop, "usage": {"output_tokens": output_tokens}}
    events += [
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse("message_delta", final),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return events


class Response:
    """A response planned as wire pieces, each marked as body bytes or framing.

    ``framing``: ``"chunked"`` (one HTTP chunk per body piece), ``"length"`` (a content-length)
    or ``"close"`` (an HTTP/1.0 response whose body ends when the server closes). With
    ``terminate=False`` a chunked body lacks its final ``0`` chunk; ``content_length``
    overrides the length a ``"length"`` head announces.
    """

    def __init__(
        self,
        body: Sequence[bytes] = (),
        *,
        status: int = 200,
        headers: Iterable[tuple[str, str]] = SSE_HEADERS,
        framing: Framing = "chunked",
        terminate: bool = True,
        content_length: int | None = None,
    ) -> None:
        version = b"HTTP/1.0" if framing == "close" else b"HTTP/1.1"
        lines = [b"%s %d %s" % (version, status, b"OK" if status == 200 else b"Error")]
        lines += [f"{name}: {value}".encode() for name, value in headers]
        if framing == "chunked":
            lines.append(b"transfer-encoding: chunked")
        elif framing == "length":
            length = sum(len(piece) for piece in body) if content_length is None else content_length
            lines.append(b"content-length: %d" % length)
        self.framing = framing
        self.head = b"\r\n".join(lines) + b"\r\n\r\n"
        self.pieces: list[tuple[bytes, bool]] = [(self.head, False)]
        self._ends: list[int] = []  # wire offset just after each body piece
        offset = len(self.head)
        for piece in body:
            if framing == "chunked":
                if not piece:
                    continue  # an empty chunk would end the body
                size = b"%x\r\n" % len(piece)
                self.pieces += [(size, False), (piece, True), (b"\r\n", False)]
                offset += len(size) + len(piece)
                self._ends.append(offset)
                offset += 2
            else:
                self.pieces.append((piece, True))
                offset += len(piece)
                self._ends.append(offset)
        if framing == "chunked" and terminate:
            self.pieces.append((b"0\r\n\r\n", False))

    @property
    def wire(self) -> bytes:
        return b"".join(piece for piece, _ in self.pieces)

    def end_of(self, index: int) -> int:
        """The wire offset just after body piece ``index`` (negative counts from the end)."""
        return self._ends[index]


# --- the oracle -----------------------------------------------------------------------------------


def sent_text(body: bytes) -> str:
    """The text a correct client yields for ``body`` before it stops: the text deltas of the
    complete events (ended by a blank line), in order, up to the first event that is not valid
    JSON or comes out of order. Independent of the package's own decoder on purpose."""
    events = body.replace(b"\r\n", b"\n").split(b"\n\n")[:-1]  # the last part is incomplete
    texts: list[str] = []
    started = done = False
    open_blocks: set[int] = set()
    for raw in events:
        name, data = "message", []
        for line in raw.split(b"\n"):
            field, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if field == b"event":
                name = value.decode("utf-8", "replace")
            elif field == b"data":
                data.append(value)
        if not data or name == "ping":
            continue
        try:
            # Strict UTF-8: json.loads(bytes) would let encoded surrogates through.
            event = json.loads(b"\n".join(data).decode("utf-8"))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            break
        kind = event.get("type") if name == "message" else name
        if done or kind == "error":
            break
        if kind == "message_start":
            if started:
                break
            started = True
        elif not started:
            break
        elif kind == "content_block_start":
            if event["index"] in open_blocks:
                break
            open_blocks.add(event["index"])
            texts.append(event["content_block"].get("text") or "")
        elif kind == "content_block_delta":
            if event["index"] not in open_blocks:
                break
            if event["delta"]["type"] == "text_delta":
                texts.append(event["delta"]["text"])
        elif kind == "content_block_stop":
            open_blocks.discard(event["index"])
        elif kind == "message_stop":
            done = True
    return "".join(texts)


# --- one connection -------------------------------------------------------------------------------


class FaultConnection:
    """One accepted connection, as its script drives it; records what was sent and how it ended.

    ``closed_by``: ``"eof"`` or ``"reset"`` (the client closed its end), ``"broken"`` (a write
    failed because the client was gone), ``"server reset"`` / ``"server close"`` (the script
    ended it first), None while it is open.
    """

    def __init__(self, stream: anyio.abc.SocketStream, number: int) -> None:
        self.number = number
        self.request: h11.Request | None = None
        self.request_body = b""
        #: Every byte written, and the body bytes among them (framing left out).
        self.wire = bytearray()
        self.body = bytearray()
        self.closed_by: str | None = None
        #: Set once a request has been read; ``finished`` once the connection is gone.
        self.requested = anyio.Event()
        self.finished = anyio.Event()
        self._stream = stream
        self._h11 = h11.Connection(h11.SERVER)

    @property
    def request_json(self) -> Any:
        return json.loads(self.request_body)

    async def read_request(self) -> h11.Request | None:
        """Read one whole request (None when the client closed instead of sending one)."""
        parts: list[bytes] = []
        request: h11.Request | None = None
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                self._h11.receive_data(await self._receive())
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                return None
        # The response is raw bytes h11 never saw: a fresh parser takes the next request.
        leftover, _ = self._h11.trailing_data
        self._h11 = h11.Connection(h11.SERVER)
        if leftover:
            self._h11.receive_data(bytes(leftover))
        self.request, self.request_body = request, b"".join(parts)
        self.requested.set()
        return request

    async def _receive(self) -> bytes:
        try:
            return await self._stream.receive(_RECEIVE)
        except anyio.EndOfStream:
            self.closed_by = self.closed_by or "eof"
        except (anyio.BrokenResourceError, OSError):
            self.closed_by = self.closed_by or "reset"
        return b""

    async def send(
        self,
        data: Response | bytes,
        *,
        start: int = 0,
        stop: int | None = None,
        drip: float | None = None,
    ) -> None:
        """Write wire bytes ``start:stop`` of ``data`` (raw bytes count as framing), one byte
        every ``drip`` seconds when given."""
        pieces = data.pieces if isinstance(data, Response) else [(data, False)]
        position = 0
        for piece, is_body in pieces:
            low = max(start - position, 0)
            high = len(piece) if stop is None else min(stop - position, len(piece))
            position += len(piece)
            if high <= low:
                continue
            part = piece[low:high]
            if drip is None:
                await self._write(part, is_body)
                continue
            for i in range(len(part)):
                await self._write(part[i : i + 1], is_body)
                await anyio.sleep(drip)

    async def send_forever(self, data: bytes, *, chunked: bool) -> None:
        """Write ``data`` as body, as an HTTP chunk each time when ``chunked``, until a write
        fails (the client is gone)."""
        frame = b"%x\r\n" % len(data)
        while True:
            if chunked:
                await self._write(frame, False)
            await self._write(data, True)
            if chunked:
                await self._write(b"\r\n", False)

    async def _write(self, data: bytes, is_body: bool) -> None:
        await self._stream.send(data)
        self.wire += data
        if is_body:
            self.body += data

    async def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), once the client has received what was sent."""
        sock = self._stream.extra(anyio.abc.SocketAttribute.raw_socket)
        # A reset drops unacknowledged data; wait for the acknowledgement so the client gets
        # every byte in ``wire`` (the tests compare what it yields with exactly that).
        with anyio.move_on_after(5):
            while _unacknowledged(sock):
                await anyio.sleep(0.001)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self._stream.aclose()
        self.closed_by = "server reset"

    async def close_write(self) -> None:
        """Send FIN (the client reads the end of the stream), keeping the read side open so
        that the client's own close can still be seen."""
        with contextlib.suppress(*_GONE):
            await self._stream.send_eof()

    async def wait_for_client_close(self) -> None:
        """Read (and drop) until the client closes or resets its end."""
        while self.closed_by is None:
            await self._receive()


def _unacknowledged(sock: socket.socket) -> int:
    if _OUTQ is None:  # pragma: no cover - not Linux: no way to ask, so no wait
        return 0
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0])


# --- the server -----------------------------------------------------------------------------------


class FaultServer:
    """A 127.0.0.1 server that runs ``script`` for every connection it accepts.

    Use as ``async with FaultServer(script) as server`` (or set ``server.script`` before the
    client connects). After the script returns, the connection stays open until the client
    closes it, so ``closed_by`` shows whether the client closed its side. A script that fails
    does not stop the server; ``check()`` raises its error.
    """

    url: str

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or _no_script
        self.connections: list[FaultConnection] = []
        self.errors: list[BaseException] = []
        self._scope: anyio.CancelScope | None = None
        self._exit: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> FaultServer:
        async with contextlib.AsyncExitStack() as stack:
            self.url = await listen(stack, self._handle)
            await anyio.sleep(0)  # the listening task exists from here on
            self._exit = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._exit = self._exit, None
        if stack is not None:
            await stack.aclose()

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        conn = FaultConnection(stream, len(self.connections) + 1)
        self.connections.append(conn)
        try:
            await self.script(conn)
            await conn.wait_for_client_close()
        except _GONE:
            conn.closed_by = conn.closed_by or "broken"
        except Exception as exc:  # a broken script is a test bug: keep it for check()
            self.errors.append(exc)
        finally:
            if conn.closed_by is None:
                conn.closed_by = "server close"
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            conn.finished.set()

    async def wait_closed(self) -> None:
        """Return once every connection accepted so far has ended."""
        for conn in list(self.connections):
            await conn.finished.wait()

    def check(self) -> None:
        """Raise the first error a script raised."""
        if self.errors:
            raise AssertionError(f"fault script failed: {self.errors[0]!r}") from self.errors[0]


async def _no_script(conn: FaultConnection) -> None:
    await conn.read_request()
    await conn.send(Response([b"no script set"], status=500, headers=[], framing="length"))


# --- a well-behaved script for many concurrent streams --------------------------------------------


class LoadScript:
    """Answers every request with its own stream, and holds each one after its first text
    until ``count`` requests have arrived, so that all of them are open at once.

    The request's last user message must be ``"stream N"``; the reply's text is
    ``expected_text(N)``, its usage ``expected_usage(N)``. Kept-alive connections are served
    request after request.
    """

    def __init__(self, count: int, pieces: int = 8) -> None:
        self.count = count
        self.pieces = pieces
        self.arrived = 0
        self.open_now = 0
        self.most_open = 0
        self.all_arrived = anyio.Event()

    def pieces_of(self, number: int) -> list[str]:
        return [f"stream {number}:"] + [f" word{i}x{number}" for i in range(self.pieces)]

    def expected_text(self, number: int) -> str:
        return "".join(self.pieces_of(number))

    @staticmethod
    def expected_usage(number: int) -> tuple[int, int]:
        return 100 + number, 10 + number % 7

    async def __call__(self, conn: FaultConnection) -> None:
        while await conn.read_request() is not None:
            content = conn.request_json["messages"][-1]["content"]
            number = int(content.removeprefix("stream "))
            input_tokens, output_tokens = self.expected_usage(number)
            events = message_events(
                self.pieces_of(number), input_tokens=input_tokens, output_tokens=output_tokens
            )
            response = Response(events)
            first_text = response.end_of(3) + 2  # through message_start .. the first delta
            self.arrived += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
            if self.arrived >= self.count:
                self.all_arrived.set()
            await conn.send(response, stop=first_text)
            await self.all_arrived.wait()
            await conn.send(response, start=first_text)
            self.open_now -= 1


# --- leak checks ----------------------------------------------------------------------------------


def living_tasks() -> int:
    """Tasks alive in the current event loop (asyncio or trio)."""
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_statistics().tasks_living
    import asyncio

    return len(asyncio.all_tasks())


@contextlib.asynccontextmanager
async def no_leaks(limit: float = 5.0) -> AsyncIterator[list[warnings.WarningMessage]]:
    """Fail unless the block leaves no task behind and no ResourceWarning (after a gc pass).

    The same httpx/httpcore generator warning that pyproject.toml ignores under trio (an
    upstream issue, closed by trio itself) is ignored here too.
    """
    await anyio.sleep(0)  # tasks started just before count from here on
    before = living_tasks()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        warnings.filterwarnings("ignore", r"Async generator .http(x|core)[.]", ResourceWarning)
        yield caught
        # Handlers of connections that just ended need a few turns of the loop to return, and
        # a collection can hand unfinished async generators to the loop's finalizer (a task).
        gc.collect()
        with anyio.move_on_after(limit):
            while living_tasks() > before:
                await anyio.sleep(0.005)
    leftover = living_tasks() - before
    assert leftover <= 0, f"{leftover} task(s) left running"
    resource = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not resource, f"ResourceWarning: {[str(w.message) for w in resource]}"
