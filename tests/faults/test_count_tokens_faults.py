"""count_tokens meets a broken server the way create_message does (it goes through the same
loop): a stall ends in the configured read timeout, a body cut short is a NetworkError that is
retried, and the client closes every connection it opened, leaving nothing behind; for the
async provider and its sync twin (``shell``)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from provider import MODELS, Message, NetworkError, ProviderConfig

from ..shells import Shell
from .server import FaultConnection, FaultServer, Response, no_leaks

pytestmark = pytest.mark.anyio

KEY = "sk-ant-api03-COUNTFAULT-never-shown"
LIMIT = 20.0  # seconds: a hang fails its test instead of the suite
HI = [Message("user", "Hi")]
JSON = (("content-type", "application/json"), ("request-id", "req_count_fault"))
COUNT = b'{"input_tokens": 42}'


def config(url: str) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-opus-4-8", model_info=MODELS["claude-opus-4-8"], api_key=KEY, base_url=url
    )


async def count(shell: Shell, server: FaultServer, **options: object) -> int | BaseException:
    """The count from the ``shell``'s provider (async or the sync twin), or the NetworkError;
    then every connection must be closed by the client."""
    result: int | BaseException
    async with no_leaks():
        p = shell.provider(config(server.url), retry_base_delay=0.0, **options)
        try:
            with anyio.fail_after(LIMIT):
                result = await shell.count_tokens(p, "", HI)
        except NetworkError as e:
            result = e
        finally:
            await shell.close(p)  # a connection that answered rests in the pool until now
        with anyio.fail_after(LIMIT):
            await server.wait_closed()
    server.check()
    return result


async def test_a_stall_ends_in_the_read_timeout(shell: Shell, fault_server: FaultServer) -> None:
    async def script(conn: FaultConnection) -> None:
        await conn.read_request()
        await conn.wait_for_client_close()  # never answers: the client must give up

    fault_server.script = script
    error = await count(shell, fault_server, max_retries=0, timeout=httpx.Timeout(5, read=0.3))
    assert isinstance(error, NetworkError)
    assert "ReadTimeout after 0.3s" in str(error)
    assert "/v1/messages/count_tokens" in str(error)
    [conn] = fault_server.connections
    assert conn.closed_by in {"eof", "reset"}
    assert conn.request is not None and conn.request.target == b"/v1/messages/count_tokens"


@pytest.mark.parametrize("end", ["reset", "short"])
async def test_a_body_cut_short_is_retried(
    shell: Shell, fault_server: FaultServer, end: str
) -> None:
    attempts = 0

    async def script(conn: FaultConnection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.read_request()
        if attempts > 1:
            await conn.send(Response([COUNT], headers=JSON, framing="length"))
            await conn.wait_for_client_close()
            return
        # Half the JSON, then the connection ends: by a reset, or by a close while the
        # content-length still promises more.
        cut = Response([COUNT], headers=JSON, framing="length")
        await conn.send(cut, stop=len(cut.head) + 8)
        if end == "reset":
            await conn.reset()
        else:
            await conn.close_write()
            await conn.wait_for_client_close()

    fault_server.script = script
    assert await count(shell, fault_server, max_retries=1) == 42
    assert len(fault_server.connections) == 2
    first, second = fault_server.connections
    assert first.request_body == second.request_body


async def test_a_body_cut_short_with_no_retry_left_is_a_network_error(
    shell: Shell,
    fault_server: FaultServer,
) -> None:
    async def script(conn: FaultConnection) -> None:
        await conn.read_request()
        cut = Response([COUNT], headers=JSON, framing="length")
        await conn.send(cut, stop=len(cut.head) + 8)
        await conn.reset()

    fault_server.script = script
    error = await count(shell, fault_server, max_retries=0)
    assert isinstance(error, NetworkError)
    assert "while reading the response" in str(error)
    assert KEY not in f"{error} {error!r}"
