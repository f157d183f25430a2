"""The command line's conversation options (issues 10 and 11), run as a user runs them: a
subprocess, exact stdout and stderr. Attachments and options reach the request body; bad values
and files are one clear line; ``tokens`` prints the count; ``chat -i`` keeps the history and
the running cost; ``replay`` shows thinking dimmed on a terminal only, and each tool call as one
line."""

from __future__ import annotations

import base64
import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import msgspec
import pytest

from provider.fixtures import load_fixture
from provider.serve import ReplayServer
from tests.gateway_support import Reply, ScriptedUpstream

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
TIMEOUT = 30
KEY = "sk-ant-cli-conversation-test"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    environ.update(extra)
    return environ


def run(*args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provider", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        env=env(**extra),
        cwd=ROOT,
    )


async def run_async(*args: str, stdin: str = "", **extra: str) -> tuple[int, str, str]:
    with anyio.fail_after(TIMEOUT):
        result = await anyio.run_process(
            [sys.executable, "-m", "provider", *args],
            input=stdin.encode(),
            check=False,
            env=env(**extra),
            cwd=ROOT,
        )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def expect(name: str) -> tuple[str, str]:
    expected = load_fixture(FIXTURES / name).expect
    assert expected is not None and expected.text is not None
    return expected.text, expected.thinking or ""


def usage(name: str, cost: str, search: int = 0) -> str:
    expected = load_fixture(FIXTURES / name).expect
    assert expected is not None and expected.usage is not None
    u = expected.usage
    searches = f"web search {search} · " if search else ""
    return (
        f"tokens in {u.input_tokens} · out {u.output_tokens} · cache write "
        f"{u.cache_write_tokens} · cache read {u.cache_read_tokens} · {searches}${cost} "
        "(claude-sonnet-4-5)\n"
    )


# --- replay: thinking and tool calls ------------------------------------------------------


def test_replay_off_a_terminal_keeps_stdout_the_reply_and_puts_thinking_on_stderr() -> None:
    result = run("replay", "fixtures/thinking.sse")
    text, thinking = expect("thinking.sse")
    assert result.returncode == 0, result.stderr
    assert result.stdout == text + "\n"
    assert "\x1b" not in result.stdout + result.stderr  # plain: no escape codes off a terminal
    # $3 / $15 per million: 58 in, 231 out.
    assert result.stderr == thinking + "\n" + usage("thinking.sse", "0.003639")


def test_replay_shows_each_tool_and_server_tool_block_as_one_line() -> None:
    result = run("replay", "fixtures/agent_1.sse")
    text, thinking = expect("agent_1.sse")
    assert result.returncode == 0, result.stderr
    assert result.stdout == text + "\n"
    # 9846 in, 436 out at $3 / $15, plus one web search at $10 per 1,000.
    assert result.stderr == (
        thinking + "\n"
        '[server_tool_use web_search {"query":"Lyon events this weekend December 2026"}]\n'
        "[web_search_tool_result srvtoolu_019pVAT2mYS2bQ82ojinME1W 3 results]\n"
        '[tool_use get_weather {"location":"Lyon, France","date":"2026-12-05"}]\n'
        + usage("agent_1.sse", "0.046078", search=1)
    )


def run_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run with stdout on a pseudo-terminal (stderr a pipe); the terminal's \\r\\n undone."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "provider", *args],
        stdout=child, stderr=subprocess.PIPE, env=env(), cwd=ROOT,
    )  # fmt: skip
    os.close(child)
    shown = b""
    try:
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            shown += data
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        os.close(main)
        process.kill()
        process.wait()
    return process.returncode, shown.decode().replace("\r\n", "\n"), err.decode()


def test_replay_on_a_terminal_dims_each_thinking_piece_then_a_blank_line_before_the_text() -> None:
    status, shown, err = run_on_a_terminal("replay", "fixtures/thinking.sse")
    assert status == 0, err
    text, thinking = expect("thinking.sse")
    pieces = [
        c.thinking
        for c in _chunks("thinking.sse")
        if getattr(c, "type", "") == "thinking" and c.thinking
    ]
    assert "".join(pieces) == thinking
    dimmed = "".join(f"\x1b[2m{piece}\x1b[0m" for piece in pieces)
    assert shown == dimmed + "\n\n" + text + "\n"
    assert err == usage("thinking.sse", "0.003639")


def _chunks(name: str) -> list[object]:
    from provider.stream import ChunkDecoder

    decoder = ChunkDecoder()
    body = (FIXTURES / name).read_bytes()
    return [*decoder.feed(body), *decoder.close()]


# --- chat: options and attachments ---------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--max-tokens", "0", "must be at least 1, got 0"),
        ("--max-tokens", "-5", "must be at least 1, got -5"),
        ("--max-tokens", "many", "must be a whole number, got 'many'"),
        ("--thinking", "0", "must be at least 1, got 0"),
    ],
)
def test_a_count_below_one_is_refused_before_anything_else(
    option: str, value: str, problem: str
) -> None:
    result = run("chat", "Hi", option, value, ANTHROPIC_API_KEY=KEY)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"provider chat: error: argument {option}: {problem}"


def test_chat_without_a_prompt_or_i_is_a_usage_error() -> None:
    result = run("chat", ANTHROPIC_API_KEY=KEY)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "provider chat: error: the following arguments are required: prompt "
        "(or -i for a conversation)"
    )


@pytest.mark.parametrize(
    ("option", "name", "content", "problem"),
    [
        ("--image", "missing.png", None, "No such file or directory"),
        ("--image", "notes.txt", b"not a picture\n", "not a JPEG, PNG, GIF or WebP image"),
        ("--image", "empty.png", b"", "the file is empty"),
        ("--file", "missing.pdf", None, "No such file or directory"),
        ("--file", "blob.bin", bytes(range(256)), "not a PDF or UTF-8 text"),
        ("--file", ".", None, "Is a directory"),
    ],
)
def test_a_bad_attachment_is_one_line_naming_the_option_and_the_file(
    tmp_path: Path, option: str, name: str, content: bytes | None, problem: str
) -> None:
    path = Path(name) if name == "." else tmp_path / name
    if content is not None:
        path.write_bytes(content)
    # Said before the missing key: the file is the first thing to fix.
    result = run("chat", "Describe it.", option, str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"provider: error: {option} {path}: {problem}\n"


@pytest.mark.anyio
async def test_chat_sends_the_attachments_then_the_prompt_with_the_options(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(PNG)  # a PNG named .jpg: the bytes decide
    (tmp_path / "report.pdf").write_bytes(PDF)
    (tmp_path / "notes.txt").write_text("\ufeffLine one.\nLine two.\n")
    async with ReplayServer(FIXTURES / "haiku.sse") as server:
        status, out, err = await run_async(
            "chat", "Compare them.", "--base-url", server.url,
            "--image", str(tmp_path / "photo.jpg"), "--file", str(tmp_path / "report.pdf"),
            "--file", str(tmp_path / "notes.txt"), "--temperature", "0.25",
            "--thinking", "1024", "--max-tokens", "2048", "--system", "Be brief.",
            ANTHROPIC_API_KEY=KEY,
        )  # fmt: skip
    assert status == 0, err
    assert out == expect("haiku.sse")[0].rstrip("\n") + "\n"
    (request,) = server.requests
    assert request.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "system": "Be brief.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(PNG).decode(),
                        },
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": base64.b64encode(PDF).decode(),
                        },
                        "title": "report.pdf",
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "text",
                            "media_type": "text/plain",
                            "data": "Line one.\nLine two.\n",
                        },
                        "title": "notes.txt",
                    },
                    {"type": "text", "text": "Compare them."},
                ],
            }
        ],
        "temperature": 0.25,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "stream": True,
    }


# --- tokens ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tokens_prints_the_count_of_what_chat_would_send(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(PNG)
    count = Reply(200, [("content-type", "application/json")], b'{"input_tokens": 1234}')
    async with ScriptedUpstream([count]) as upstream:
        status, out, err = await run_async(
            "tokens", "What is this?", "--system", "Be brief.", "--image",
            str(tmp_path / "photo.png"), "--base-url", upstream.url + "/gw",
            ANTHROPIC_API_KEY=KEY,
        )  # fmt: skip
    assert (status, out, err) == (0, "1234\n", "")
    (seen,) = upstream.seen
    assert (seen.method, seen.target) == ("POST", "/gw/v1/messages/count_tokens")
    assert seen.headers["x-api-key"] == KEY
    assert json.loads(seen.body) == {
        "model": "claude-sonnet-4-5",
        "system": "Be brief.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(PNG).decode(),
                        },
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    }


def test_tokens_without_a_key_says_how_to_fix_it() -> None:
    result = run("tokens", "Hi")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("provider: error: no API key: set ANTHROPIC_API_KEY")
    assert len(result.stderr.splitlines()) == 1


# --- chat -i -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_chat_i_keeps_the_history_and_says_the_running_cost_after_each_turn() -> None:
    text = expect("haiku.sse")[0].rstrip("\n")
    line = usage("haiku.sse", "{cost}")
    expected = load_fixture(FIXTURES / "haiku.sse").expect
    assert expected is not None and expected.usage is not None
    one = (expected.usage.input_tokens * 3 + expected.usage.output_tokens * 15) / 1e6
    async with ReplayServer(FIXTURES / "haiku.sse") as server:
        # The first turn is the argument; then a blank line (skipped), a turn, and Ctrl-D.
        status, out, err = await run_async(
            "chat", "Write a haiku.", "-i", "--base-url", server.url,
            stdin="\nAnother one, please.\n", ANTHROPIC_API_KEY=KEY,
        )  # fmt: skip
    assert status == 0, err
    assert out == f"{text}\n{text}\n"
    assert err == (
        line.replace("{cost}", f"{one:.6f}")
        + f"conversation: 1 turn · ${one:.6f}\n"
        + line.replace("{cost}", f"{one:.6f}")
        + f"conversation: 2 turns · ${2 * one:.6f}\n"
    )
    first, second = (request.json for request in server.requests)
    assert first["messages"] == [{"role": "user", "content": "Write a haiku."}]
    assert second["messages"] == [
        {"role": "user", "content": "Write a haiku."},
        {"role": "assistant", "content": [{"type": "text", "text": expect("haiku.sse")[0]}]},
        {"role": "user", "content": "Another one, please."},
    ]


@pytest.mark.anyio
async def test_chat_i_with_no_input_ends_at_once() -> None:
    async with ReplayServer(FIXTURES / "haiku.sse") as server:
        status, out, err = await run_async(
            "chat", "-i", "--base-url", server.url, stdin="", ANTHROPIC_API_KEY=KEY
        )
    assert (status, out, err) == (0, "", "")
    assert server.requests == []


@pytest.mark.anyio
async def test_chat_i_says_a_failed_turn_leaves_it_out_and_goes_on(tmp_path: Path) -> None:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "Nope"}}
    bad = Reply(400, [("content-type", "application/json")], json.dumps(body).encode())
    good = Reply(
        200, [("content-type", "text/event-stream")], (FIXTURES / "haiku.sse").read_bytes()
    )
    async with ScriptedUpstream([bad, good]) as upstream:
        status, out, err = await run_async(
            "chat", "-i", "--base-url", upstream.url, stdin="First\nSecond\n",
            ANTHROPIC_API_KEY=KEY,
        )  # fmt: skip
    assert status == 0, err
    expected = load_fixture(FIXTURES / "haiku.sse").expect
    assert expected is not None and expected.usage is not None
    one = (expected.usage.input_tokens * 3 + expected.usage.output_tokens * 15) / 1e6
    lines = err.splitlines(keepends=True)
    assert lines[0].startswith("provider: error: Nope (")
    assert lines[1:] == [usage("haiku.sse", f"{one:.6f}"), f"conversation: 1 turn · ${one:.6f}\n"]
    assert out == expect("haiku.sse")[0].rstrip("\n") + "\n"
    second = json.loads(upstream.seen[1].body)
    assert second["messages"] == [{"role": "user", "content": "Second"}]
    assert msgspec.json.decode(upstream.seen[0].body)["messages"] == [
        {"role": "user", "content": "First"}
    ]


def test_ctrl_c_while_chat_i_waits_for_a_line_exits_130_at_once() -> None:
    # The line is read by a daemon thread: waiting for it is cancelled, and nothing holds the
    # exit until Enter (an anyio worker thread blocked in readline would).
    command = [sys.executable, "-m", "provider", "chat", "-i", "--replay", "fixtures/haiku.sse"]
    pipe = subprocess.PIPE
    with subprocess.Popen(
        command, stdin=pipe, stdout=pipe, stderr=pipe, text=True, env=env(), cwd=ROOT
    ) as process:
        try:
            assert process.stdin is not None and process.stdout is not None
            assert process.stderr is not None
            process.stdin.write("Hi\n")
            process.stdin.flush()
            assert process.stdout.readline()  # the first reply is out: it waits for a line
            process.send_signal(signal.SIGINT)
            process.wait(timeout=TIMEOUT)  # stdin still open: no end of input
            err = process.stderr.read()
        finally:
            process.kill()
    assert process.returncode == 130
    assert err.endswith("provider: interrupted\n")
