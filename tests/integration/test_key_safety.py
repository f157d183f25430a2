"""The credentials never leave the request: not in a repr, an error (its str, repr, args or the
httpx exception chained as its cause, even when a server echoes the key back), a log record at
DEBUG during a stream with retries, or a recorded fixture. Plus the rules that keep them on the
intended host: a redirect is never followed, and errors carry the request id. The tests that
take ``shell`` run against the sync twin too."""

from __future__ import annotations

import json
import logging
import pprint
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import msgspec
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    AuthenticationError,
    Message,
    MessageStreamChunk,
    ModelConfig,
    ModelsConfig,
    NetworkError,
    OverloadedError,
    ProviderConfig,
    ProviderError,
    RateLimitError,
    TextChunk,
    TokenLimitError,
)
from provider.errors import error_for
from provider.replay import RecordingTransport
from provider.serve import ReplayServer
from tests.gateway_support import Reply, ScriptedUpstream, SeenRequest, closed_port
from tests.shells import SHELLS, Shell

# Each test runs on every transport the provider can choose for its own client.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("http_transport")]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HAIKU = FIXTURES / "haiku.sse"
# Distinctive, so that any leak is found by a plain substring search. KEY has the shape of an
# Anthropic key; the other two are a gateway's token and a gateway header's secret, which have
# no shape a pattern could recognise.
KEY = "sk-ant-api03-KEYSAFETY-Zq7x-5f1e0c9d"
TOKEN = "gwtok-KEYSAFETY-e19b4a"
HEADER_SECRET = "cfaig-KEYSAFETY-77d0c3"
SECRETS = (KEY, TOKEN, HEADER_SECRET)
LIMIT = 15
SSE = [("content-type", "text/event-stream")]
JSON = [("content-type", "application/json")]


def config(**fields: object) -> ProviderConfig:
    options: dict[str, object] = {
        "api_key": KEY,
        "headers": {"cf-aig-authorization": HEADER_SECRET},
        **fields,
    }
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        **options,  # type: ignore[arg-type]
    )


def messages() -> list[Message]:
    return [Message(role="user", content="Hi")]


async def collect(shell: Shell, p: Any) -> list[MessageStreamChunk]:
    """The chunks of one stream from ``p``, the ``shell``'s provider (async or sync)."""
    with anyio.fail_after(LIMIT):
        return await shell.chunks(p, "", messages())


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def everything_about(error: BaseException) -> list[str]:
    """Every way an error reaches a person: str, repr, args, the cause, a printed traceback."""
    texts = [str(error), repr(error), repr(error.args)]
    if error.__cause__ is not None:
        texts += [str(error.__cause__), repr(error.__cause__), repr(error.__cause__.args)]
    texts.append("".join(traceback.format_exception(error)))
    return texts


async def error_of(shell: Shell, p: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await collect(shell, p)
    return caught.value


# --- repr and str ------------------------------------------------------------------------------


def test_config_repr_and_str_mask_every_secret() -> None:
    c = config(auth_token=TOKEN)
    shown = [repr(c), str(c), f"{c}", f"{c!r}", pprint.pformat(c), repr([c]), repr({"c": c})]
    shown.append(repr(list(c.__rich_repr__())))
    assert_no_secret(*shown)
    # Masked, not dropped: a person can still see what is set.
    assert "api_key='***'" in repr(c)
    assert "auth_token='***'" in repr(c)
    assert "'cf-aig-authorization': '***'" in repr(c)
    assert "base_url=None" in repr(c)


def test_configs_nested_in_models_config_are_masked() -> None:
    models = ModelsConfig(
        active="m", models={"m": ModelConfig(provider_config=config(auth_token=TOKEN))}
    )
    assert_no_secret(repr(models), str(models), pprint.pformat(models))


def test_provider_repr_and_str_show_no_secret() -> None:
    p = AnthropicProvider(config(auth_token=TOKEN))
    assert_no_secret(repr(p), str(p), repr(p.config), repr(p.get_model()))


ERROR_TYPES = [
    ProviderError,
    TokenLimitError,
    RateLimitError,
    NetworkError,
    AuthenticationError,
    OverloadedError,
]


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda cls: cls.__name__)
def test_every_error_type_masks_a_key_in_its_message(cls: type[ProviderError]) -> None:
    error = cls(f"invalid x-api-key: {KEY}", ValueError("x"), status=401, request_id="req_1")
    assert_no_secret(*everything_about(error))
    assert "sk-ant-***" in str(error)


def test_error_for_masks_a_key_whatever_class_it_picks() -> None:
    for status in (400, 401, 403, 413, 429, 500, 529, None):
        error = error_for(f"bad key {KEY}", status=status)
        assert_no_secret(*everything_about(error))


# --- errors from a server that echoes the credential back ------------------------------------


def echo_of(request: SeenRequest) -> str:
    """What a careless gateway quotes back: every credential header it received."""
    return " ".join(
        f"{name}={request.headers[name]}"
        for name in ("x-api-key", "authorization", "cf-aig-authorization")
        if name in request.headers
    )


def echo_json(status: int) -> Callable[[SeenRequest], Reply]:
    def reply(request: SeenRequest) -> Reply:
        message = f"invalid credentials: {echo_of(request)}"
        body = {"type": "error", "error": {"type": "authentication_error", "message": message}}
        return Reply(status, [*JSON, ("request-id", "req_echo")], json.dumps(body).encode())

    return reply


def echo_html(request: SeenRequest) -> Reply:
    page = f"<html><head><title>502 {echo_of(request)}</title></head></html>"
    return Reply(502, [("content-type", "text/html")], page.encode())


def echo_text(request: SeenRequest) -> Reply:
    return Reply(400, [("content-type", "text/plain")], f"bad: {echo_of(request)}".encode())


def echo_midstream(request: SeenRequest) -> Reply:
    start = {"type": "message_start", "message": {"id": "msg_1", "type": "message",
             "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
             "usage": {"input_tokens": 1, "output_tokens": 1}}}  # fmt: skip
    error = {"type": "error", "error": {"type": "overloaded_error",
             "message": f"overloaded for {echo_of(request)}"}}  # fmt: skip
    body = f"event: message_start\ndata: {json.dumps(start)}\n\n"
    body += f"event: error\ndata: {json.dumps(error)}\n\n"
    return Reply(200, SSE, body.encode())


def echo_redirect(request: SeenRequest) -> Reply:
    return Reply(307, [("location", f"https://elsewhere.example/?{echo_of(request)}")], b"")


ECHOES = {
    "json-401": echo_json(401),
    "json-529": echo_json(529),
    "html-502": echo_html,
    "text-400": echo_text,
    "midstream-error": echo_midstream,
    "redirect-location": echo_redirect,
}


@pytest.mark.parametrize("reply", ECHOES.values(), ids=ECHOES.keys())
async def test_a_key_echoed_by_the_server_is_masked_in_the_error(
    shell: Shell,
    reply: Callable[[SeenRequest], Reply],
) -> None:
    async with (
        ScriptedUpstream(reply) as upstream,
        shell.opened(config(base_url=upstream.url, headers=None)) as p,
    ):
        error = await error_of(shell, p)
    assert upstream.seen[0].headers["x-api-key"] == KEY  # the server did have it to echo
    assert_no_secret(*everything_about(error))


@pytest.mark.parametrize("reply", ECHOES.values(), ids=ECHOES.keys())
async def test_a_gateway_token_echoed_by_the_server_is_masked_in_the_error(
    shell: Shell,
    reply: Callable[[SeenRequest], Reply],
) -> None:
    async with ScriptedUpstream(reply) as upstream:
        cfg = config(api_key=None, auth_token=TOKEN, base_url=upstream.url)
        async with shell.opened(cfg, max_retries=0) as p:
            error = await error_of(shell, p)
    assert upstream.seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert_no_secret(*everything_about(error))


async def test_transport_errors_chained_as_causes_carry_no_secret(shell: Shell) -> None:
    cfg = config(auth_token=TOKEN, base_url=f"http://127.0.0.1:{closed_port()}")
    async with shell.opened(cfg, max_retries=0) as p:
        error = await error_of(shell, p)
    assert isinstance(error, NetworkError)
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert_no_secret(*everything_about(error))


async def test_a_read_timeout_chained_as_cause_carries_no_secret(shell: Shell) -> None:
    async with ReplayServer(HAIKU, pause_after_events=1) as server:
        cfg = config(auth_token=TOKEN, base_url=server.url)
        async with shell.opened(cfg, max_retries=0, timeout=0.2) as p:
            error = await error_of(shell, p)
        server.resume.set()
    assert isinstance(error, NetworkError)
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert_no_secret(*everything_about(error))


BAD_CREDENTIALS = {
    "trailing-newline": KEY + "\n",  # a key read from a file with its line end
    "crlf-injection": KEY + "\r\nx-injected: 1",
    "non-ascii": KEY + "é",
}


@pytest.mark.parametrize("bad", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
async def test_a_credential_that_cannot_be_sent_is_refused_without_quoting_it(
    shell: Shell, bad: str
) -> None:
    async with ReplayServer(HAIKU) as server:
        try:
            async with shell.opened(config(api_key=bad, base_url=server.url), max_retries=0) as p:
                await collect(shell, p)
        except ProviderError as e:
            error: BaseException = e
        except Exception as e:  # anything else escaping is the bug this test is about
            error = e
        else:
            pytest.fail("a credential with a control or non-ASCII character was sent")
    assert isinstance(error, ProviderError)
    assert server.requests == []
    assert_no_secret(*everything_about(error))


async def test_a_password_in_the_base_url_is_not_quoted_in_errors(shell: Shell) -> None:
    password = "pw-KEYSAFETY-url-41f"
    cfg = config(base_url=f"http://user:{password}@127.0.0.1:{closed_port()}/gw")
    try:
        async with shell.opened(cfg, max_retries=0) as p:
            await collect(shell, p)
    except ProviderError as e:
        texts = everything_about(e)
    for text in texts:
        assert password not in text


# --- log records -----------------------------------------------------------------------------


def flaky_then_stream(echo_secret: bool) -> Callable[[SeenRequest], Reply]:
    """529 twice (quoting the credentials when asked), then the haiku stream."""
    calls = 0

    def reply(request: SeenRequest) -> Reply:
        nonlocal calls
        calls += 1
        if calls <= 2:
            quoted = echo_of(request) if echo_secret else "try again"
            body = {"type": "error", "error": {"type": "overloaded_error",
                                               "message": f"Overloaded: {quoted}"}}  # fmt: skip
            return Reply(529, [*JSON, ("retry-after-ms", "1")], json.dumps(body).encode())
        return Reply(200, SSE, HAIKU.read_bytes())

    return reply


def all_log_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), formatter.format(record)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
    return texts


async def logged_stream(
    shell: Shell,
    caplog: pytest.LogCaptureFixture,
    cfg: ProviderConfig,
    echo_secret: bool,
    transport: str,
) -> str:
    caplog.set_level(logging.DEBUG)
    # The loggers of the HTTP stack in use: httpcore's under httpx's transport; the fast one
    # logs nothing of its own (asyncio's logger would speak only of a failure).
    speaking = {"provider", "httpx", "httpcore"} if transport == "httpx" else {"provider", "httpx"}
    for name in (*speaking, "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    async with ScriptedUpstream(flaky_then_stream(echo_secret)) as upstream:
        cfg = msgspec.structs.replace(cfg, base_url=upstream.url)
        async with shell.opened(cfg, max_retries=2, retry_base_delay=0.0) as p:
            chunks = await collect(shell, p)
    assert len(upstream.seen) == 3  # two refusals, then the stream
    names = {record.name.split(".")[0] for record in caplog.records}
    assert speaking <= names  # every logger did speak at DEBUG
    assert any("retrying" in record.getMessage() for record in caplog.records)
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


@pytest.mark.parametrize("echo_secret", [False, True], ids=["plain", "server-echoes-key"])
async def test_no_log_record_at_debug_holds_a_secret_during_a_stream_with_retries(
    shell: Shell, caplog: pytest.LogCaptureFixture, echo_secret: bool, http_transport: str
) -> None:
    # Only the key here: its shape is what the masking recognises (the gateway secrets below).
    text = await logged_stream(shell, caplog, config(headers=None), echo_secret, http_transport)
    assert text.startswith("Bytes drift")
    assert_no_secret(*all_log_text(caplog))


async def test_no_log_record_holds_a_gateway_token_the_server_echoed(
    shell: Shell, caplog: pytest.LogCaptureFixture, http_transport: str
) -> None:
    cfg = config(api_key=None, auth_token=TOKEN)
    await logged_stream(shell, caplog, cfg, echo_secret=True, transport=http_transport)
    assert_no_secret(*all_log_text(caplog))


# --- recorded fixtures -------------------------------------------------------------------------


def leaky_stream(request: SeenRequest) -> Reply:
    """A stream whose response headers echo every credential (a badly configured gateway)."""
    headers = [
        *SSE,
        ("request-id", "req_recorded"),
        ("anthropic-ratelimit-requests-remaining", "49"),
        ("x-api-key", KEY),
        ("authorization", f"Bearer {TOKEN}"),
        ("set-cookie", f"session={TOKEN}"),
        ("x-echo", echo_of(request)),
        ("x-request-id", KEY),
    ]
    return Reply(200, headers, HAIKU.read_bytes())


async def record(tmp_path: Path, reply: Callable[[SeenRequest], Reply]) -> ProviderError | None:
    async with ScriptedUpstream(reply) as upstream:
        recorder = RecordingTransport(httpx.AsyncHTTPTransport(), tmp_path / "rec" / "new.sse")
        async with httpx.AsyncClient(transport=recorder) as client:
            p = AnthropicProvider(
                config(auth_token=TOKEN, base_url=upstream.url), http_client=client, max_retries=0
            )
            try:
                await collect(SHELLS["async"], p)
            except ProviderError as e:
                return e
    return None


def recorded_files(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tmp_path / "rec").iterdir())}


async def test_a_recorded_stream_and_its_sidecar_hold_no_secret(tmp_path: Path) -> None:
    assert await record(tmp_path, leaky_stream) is None
    files = recorded_files(tmp_path)
    assert sorted(files) == ["new.meta.json", "new.sse"]
    assert files["new.sse"] == HAIKU.read_bytes()  # the body is kept byte for byte
    meta = json.loads(files["new.meta.json"])
    assert meta["headers"]["request-id"] == "req_recorded"  # useful headers are kept
    assert meta["headers"]["anthropic-ratelimit-requests-remaining"] == "49"
    for content in files.values():
        assert_no_secret(content.decode())


async def test_a_recorded_error_body_that_quotes_the_key_does_not_keep_it(tmp_path: Path) -> None:
    error = await record(tmp_path, echo_json(401))
    assert isinstance(error, AuthenticationError)
    for content in recorded_files(tmp_path).values():
        assert_no_secret(content.decode())


async def test_a_normal_recorded_error_holds_no_secret(tmp_path: Path) -> None:
    def refuse(request: SeenRequest) -> Reply:
        body = {"type": "error", "error": {"type": "authentication_error",
                                           "message": "invalid x-api-key"}}  # fmt: skip
        return Reply(401, [*JSON, ("request-id", "req_401")], json.dumps(body).encode())

    error = await record(tmp_path, refuse)
    assert isinstance(error, AuthenticationError)
    assert error.request_id == "req_401"
    files = recorded_files(tmp_path)
    assert json.loads(files["new.meta.json"])["status"] == 401
    for content in files.values():
        assert_no_secret(content.decode())


# --- redirects and request ids ---------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_naming_the_location_and_is_not_followed(
    shell: Shell, tmp_path: Path, status: int
) -> None:
    async with ReplayServer(HAIKU) as elsewhere:
        location = f"{elsewhere.url}/v1/messages"
        (tmp_path / "moved.json").write_text('{"moved": true}')
        meta = {"status": status, "headers": {"content-type": "application/json",
                                              "location": location}}  # fmt: skip
        (tmp_path / "moved.meta.json").write_text(json.dumps(meta))
        async with (
            ReplayServer(tmp_path / "moved.json") as gateway,
            shell.opened(config(base_url=gateway.url)) as p,
        ):
            error = await error_of(shell, p)
    assert type(error) is ProviderError
    assert error.status == status
    assert location in error.message
    assert error.request_id == gateway.requests[0].request_id
    assert len(gateway.requests) == 1  # a redirect is not retried either
    assert elsewhere.requests == []  # the second host never saw the key
    assert_no_secret(*everything_about(error))


ERROR_FIXTURES = [
    "rate_limit_429",
    "overloaded_529",
    "authentication_401",
    "prompt_too_long_400",
    "bad_gateway_502",
    "midstream_overloaded",
]


@pytest.mark.parametrize("fixture", ERROR_FIXTURES)
async def test_errors_carry_the_request_id(shell: Shell, fixture: str) -> None:
    async with ReplayServer(FIXTURES) as server:
        cfg = config(base_url=server.url, headers={"x-provider-fixture": fixture})
        async with shell.opened(cfg, max_retries=0) as p:
            error = await error_of(shell, p)
    (request,) = server.requests
    assert request.fixture == fixture
    if fixture == "midstream_overloaded":
        # The error event names its own request, which is the more precise id.
        assert error.request_id == "req_011CtjfIZ4SOcMz9CPVNPkNa"
    else:
        # The response's request-id header (recorded, or the one the server made up).
        assert error.request_id == request.request_id
    assert error.request_id.startswith("req_")
    assert f"request_id={error.request_id}" in str(error)
