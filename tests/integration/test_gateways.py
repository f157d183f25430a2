"""The client behind a real nginx reverse proxy that maps ``/anthropic/`` onto the upstream, as a
company gateway does: swapping the base URL is all it takes, streaming stays incremental, and
the gateway's own failures (an HTML 502 page) and the API's (a 429) map to the right errors."""

from __future__ import annotations

import os
import pwd
import re
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    MessageStreamChunk,
    NetworkError,
    ProviderConfig,
    ProviderError,
    RateLimitError,
    TextChunk,
)
from provider.serve import ReplayServer
from tests.gateway_support import (
    Reply,
    ScriptedUpstream,
    closed_port,
    free_port,
    nginx_gateway,
    require_binary,
    self_signed_certificate,
)

# Each test runs on every transport the provider can choose for its own client.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("http_transport")]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HAIKU = FIXTURES / "haiku.sse"
HAIKU_TEXT = "Bytes drift down the wire,\nwords arrive before the thought—\nstreams of tokens flow."
# message_start, content_block_start, ping, then the first text delta: the upstream holds there.
FIRST_TEXT_EVENT = 4
KEY = "sk-ant-api03-GATEWAY-TEST-KEY-7f3a"
LIMIT = 15  # seconds: a hang fails the test instead of the suite


def provider(base_url: str, **config: object) -> AnthropicProvider:
    options: dict[str, object] = {"api_key": KEY, **config}
    return AnthropicProvider(
        ProviderConfig(
            model_id="claude-sonnet-4-5",
            model_info=MODELS["claude-sonnet-4-5"],
            base_url=base_url,
            **options,  # type: ignore[arg-type]
        ),
        max_retries=0,
    )


def messages() -> list[Message]:
    return [Message(role="user", content="Write a haiku about streaming.")]


async def collect(p: AnthropicProvider) -> list[MessageStreamChunk]:
    with anyio.fail_after(LIMIT):
        return [chunk async for chunk in p.create_message("", messages())]


def text_of(chunks: Sequence[MessageStreamChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


async def access_lines(path: Path, count: int) -> list[str]:
    """The access log once it holds ``count`` lines, while nginx still runs. nginx logs a
    request after it has sent the response (after an early error page, only once it has also
    read and discarded the request body), so a client can be done before the line is written:
    poll for it, bounded by ``LIMIT``."""
    with anyio.fail_after(LIMIT):
        while True:
            lines = path.read_text().splitlines() if path.exists() else []
            if len(lines) >= count:
                return lines
            await anyio.sleep(0.01)


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_streaming_through_nginx_gives_the_same_chunks_as_direct(
    tmp_path: Path, suffix: str
) -> None:
    async with ReplayServer(HAIKU) as server:
        async with provider(server.url) as direct:
            expected = await collect(direct)
        with nginx_gateway(tmp_path, server.url) as gateway:
            async with provider(gateway.url + suffix) as p:
                through = await collect(p)
            (line,) = await access_lines(gateway.access_log, 1)
    assert through == expected
    assert text_of(through) == HAIKU_TEXT
    # nginx stripped its prefix; neither the slash nor /v1 of the base URL was doubled.
    assert [r.path for r in server.requests] == ["/v1/messages", "/v1/messages"]
    assert '"POST /anthropic/v1/messages HTTP/1.1" 200' in line


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
async def test_an_https_gateway_is_verified_against_the_trusted_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    # Direct https (no proxy): the certificate is checked against SSL_CERT_FILE, or against the
    # default bundle, which does not hold this self-signed one; the key is never sent to it.
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    certificate = self_signed_certificate(tmp_path)
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    async with ReplayServer(HAIKU) as server:
        with nginx_gateway(tmp_path, server.url, tls=certificate) as gateway:
            assert gateway.url.startswith("https://")
            async with provider(gateway.url) as p:
                if trusted:
                    assert text_of(await collect(p)) == HAIKU_TEXT
                else:
                    with pytest.raises(NetworkError, match="ConnectError") as caught:
                        await collect(p)
                    assert KEY not in str(caught.value)
    assert len(server.requests) == (1 if trusted else 0)


async def test_first_chunk_arrives_through_nginx_while_the_upstream_holds_the_rest(
    tmp_path: Path,
) -> None:
    async with ReplayServer(HAIKU, pause_after_events=FIRST_TEXT_EVENT) as server:
        with nginx_gateway(tmp_path, server.url) as gateway:
            async with provider(gateway.url) as p:
                chunks: list[MessageStreamChunk] = []
                with anyio.fail_after(LIMIT):
                    async for chunk in p.create_message("", messages()):
                        chunks.append(chunk)
                        if isinstance(chunk, TextChunk) and not server.resume.is_set():
                            # The caller already holds text; the upstream has sent only the
                            # first events and holds the rest: nginx did not buffer it.
                            assert chunk.text == "Bytes"
                            # Waiting here would hang if the upstream had sent everything.
                            await server.paused.wait()
                            assert server.pieces_sent == FIRST_TEXT_EVENT
                            server.resume.set()
    assert server.resume.is_set()  # the hold was reached while the caller held a TextChunk
    assert text_of(chunks) == HAIKU_TEXT


async def test_nginx_502_page_when_the_upstream_is_down_is_a_readable_provider_error(
    tmp_path: Path,
) -> None:
    with nginx_gateway(tmp_path, f"http://127.0.0.1:{closed_port()}") as gateway:
        async with provider(gateway.url) as p:
            with pytest.raises(ProviderError) as caught:
                await collect(p)
    error = caught.value
    assert type(error) is ProviderError
    assert error.status == 502
    assert "502 Bad Gateway" in error.message  # the page's title, not its markup
    assert "text/html" in error.message
    assert "<" not in error.message
    assert KEY not in str(error)
    assert "connect() failed" in gateway.error_log.read_text()


async def test_a_gateway_502_is_retried_before_the_error_reaches_the_caller(
    tmp_path: Path,
) -> None:
    with nginx_gateway(tmp_path, f"http://127.0.0.1:{closed_port()}") as gateway:
        config = ProviderConfig(
            model_id="claude-sonnet-4-5",
            model_info=MODELS["claude-sonnet-4-5"],
            api_key=KEY,
            base_url=gateway.url,
        )
        async with AnthropicProvider(config, max_retries=2, retry_base_delay=0.0) as p:
            with pytest.raises(ProviderError) as caught:
                await collect(p)
        lines = await access_lines(gateway.access_log, 3)
    assert caught.value.status == 502
    assert len(lines) == 3  # the first attempt and two retries
    assert all('"POST /anthropic/v1/messages HTTP/1.1" 502' in line for line in lines)


async def test_api_429_through_nginx_is_a_rate_limit_error_with_retry_after(
    tmp_path: Path,
) -> None:
    async with ReplayServer(FIXTURES) as server:
        with nginx_gateway(tmp_path, server.url) as gateway:
            headers = {"x-provider-fixture": "rate_limit_429"}
            async with provider(gateway.url, headers=headers) as p:
                with pytest.raises(RateLimitError) as caught:
                    await collect(p)
    error = caught.value
    assert error.status == 429
    assert error.retry_after == 7.0  # nginx passed the retry-after header through
    assert error.error_type == "rate_limit_error"
    assert error.request_id == "req_011CqsR6RZ24lPoQj3oPUlie"
    assert "rate limit" in error.message
    assert [r.fixture for r in server.requests] == ["rate_limit_429"]


async def test_upstream_dying_mid_stream_behind_nginx_is_a_network_error_after_the_text(
    tmp_path: Path,
) -> None:
    chunks: list[MessageStreamChunk] = []
    async with ReplayServer(HAIKU, pause_after_events=FIRST_TEXT_EVENT) as server:
        with nginx_gateway(tmp_path, server.url) as gateway:
            async with provider(gateway.url) as p:
                stream = p.create_message("", messages())
                with anyio.fail_after(LIMIT):
                    async for chunk in stream:
                        chunks.append(chunk)
                        if isinstance(chunk, TextChunk):
                            break  # leaves the generator open, suspended after its first text
                    await server.paused.wait()
                # The upstream goes away mid-stream (the block's own exit is then a no-op).
                await server.__aexit__(None, None, None)
                with anyio.fail_after(LIMIT), pytest.raises(NetworkError) as caught:
                    async for chunk in stream:
                        chunks.append(chunk)
    assert text_of(chunks) == "Bytes"  # what arrived was delivered; nothing repeated
    assert KEY not in str(caught.value)
    assert "upstream prematurely closed" in gateway.error_log.read_text()


@pytest.mark.parametrize(
    ("credential", "header", "value"),
    [
        ({"api_key": KEY}, "x-api-key", KEY),
        ({"auth_token": "gw-token-5d1e"}, "authorization", "Bearer gw-token-5d1e"),
    ],
)
async def test_credentials_and_extra_headers_reach_the_upstream_through_nginx(
    tmp_path: Path, credential: dict[str, str], header: str, value: str
) -> None:
    haiku = Reply(200, [("content-type", "text/event-stream")], HAIKU.read_bytes())
    extra = {"anthropic-beta": "prompt-caching-2024-07-31", "cf-aig-authorization": "Bearer cf"}
    async with ScriptedUpstream([haiku]) as upstream:
        with nginx_gateway(tmp_path, upstream.url) as gateway:
            p = AnthropicProvider(
                ProviderConfig(
                    model_id="claude-sonnet-4-5",
                    model_info=MODELS["claude-sonnet-4-5"],
                    base_url=gateway.url,
                    headers=extra,
                    anthropic_version="2024-01-01",
                    **credential,  # type: ignore[arg-type]
                ),
                max_retries=0,
            )
            async with p:
                chunks = await collect(p)
    assert text_of(chunks) == HAIKU_TEXT
    (seen,) = upstream.seen
    assert seen.target == "/v1/messages"
    assert seen.headers[header] == value
    other = ({"x-api-key", "authorization"} - {header}).pop()
    assert other not in seen.headers  # one credential, never both
    assert seen.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert seen.headers["cf-aig-authorization"] == "Bearer cf"
    assert seen.headers["anthropic-version"] == "2024-01-01"


async def test_key_header_name_reaches_a_replay_upstream_through_nginx(tmp_path: Path) -> None:
    async with ReplayServer(HAIKU) as server:
        with nginx_gateway(tmp_path, server.url) as gateway:
            async with provider(gateway.url) as p:
                await collect(p)
    (request,) = server.requests
    # ReplayServer redacts the value but keeps the name: the header crossed nginx.
    assert request.headers["x-api-key"] == "<redacted>"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert KEY not in repr(server.requests)


async def test_a_gateway_that_holds_the_real_key_needs_only_its_own_token(
    tmp_path: Path,
) -> None:
    # The common company set-up: clients get a gateway token, the gateway adds the API key.
    upstream_key = "sk-ant-api03-HELD-BY-THE-GATEWAY"
    haiku = Reply(200, [("content-type", "text/event-stream")], HAIKU.read_bytes())
    extra = f'proxy_set_header x-api-key "{upstream_key}"; proxy_set_header authorization "";'
    async with ScriptedUpstream([haiku]) as upstream:
        with nginx_gateway(tmp_path, upstream.url, extra=extra) as gateway:
            async with provider(gateway.url, api_key=None, auth_token="gw-token") as p:
                chunks = await collect(p)
    assert text_of(chunks) == HAIKU_TEXT
    (seen,) = upstream.seen
    assert seen.headers["x-api-key"] == upstream_key
    assert "authorization" not in seen.headers


async def test_the_nginx_config_in_the_docs_streams(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (conf,) = re.findall(r"^```nginx\n(.*?)^```", readme, re.S | re.M)
    binary = require_binary("nginx", "nginx")
    port = free_port()
    async with ReplayServer(FIXTURES) as server:
        conf = conf.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        conf = conf.replace("127.0.0.1:8001", server.url.removeprefix("http://"))
        if os.geteuid() == 0:  # as in gateway_support: workers must reach the tmp directory
            conf = f"user {pwd.getpwuid(0).pw_name};\n{conf}"
        (tmp_path / "gateway.conf").write_text(conf)
        error_log = tmp_path / "error.log"
        argv = [binary, "-p", str(tmp_path), "-e", str(error_log), "-c", "gateway.conf"]
        process = subprocess.Popen(argv, cwd=tmp_path, start_new_session=True)
        try:
            with anyio.fail_after(LIMIT):
                while not _listening(port):
                    assert process.poll() is None, error_log.read_text()
                    await anyio.sleep(0.02)
            async with provider(f"http://127.0.0.1:{port}/anthropic") as p:
                chunks = await collect(p)
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert text_of(chunks) == HAIKU_TEXT
    assert [r.path for r in server.requests] == ["/v1/messages"]
    assert "/anthropic/v1/messages" in (tmp_path / "access.log").read_text()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
