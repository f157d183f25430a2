"""Real middleboxes for the gateway tests, each on a free 127.0.0.1 port with its files in a temp
directory, stopped when its ``with`` block ends:

- :func:`nginx_gateway`: nginx (Debian package ``nginx``) as a reverse proxy that maps a path
  prefix onto an upstream, as a company gateway does;
- :func:`forward_proxy`: tinyproxy (Debian package ``tinyproxy-bin``) as an HTTP forward proxy;
- :func:`self_signed_certificate`: a certificate for 127.0.0.1 (``openssl``), so nginx can serve
  https and a client can trust it through ``SSL_CERT_FILE``;
- :class:`ScriptedUpstream`: a tiny h11 upstream that answers with scripted replies and keeps
  the request headers *unredacted*, for the tests that must see the exact credential arrive or
  be echoed back (``ReplayServer`` redacts them).

``make test-deps`` installs the packages; a test that needs a missing binary is skipped with a
reason naming the package (never silently).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import anyio
import anyio.abc
import h11
import pytest

from tests.loopback import listen

__all__ = [
    "Certificate",
    "ForwardProxy",
    "Gateway",
    "Reply",
    "ScriptedUpstream",
    "SeenRequest",
    "closed_port",
    "forward_proxy",
    "free_port",
    "nginx_gateway",
    "require_binary",
    "self_signed_certificate",
]

START_TIMEOUT = 10.0  # seconds for a child to start listening; a hang fails, not blocks


def require_binary(name: str, package: str) -> str:
    """The path of ``name``, or skip the test saying which Debian package provides it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.skip(
            f"{name} is not installed (Debian package {package}; `make test-deps` installs it "
            "when run as root): the test needs the real program"
        )
    return path


def free_port() -> int:
    """A 127.0.0.1 TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port where nothing listens: connecting to it is refused at once."""
    return free_port()


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before listening: {_tail(log)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"not listening on 127.0.0.1:{port} after {START_TIMEOUT}s: {_tail(log)}")


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _child(argv: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in its own process group until the block ends; SIGTERM, then SIGKILL."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    try:
        _wait_listening(port, process, log)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The group is the one this helper created: the child and its workers only.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Gateway(NamedTuple):
    """A running nginx: ``url`` is the base URL a client uses (the prefix included)."""

    url: str
    port: int
    access_log: Path
    error_log: Path


class Certificate(NamedTuple):
    cert: Path  # PEM; also what a client trusts (SSL_CERT_FILE)
    key: Path


def self_signed_certificate(tmp_path: Path) -> Certificate:
    """A fresh self-signed certificate valid for 127.0.0.1 and localhost."""
    binary = require_binary("openssl", "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [binary, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return Certificate(cert, key)


def _nginx_conf(
    tmp: Path, port: int, upstream: str, prefix: str, extra: str, tls: Certificate | None
) -> str:
    # As root, nginx would run its workers as ``nobody``, who cannot reach pytest's private tmp
    # directory; the current user keeps the temp paths usable either way.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    temp += f"\n  uwsgi_temp_path {tmp / 'uwsgi'};\n  scgi_temp_path {tmp / 'scgi'};"
    return f"""
{user}
worker_processes 1;
events {{ worker_connections 128; }}
http {{
  access_log {tmp / "access.log"};
{temp}
  server {{
    listen 127.0.0.1:{port}{" ssl" if tls else ""};
    {f"ssl_certificate {tls.cert}; ssl_certificate_key {tls.key};" if tls else ""}
    location {prefix} {{
      proxy_pass {upstream.rstrip("/")}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 30s;
      {extra}
    }}
  }}
}}
"""


@contextlib.contextmanager
def nginx_gateway(
    tmp_path: Path,
    upstream: str,
    *,
    prefix: str = "/anthropic/",
    extra: str = "",
    tls: Certificate | None = None,
) -> Iterator[Gateway]:
    """nginx in the foreground, proxying ``http://127.0.0.1:PORT{prefix}…`` to ``upstream/…``
    (the prefix is stripped, as ``proxy_pass`` with a trailing slash does), unbuffered.

    ``extra`` is added to the ``location`` block (e.g. ``proxy_set_header``); with ``tls`` nginx
    serves https with that certificate."""
    binary = require_binary("nginx", "nginx")
    tmp = tmp_path / "nginx"
    tmp.mkdir()
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(_nginx_conf(tmp, port, upstream, prefix, extra, tls))
    error_log = tmp / "error.log"
    argv = [
        binary,
        "-p",
        str(tmp),
        "-e",
        str(error_log),
        "-c",
        str(conf),
        "-g",
        f"daemon off; pid {tmp / 'nginx.pid'};",
    ]
    with _child(argv, port, error_log):
        yield Gateway(
            url=f"{'https' if tls else 'http'}://127.0.0.1:{port}{prefix.rstrip('/')}",
            port=port,
            access_log=tmp / "access.log",
            error_log=error_log,
        )


_REQUEST_LINE = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/")


class ForwardProxy(NamedTuple):
    """A running tinyproxy: ``url`` is what ``proxy=`` or ``HTTP_PROXY`` take."""

    url: str
    port: int
    log: Path
    via: str  # the name it puts in the Via header it adds to forwarded requests

    def requests(self) -> list[tuple[str, str]]:
        """(method, target) of every request the proxy forwarded, from its log, in order."""
        return _REQUEST_LINE.findall(self.log.read_text(errors="replace"))


@contextlib.contextmanager
def forward_proxy(
    tmp_path: Path, *, basic_auth: tuple[str, str] | None = None
) -> Iterator[ForwardProxy]:
    """tinyproxy in the foreground on a free port, logging every request it forwards."""
    binary = require_binary("tinyproxy", "tinyproxy-bin")
    tmp = tmp_path / "tinyproxy"
    tmp.mkdir()
    port = free_port()
    log = tmp / "tinyproxy.log"
    via = "provider-test-proxy"
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 30",
        f'LogFile "{log}"',
        "LogLevel Connect",
        f'PidFile "{tmp / "tinyproxy.pid"}"',
        "MaxClients 50",
        "Allow 127.0.0.1",
        f'ViaProxyName "{via}"',
    ]
    if os.geteuid() == 0:
        lines.append(f"User {pwd.getpwuid(0).pw_name}")
    if basic_auth is not None:
        lines.append(f"BasicAuth {basic_auth[0]} {basic_auth[1]}")
    conf = tmp / "tinyproxy.conf"
    conf.write_text("\n".join(lines) + "\n")
    with _child([binary, "-d", "-c", str(conf)], port, log):
        yield ForwardProxy(url=f"http://127.0.0.1:{port}", port=port, log=log, via=via)


# --- a scripted upstream ---------------------------------------------------------------------


class SeenRequest(NamedTuple):
    """A request as it reached the upstream, headers unredacted (lower-case names)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


Script = Sequence[Reply] | Callable[[SeenRequest], Reply]


class ScriptedUpstream:
    """A 127.0.0.1 HTTP/1.1 server answering request N with ``replies[N]`` (the last one
    repeats), or with ``replies(request)`` when it is a function. ``seen`` lists the requests
    with their headers as sent, so a test can check a credential's exact value."""

    url: str

    def __init__(self, replies: Script) -> None:
        self._replies = replies
        self.seen: list[SeenRequest] = []
        self._stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> ScriptedUpstream:
        async with contextlib.AsyncExitStack() as stack:
            self.url = await listen(stack, self._serve)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def _reply(self, request: SeenRequest) -> Reply:
        if callable(self._replies):
            return self._replies(request)
        return self._replies[min(len(self.seen) - 1, len(self._replies) - 1)]

    async def _serve(self, stream: anyio.abc.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(stream, conn)
                if request is None:
                    return
                self.seen.append(request)
                reply = self._reply(request)
                headers = [*reply.headers, ("content-length", str(len(reply.body)))]
                data = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
                data += conn.send(h11.Data(data=reply.body)) or b""
                data += conn.send(h11.EndOfMessage()) or b""
                await stream.send(data)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    @staticmethod
    async def _read_request(
        stream: anyio.abc.SocketStream, conn: h11.Connection
    ) -> SeenRequest | None:
        head: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    conn.receive_data(await stream.receive(65536))
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    conn.receive_data(b"")
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                return SeenRequest(
                    method=head.method.decode("ascii"),
                    target=head.target.decode("latin-1"),
                    headers={
                        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers
                    },
                    body=body,
                )
            else:  # ConnectionClosed, or a close in the middle of a request
                return None
