"""The ``provider`` command, run as a user runs it: a subprocess, exact stdout, the stderr usage
line, and exit codes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from provider.fixtures import load_fixture

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
TIMEOUT = 30


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "provider", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        env=environ,
        cwd=ROOT,
    )


def expected_text(name: str) -> str:
    expect = load_fixture(FIXTURES / name).expect
    assert expect is not None and expect.text is not None
    return expect.text


USAGE = re.compile(
    r"^tokens in (\d+) · out (\d+) · cache write (\d+)(?: \(1h (\d+)\))? · cache read (\d+) · "
    r"\$(\d+\.\d{6}) \(claude-sonnet-4-5\)$"
)


def test_replay_prints_exactly_the_text_then_the_usage_line() -> None:
    result = run("replay", "fixtures/haiku.sse")
    assert result.returncode == 0, result.stderr
    text = expected_text("haiku.sse")
    assert result.stdout == text + ("" if text.endswith("\n") else "\n")
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    match = USAGE.match(lines[0])
    assert match, lines[0]
    expect = load_fixture(FIXTURES / "haiku.sse").expect
    assert expect is not None and expect.usage is not None
    assert int(match.group(1)) == expect.usage.input_tokens
    assert int(match.group(2)) == expect.usage.output_tokens
    # Sonnet 4.5: $3 in, $15 out per million tokens.
    cost = (expect.usage.input_tokens * 3 + expect.usage.output_tokens * 15) / 1e6
    assert match.group(6) == f"{cost:.6f}"


def test_replay_of_a_caching_fixture_prices_the_cache() -> None:
    result = run("replay", "fixtures/prompt_caching.sse", "--chunk-size", "13")
    assert result.returncode == 0, result.stderr
    expect = load_fixture(FIXTURES / "prompt_caching.sse").expect
    assert expect is not None and expect.usage is not None
    u = expect.usage
    match = USAGE.match(result.stderr.strip())
    assert match, result.stderr
    assert int(match.group(3)) == u.cache_write_tokens
    assert int(match.group(4) or 0) == u.cache_write_1h_tokens
    assert int(match.group(5)) == u.cache_read_tokens
    cost = (
        u.input_tokens * 3
        + u.output_tokens * 15
        + (u.cache_write_tokens - u.cache_write_1h_tokens) * 3.75
        + u.cache_write_1h_tokens * 6
        + u.cache_read_tokens * 0.3
    ) / 1e6
    assert match.group(6) == f"{cost:.6f}"


def test_chat_replay_option_is_the_same_as_replay() -> None:
    a = run("replay", "fixtures/long_unicode.sse")
    b = run("chat", "anything", "--replay", "fixtures/long_unicode.sse")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout
    assert a.stdout.rstrip("\n") == expected_text("long_unicode.sse").rstrip("\n")


def test_tool_calls_go_to_stderr_not_stdout() -> None:
    result = run("replay", "fixtures/tool_use.sse")
    assert result.returncode == 0
    assert "[tool_use get_weather " in result.stderr
    assert "tool_use" not in result.stdout


@pytest.mark.parametrize(
    ("fixture", "pattern"),
    [
        ("midstream_overloaded.sse", r"Overloaded \(type=overloaded_error"),
        ("rate_limit_429.json", r"status=429, type=rate_limit_error"),
        ("prompt_too_long_400.json", r"prompt is too long"),
        ("bad_gateway_502.html", r"502 Bad Gateway.*status=502"),
    ],
)
def test_errors_are_one_line_and_exit_1(fixture: str, pattern: str) -> None:
    result = run("replay", f"fixtures/{fixture}")
    assert result.returncode == 1
    *retries, error = result.stderr.splitlines()
    # A retried failure is said once per retry first (issue 12), then the error, on one line.
    assert all(line.startswith("provider: retrying in ") for line in retries)
    assert error.startswith("provider: error: ")
    assert re.search(pattern, error)


def test_text_before_a_mid_stream_error_is_kept_on_stdout() -> None:
    result = run("replay", "fixtures/midstream_overloaded.sse")
    expect = load_fixture(FIXTURES / "midstream_overloaded.sse").expect
    assert expect is not None and expect.text_before_error
    assert result.stdout == expect.text_before_error + "\n"


def test_chat_without_a_key_says_how_to_fix_it() -> None:
    result = run("chat", "hello")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "ANTHROPIC_API_KEY" in result.stderr and "provider replay" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_demo_without_a_key_streams_the_haiku_offline() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == expected_text("haiku.sse").rstrip("\n")
    assert USAGE.match(result.stderr.splitlines()[-1])


def test_models_lists_the_table() -> None:
    result = run("models")
    assert result.returncode == 0
    row = next(line for line in result.stdout.splitlines() if line.startswith("claude-haiku-4-5 "))
    assert row.split()[1:] == ["200000", "64000", "1", "5", "1.25", "2", "0.1"]


def test_bad_usage_exits_2() -> None:
    assert run("replay").returncode == 2
    assert run("nonsense").returncode == 2


def test_missing_fixture_is_a_one_line_error() -> None:
    result = run("replay", "fixtures/does-not-exist.sse")
    assert result.returncode == 1
    assert "does-not-exist.sse" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_ctrl_c_exits_130() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "provider", "replay", "fixtures/long_unicode.sse",
         "--chunk-size", "10", "--delay", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.read(1)  # it is streaming
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130
    assert b"interrupted" in err


@pytest.mark.parametrize("credential", ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
def test_serve_announces_its_port_and_streams(credential: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "provider", "serve", "fixtures", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", first)
        assert match, first
        env = {credential: "sk-ant-cli-test", "ANTHROPIC_BASE_URL": match.group(1)}
        result = run("chat", "Write a haiku about streaming.", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.rstrip("\n") == expected_text("haiku.sse").rstrip("\n")
        response = httpx.get(match.group(1) + "/v1/messages")
        assert response.status_code == 405
        assert response.json()["type"] == "error"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=TIMEOUT)
        finally:
            process.kill()
            process.wait()
