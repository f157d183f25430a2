"""The client through a real HTTP forward proxy (tinyproxy): by ``proxy=``, by ``HTTP_PROXY`` /
``HTTPS_PROXY`` (read when the provider makes its client, i.e. on the first request) and past it
by ``NO_PROXY``. The proxy's log and the ``Via`` header it adds prove which way traffic went.
Tests that take ``shell`` run against the sync twin too."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    AuthenticationError,
    Message,
    MessageStreamChunk,
    NetworkError,
    ProviderConfig,
    ProviderError,
    TextChunk,
)
from provider.serve import ReplayServer
from tests.gateway_support import (
    closed_port,
    forward_proxy,
    nginx_gateway,
    self_signed_certificate,
)
from tests.shells import Shell

# Each test runs on every transport the provider can choose for its own client.
pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("http_transport")]

HAIKU = Path(__file__).resolve().parents[2] / "fixtures" / "haiku.sse"
HAIKU_TEXT = "Bytes drift down the wire,\nwords arrive before the thought—\nstreams of tokens flow."
FIRST_TEXT_EVENT = 4
KEY = "sk-ant-api03-PROXY-TEST-KEY-91c2"
LIMIT = 15
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine may decide these tests (either spelling)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return monkeypatch


def config(base_url: str) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        model_info=MODELS["claude-sonnet-4-5"],
        api_key=KEY,
        base_url=base_url,
    )


def provider(base_url: str, proxy: str | None = None) -> AnthropicProvider:
    return AnthropicProvider(config(base_url), max_retries=0, proxy=proxy)


def opened(
    shell: Shell, base_url: str, proxy: str | None = None
) -> AbstractAsyncContextManager[Any]:
    """The ``shell``'s provider (async or sync), closed when the block ends."""
    return shell.opened(config(base_url), max_retries=0, proxy=proxy)


def messages() -> list[Message]:
    return [Message(role="user", content="Write a haiku about streaming.")]


async def collect(p: AnthropicProvider) -> list[MessageStreamChunk]:
    with anyio.fail_after(LIMIT):
        return [chunk async for chunk in p.create_message("", messages())]


async def chunks_of(shell: Shell, p: Any) -> list[MessageStreamChunk]:
    with anyio.fail_after(LIMIT):
        return await shell.chunks(p, "", messages())


def text_of(chunks: list[MessageStreamChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


async def test_proxy_argument_sends_the_stream_through_the_proxy(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    async with ReplayServer(HAIKU) as server:
        async with provider(server.url) as direct:
            expected = await collect(direct)
        with forward_proxy(tmp_path) as proxy:
            async with opened(shell, server.url, proxy=proxy.url) as p:
                chunks = await chunks_of(shell, p)
    assert chunks == expected
    assert text_of(chunks) == HAIKU_TEXT
    # The proxy forwarded one absolute-form request; the upstream saw the proxy's Via header.
    assert proxy.requests() == [("POST", f"{server.url}/v1/messages")]
    direct_request, proxied = server.requests
    assert "via" not in direct_request.headers
    assert proxy.via in proxied.headers["via"]
    assert proxied.headers["x-api-key"] == "<redacted>"  # the key crossed the proxy
    assert KEY not in proxy.log.read_text()


async def test_first_chunk_arrives_through_the_proxy_while_the_upstream_holds(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    async with ReplayServer(HAIKU, pause_after_events=FIRST_TEXT_EVENT) as server:
        with forward_proxy(tmp_path) as proxy:
            async with provider(server.url, proxy=proxy.url) as p:
                chunks: list[MessageStreamChunk] = []
                with anyio.fail_after(LIMIT):
                    async for chunk in p.create_message("", messages()):
                        chunks.append(chunk)
                        if isinstance(chunk, TextChunk) and not server.resume.is_set():
                            # Waiting here would hang if the upstream had sent everything.
                            await server.paused.wait()
                            assert server.pieces_sent == FIRST_TEXT_EVENT
                            server.resume.set()
    assert server.resume.is_set()
    assert text_of(chunks) == HAIKU_TEXT
    assert len(proxy.requests()) == 1


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_proxy_from_the_environment(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch, variable: str
) -> None:
    async with ReplayServer(HAIKU) as server:
        with forward_proxy(tmp_path) as proxy:
            # The provider makes its client on the first request: that is when the variable counts.
            async with opened(shell, server.url) as p:
                clean_env.setenv(variable, proxy.url)
                chunks = await chunks_of(shell, p)
    assert text_of(chunks) == HAIKU_TEXT
    assert proxy.requests() == [("POST", f"{server.url}/v1/messages")]
    assert proxy.via in server.requests[0].headers["via"]


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_bypasses_the_proxy(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch, no_proxy: str
) -> None:
    async with ReplayServer(HAIKU) as server:
        with forward_proxy(tmp_path) as proxy:
            clean_env.setenv("HTTP_PROXY", proxy.url)
            clean_env.setenv("NO_PROXY", no_proxy)
            async with opened(shell, server.url) as p:
                chunks = await chunks_of(shell, p)
    assert text_of(chunks) == HAIKU_TEXT
    assert proxy.requests() == []
    assert "via" not in server.requests[0].headers


async def test_https_proxy_does_not_apply_to_a_plain_http_base_url(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    # HTTPS_PROXY is for https targets (the real API); a local http gateway goes direct.
    async with ReplayServer(HAIKU) as server:
        with forward_proxy(tmp_path) as proxy:
            clean_env.setenv("HTTPS_PROXY", proxy.url)
            async with opened(shell, server.url) as p:
                chunks = await chunks_of(shell, p)
    assert text_of(chunks) == HAIKU_TEXT
    assert proxy.requests() == []


async def test_https_proxy_tunnels_to_an_https_gateway(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    # The real API's path: https through HTTPS_PROXY, the proxy sees only CONNECT, never the key.
    certificate = self_signed_certificate(tmp_path)
    async with ReplayServer(HAIKU) as server:
        with (
            nginx_gateway(tmp_path, server.url, tls=certificate) as gateway,
            forward_proxy(tmp_path) as proxy,
        ):
            clean_env.setenv("HTTPS_PROXY", proxy.url)
            clean_env.setenv("SSL_CERT_FILE", str(certificate.cert))
            async with opened(shell, gateway.url) as p:
                chunks = await chunks_of(shell, p)
    assert gateway.url.startswith("https://")
    assert text_of(chunks) == HAIKU_TEXT
    assert proxy.requests() == [("CONNECT", f"127.0.0.1:{gateway.port}")]
    assert server.requests[0].headers["x-api-key"] == "<redacted>"
    assert KEY not in proxy.log.read_text()


# tinyproxy answers a refused request (500 "Unable to connect", 407) and closes without reading
# the request body, so the kernel resets the connection while the client reads the error page.


async def refused_by_proxy(shell: Shell, tmp_path: Path, bad_credentials: bool) -> ProviderError:
    """The error for a request the proxy refuses: a dead upstream, or wrong proxy credentials."""
    async with ReplayServer(HAIKU) as server:
        auth = ("alice", "proxy-pass-3e8")
        with forward_proxy(tmp_path, basic_auth=auth if bad_credentials else None) as proxy:
            target = server.url if bad_credentials else f"http://127.0.0.1:{closed_port()}"
            url = proxy.url.replace("http://", "http://alice:wrong-pass-77a@")
            async with opened(shell, target, proxy=url if bad_credentials else proxy.url) as p:
                with pytest.raises(ProviderError) as caught:
                    await chunks_of(shell, p)
            assert len(proxy.requests()) == 1  # it went to the proxy
    assert server.requests == []  # nothing reached (or went around the proxy to) the upstream
    return caught.value


@pytest.mark.parametrize("bad_credentials", [False, True], ids=["dead-upstream", "bad-auth"])
async def test_a_request_the_proxy_refuses_is_an_error_without_secrets(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch, bad_credentials: bool
) -> None:
    error = await refused_by_proxy(shell, tmp_path, bad_credentials)
    for text in (str(error), repr(error), repr(error.args), str(error.__cause__)):
        assert KEY not in text
        assert "wrong-pass-77a" not in text


# tinyproxy answers wrong proxy credentials on a plain-http request with 401 (not 407).
@pytest.mark.parametrize(
    ("bad_credentials", "status", "cls", "title"),
    [
        (False, 500, ProviderError, "500 Unable to connect"),
        (True, 401, AuthenticationError, "401 Unauthorized"),
    ],
    ids=["dead-upstream", "bad-auth"],
)
async def test_a_request_the_proxy_refuses_keeps_the_proxy_status(
    shell: Shell,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    bad_credentials: bool,
    status: int,
    cls: type[ProviderError],
    title: str,
) -> None:
    error = await refused_by_proxy(shell, tmp_path, bad_credentials)
    assert type(error) is cls
    assert error.status == status
    # The proxy's page, read before the reset: its status and title, not a bare NetworkError.
    assert error.message.startswith(f"HTTP {status} from http://127.0.0.1:")
    assert error.message.endswith(f"/v1/messages (text/html): {title}")


async def test_proxy_credentials_in_the_proxy_url_are_used(
    shell: Shell, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    async with ReplayServer(HAIKU) as server:
        with forward_proxy(tmp_path, basic_auth=("alice", "proxy-pass-3e8")) as proxy:
            url = proxy.url.replace("http://", "http://alice:proxy-pass-3e8@")
            async with opened(shell, server.url, proxy=url) as p:
                chunks = await chunks_of(shell, p)
    assert text_of(chunks) == HAIKU_TEXT
    assert len(proxy.requests()) == 1
    assert "proxy-authorization" not in server.requests[0].headers  # the proxy consumed it


async def test_unreachable_proxy_is_a_network_error(
    shell: Shell, clean_env: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    async with ReplayServer(HAIKU) as server, opened(shell, server.url, proxy=dead_proxy) as p:
        with pytest.raises(NetworkError):
            await chunks_of(shell, p)
    assert server.requests == []  # nothing went around the proxy
