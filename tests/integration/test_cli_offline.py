"""The command line offline and on a first run (issue 12): every retry is said on stderr, a
replayed failure is retried without waiting, a file that is not an SSE recording is named as
such, ``chat -`` reads the prompt from stdin, and requests say who sends them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest

import provider
from provider import cli
from provider.serve import ReplayServer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ANTHROPIC_"):
            monkeypatch.delenv(name)


def test_replaying_a_rate_limit_says_each_retry_and_does_not_wait(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env(monkeypatch)
    slept: list[float] = []
    real_sleep = anyio.sleep

    async def sleep(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(anyio, "sleep", sleep)
    assert cli.main(["replay", str(FIXTURES / "rate_limit_429.json")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert all(delay == 0 for delay in slept)  # the recording's retry-after: 7 was not waited
    assert err[0].startswith("provider: retrying in 7.0s after 429 rate_limit_error (1/2)")
    assert err[1].startswith("provider: retrying in 7.0s after 429 rate_limit_error (2/2)")
    assert "not waited" in err[0]
    assert err[2].startswith("provider: error: ")
    assert "status=429" in err[2]


@pytest.mark.anyio
async def test_a_live_chat_says_each_retry_on_stderr(tmp_path: Path) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    (tmp_path / "busy.json").write_text(json.dumps(body))
    meta = {"status": 529, "headers": {"content-type": "application/json", "retry-after-ms": "1"}}
    (tmp_path / "busy.meta.json").write_text(json.dumps(meta))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["ANTHROPIC_API_KEY"] = "sk-ant-cli-offline-test"
    async with ReplayServer(tmp_path / "busy.json") as server:
        command = [sys.executable, "-m", "provider", "chat", "Hi", "--base-url", server.url]
        with anyio.fail_after(30):
            result = await anyio.run_process(command, check=False, env=env, cwd=ROOT)
    err = result.stderr.decode().splitlines()
    assert result.returncode == 1
    assert err[0].startswith("provider: retrying in 0.0s after 529 overloaded_error (1/2): ")
    assert err[1].startswith("provider: retrying in 0.0s after 529 overloaded_error (2/2): ")
    assert "not waited" not in err[0]
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.sse", b"", "the file is empty"),
        ("blank.sse", b"\n\n", "the file is empty"),
        ("binary.sse", bytes(range(256)), "not UTF-8"),
        ("notes.txt", b"Remember to buy milk.\n", "no `event:` or `data:` line"),
        ("reply.sse", b"Hello, world\n", "no `event:` or `data:` line"),
        ("page.json", b'{"not": "a stream"}', "no `event:` or `data:` line"),
    ],
)
def test_replaying_a_file_that_is_not_an_sse_recording_says_so_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    problem: str,
) -> None:
    clean_env(monkeypatch)
    path = tmp_path / name
    path.write_bytes(content)
    assert cli.main(["replay", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"provider: error: {path} is not an SSE recording: {err.split(': ', 3)[3]}"
    assert problem in err
    assert "retrying" not in err
    assert "api.anthropic.com" not in err


def test_replaying_an_error_fixture_is_still_allowed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env(monkeypatch)
    assert cli.main(["replay", str(FIXTURES / "authentication_401.json")]) == 1
    err = capsys.readouterr().err
    assert "not an SSE recording" not in err
    assert "status=401" in err


@pytest.mark.anyio
async def test_chat_dash_reads_the_prompt_from_stdin() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["ANTHROPIC_API_KEY"] = "sk-ant-cli-offline-test"
    async with ReplayServer(FIXTURES / "haiku.sse") as server:
        command = [sys.executable, "-m", "provider", "chat", "-", "--base-url", server.url]
        with anyio.fail_after(30):
            result = await anyio.run_process(
                command, input=b"What is a haiku?\n", check=False, env=env, cwd=ROOT
            )
    assert result.returncode == 0, result.stderr
    (request,) = server.requests
    assert request.json["messages"] == [{"role": "user", "content": "What is a haiku?"}]
    # Requests say who sends them, so a gateway's logs can tell.
    expected = f"provider/{provider.__version__} httpx/"
    assert request.headers["user-agent"].startswith(expected)


def test_chat_dash_with_nothing_on_stdin_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    clean_env(monkeypatch)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["chat", "-", "--replay", str(FIXTURES / "haiku.sse")]) == 1
    assert "no prompt on stdin" in capsys.readouterr().err
