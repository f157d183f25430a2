"""Every configured secret is masked whatever its shape (issue 12): keys generated in shapes that
share nothing with ``sk-ant-…`` are echoed by a careless server in every place it can put them
(each response header, each JSON field of an error body, an error event, an event cut short, a
gzip body, a redirect, an exception's own text), and must appear in no error string, no error
field, nothing chained to it, no log record and no recorded file (raw or decoded).

The credentials go in every role at once: ``api_key``, ``auth_token`` and a gateway header written
``bearer <token>`` in any case and spacing (issue 15: the bare token must be masked too); a
proxy's credentials are secrets of the provider as well. The tests that take ``shell`` run
against the sync twin too (its recordings aside: the recorder is an async transport)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import random
import string
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    ProviderConfig,
    ProviderError,
    SyncAnthropicProvider,
)
from provider.endpoint import secrets_of
from provider.errors import secret_values
from provider.replay import RecordingTransport
from tests.shells import Shell

pytestmark = pytest.mark.anyio

_RNG = random.Random(12)  # generated, but the same on every run


def _pick(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


_B64URL = string.ascii_letters + string.digits + "-_"
# Printable ASCII without space, as a header value can carry; quotes and backslashes included,
# since JSON escapes them.
_PUNCT = "".join(c for c in string.printable[:94] if c not in " ")
SHAPES = {
    "anthropic": "sk-ant-api03-" + _pick(_B64URL, 40),
    "hex": _pick("0123456789abcdef", 32),
    "base64url": _pick(_B64URL, 27),
    "jwt": ".".join("eyJ" + _pick(_B64URL, n) for n in (20, 40, 30)),
    "aws-like": "AKIA" + _pick(string.ascii_uppercase + string.digits, 16),
    "base64-padded": _pick(string.ascii_letters + string.digits + "+/", 22) + "==",
    "punctuation": "p" + _pick(_PUNCT, 20) + '"\\q',
    "short-words": "gateway-token-" + _pick(string.ascii_lowercase, 8),
}
SCHEMES = ["bearer ", "BEARER ", "Bearer ", "bEaReR  "]  # any case, any spacing


class Credentials:
    """Three different shapes in the three roles, and what a server can see of each."""

    def __init__(self, index: int) -> None:
        names = list(SHAPES)
        self.api_key = SHAPES[names[index % len(names)]]
        self.token = SHAPES[names[(index + 1) % len(names)]]
        self.gateway = SHAPES[names[(index + 2) % len(names)]]
        self.scheme = SCHEMES[index % len(SCHEMES)]
        self.all = (self.api_key, self.token, self.gateway)

    def config(self) -> ProviderConfig:
        return ProviderConfig(
            model_id="claude-sonnet-4-5",
            model_info=MODELS["claude-sonnet-4-5"],
            api_key=self.api_key,
            auth_token=self.token,
            headers={"x-gateway-auth": f"{self.scheme}{self.gateway}"},
        )


def echo(request: httpx.Request) -> str:
    """What the careless server quotes back: the bare value of every credential it received."""
    values = [
        request.headers["x-api-key"],
        request.headers["authorization"].split(None, 1)[1],
        request.headers["x-gateway-auth"].split(None, 1)[1],
    ]
    return " ".join(values)


def echo_headers(request: httpx.Request) -> list[tuple[str, str]]:
    quoted = echo(request)
    return [
        ("request-id", quoted),
        ("x-request-id", quoted),
        ("anthropic-ratelimit-requests-remaining", quoted),
        ("x-should-retry", "false"),
        ("www-authenticate", quoted),
        ("x-echo", quoted),
    ]


def error_body(request: httpx.Request, kind: str | None = None) -> bytes:
    quoted = echo(request)
    return json.dumps(
        {
            "type": "error",
            "error": {"type": kind or quoted, "message": f"bad credentials {quoted}"},
            "request_id": quoted,
            "detail": quoted,
        }
    ).encode()


def start_event(request: httpx.Request) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
    }
    return f"event: message_start\ndata: {json.dumps(start)}\n\n".encode()


Reply = Callable[[httpx.Request], httpx.Response]
SSE = ("content-type", "text/event-stream")
JSON = ("content-type", "application/json")


def json_401(request: httpx.Request) -> httpx.Response:
    return httpx.Response(401, headers=[*echo_headers(request), JSON], content=error_body(request))


def json_529_with_echoed_type(request: httpx.Request) -> httpx.Response:
    return httpx.Response(529, headers=[*echo_headers(request), JSON], content=error_body(request))


def html_502(request: httpx.Request) -> httpx.Response:
    page = f"<html><title>502 {echo(request)}</title><body>{echo(request)}</body></html>"
    return httpx.Response(
        502, headers=[*echo_headers(request), ("content-type", "text/html")], content=page.encode()
    )


def error_event(request: httpx.Request) -> httpx.Response:
    quoted = echo(request)
    error = {"type": "error", "error": {"type": quoted, "message": quoted}, "request_id": quoted}
    body = start_event(request) + f"event: error\ndata: {json.dumps(error)}\n\n".encode()
    return httpx.Response(200, headers=[*echo_headers(request), SSE], content=body)


def cut_event(request: httpx.Request) -> httpx.Response:
    # The body ends in the middle of an event whose text holds the credentials.
    body = start_event(request) + f"event: content_block_start\ndata: {echo(request)}".encode()
    return httpx.Response(200, headers=[*echo_headers(request), SSE], content=body)


def gzip_error(request: httpx.Request) -> httpx.Response:
    headers = [*echo_headers(request), JSON, ("content-encoding", "gzip")]
    return httpx.Response(403, headers=headers, content=gzip.compress(error_body(request)))


def gzip_cut_event(request: httpx.Request) -> httpx.Response:
    body = start_event(request) + f"event: ping\ndata: {echo(request)}".encode()
    headers = [*echo_headers(request), SSE, ("content-encoding", "gzip")]
    return httpx.Response(200, headers=headers, content=gzip.compress(body))


def redirect(request: httpx.Request) -> httpx.Response:
    location = ("location", f"https://elsewhere.example/?k={echo(request)}")
    return httpx.Response(307, headers=[*echo_headers(request), location], content=b"")


def not_a_stream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers=[*echo_headers(request), JSON], content=error_body(request))


class _ResetAfter(httpx.AsyncByteStream, httpx.SyncByteStream):
    """Some events, then a transport error whose own text quotes the credentials (for an
    async client and a sync one)."""

    def __init__(self, first: bytes, text: str) -> None:
        self._first, self._text = first, text

    def __iter__(self) -> Iterator[bytes]:
        yield self._first
        raise httpx.ReadError(f"connection reset by peer after {self._text}")

    async def __aiter__(self) -> Iterator[bytes]:  # type: ignore[override]
        for data in self:
            yield data


def reset_quoting(request: httpx.Request) -> httpx.Response:
    stream = _ResetAfter(start_event(request), echo(request))
    return httpx.Response(200, headers=[*echo_headers(request), SSE], stream=stream)


SCENARIOS: dict[str, Reply] = {
    "json-401": json_401,
    "json-529-echoed-type": json_529_with_echoed_type,
    "html-502": html_502,
    "error-event": error_event,
    "cut-event": cut_event,
    "gzip-error": gzip_error,
    "gzip-cut-event": gzip_cut_event,
    "redirect": redirect,
    "not-a-stream": not_a_stream,
    "reset-quoting": reset_quoting,
}


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def everything_about(error: ProviderError) -> list[str]:
    """Every string a person or a program can get from the error: its str, repr, args and
    fields; the same for everything chained to it; a printed traceback."""
    texts = ["".join(traceback.format_exception(error))]
    for linked in chain(error):
        texts += [str(linked), repr(linked), repr(linked.args)]
        texts += [repr(value) for value in vars(linked).values() if not callable(value)]
    texts += [
        str(error.message),
        str(error.error_type),
        str(error.request_id),
        str(error.status),
        str(error.retry_after),
    ]
    return texts


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), formatter.format(record)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
    return texts


def recorded_texts(directory: Path) -> list[str]:
    texts = []
    for path in sorted(directory.iterdir()):
        raw = path.read_bytes()
        texts.append(raw.decode("latin-1"))
        if raw[:2] == b"\x1f\x8b":
            texts.append(gzip.decompress(raw).decode("latin-1"))
    return texts


async def stream_error(
    shell: Shell,
    config: ProviderConfig,
    handle: Callable[[httpx.Request], httpx.Response],
    retries: int,
    record: Path | None = None,
) -> ProviderError:
    """The error of one stream from ``shell``'s provider (async, or the sync twin) served by
    ``handle`` in memory; ``record``: the async client records the exchange there too
    (``RecordingTransport`` is an async transport)."""
    if shell.name == "sync":
        with httpx.Client(transport=httpx.MockTransport(handle)) as sync_client:
            sync = SyncAnthropicProvider(config, http_client=sync_client, max_retries=retries)
            with pytest.raises(ProviderError) as caught:
                for _ in sync.create_message("", [Message("user", "Hi")]):
                    pass
        return caught.value
    transport: httpx.AsyncBaseTransport = httpx.MockTransport(handle)
    if record is not None:
        transport = RecordingTransport(transport, record)
    async with httpx.AsyncClient(transport=transport) as client:
        p = AnthropicProvider(config, http_client=client, max_retries=retries)
        with anyio.fail_after(10), pytest.raises(ProviderError) as caught:
            async for _ in p.create_message("", [Message("user", "Hi")]):
                pass
    return caught.value


def assert_hidden(secrets: tuple[str, ...], texts: list[str]) -> None:
    for text in texts:
        for secret in secrets:
            # JSON-escaped too: a recorded body holds the key as its JSON string spells it.
            for form in {secret, json.dumps(secret)[1:-1]}:
                assert form not in text, f"{secret!r} leaked in {text[:300]!r}"


@pytest.mark.parametrize("index", range(len(SHAPES)), ids=list(SHAPES))
@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
async def test_no_credential_of_any_shape_leaks_from_an_error_a_log_or_a_recording(
    shell: Shell, scenario: Reply, index: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = Credentials(index)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return scenario(request)

    error = await stream_error(shell, creds.config(), handle, 1, tmp_path / "rec" / "x.sse")
    # The server did receive each credential, and did quote it back.
    assert creds.api_key in echo(seen[0])
    assert creds.gateway in echo(seen[0])
    assert creds.token in echo(seen[0])
    assert_hidden(creds.all, everything_about(error))
    assert_hidden(creds.all, log_texts(caplog))
    if shell.name == "async":
        assert_hidden(creds.all, recorded_texts(tmp_path / "rec"))


async def test_a_retried_error_echoing_every_credential_leaves_no_log_record_holding_one(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = Credentials(3)
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        headers = [(n, v) for n, v in echo_headers(request) if n != "x-should-retry"]
        body = error_body(request, "overloaded_error")
        return httpx.Response(529, headers=[*headers, JSON, ("retry-after-ms", "0")], content=body)

    error = await stream_error(shell, creds.config(), handle, 2)
    assert calls == 3
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying in")]
    assert len(retries) == 2
    assert_hidden(creds.all, log_texts(caplog))
    assert_hidden(creds.all, everything_about(error))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
@pytest.mark.parametrize("gap", [" ", "  ", "\t"])
def test_the_bare_token_of_a_bearer_header_is_a_secret_in_any_case_and_spacing(
    scheme: str, gap: str
) -> None:
    token = SHAPES["hex"]
    assert token in secret_values([f"{scheme}{gap}{token}"])
    headers = {"x-api-key": SHAPES["jwt"], "cf-aig-authorization": f"{scheme}{gap}{token}"}
    assert token in secrets_of(headers)


@pytest.mark.parametrize("scheme", ["bearer ", "BEARER ", "bEaReR  ", "Bearer   "])
async def test_a_401_quoting_the_bare_token_of_a_bearer_header_is_masked_in_error_and_recording(
    shell: Shell, scheme: str, tmp_path: Path
) -> None:
    token = SHAPES["base64url"]

    def handle(request: httpx.Request) -> httpx.Response:
        body = {"type": "error", "error": {"type": "authentication_error", "message": token}}
        return httpx.Response(401, headers=[JSON, ("request-id", token)], json=body)

    config = ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key=SHAPES["hex"],
        headers={"cf-aig-authorization": f"{scheme}{token}"},
    )
    error = await stream_error(shell, config, handle, 0, tmp_path / "rec" / "x.sse")
    assert_hidden((token,), everything_about(error))
    if shell.name == "async":
        assert_hidden((token,), recorded_texts(tmp_path / "rec"))


def test_proxy_credentials_are_secrets_of_the_provider() -> None:
    password = "pw-" + SHAPES["hex"]
    config = ProviderConfig(model_id="claude-sonnet-4-5", api_key=SHAPES["jwt"])
    for proxy in (
        f"http://alice:{password}@127.0.0.1:3128",
        httpx.Proxy("http://127.0.0.1:3128", auth=("alice", password)),
    ):
        p = AnthropicProvider(config, proxy=proxy)
        assert password in p._secrets
        basic = base64.b64encode(f"alice:{password}".encode()).decode()
        assert basic in p._secrets  # as a Proxy-Authorization header would carry them
