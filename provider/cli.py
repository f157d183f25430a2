"""The ``provider`` command: chat, replay, record, serve, models and the demo.

The reply's text goes to stdout as it arrives; the usage-and-cost line, errors and notes go
to stderr, so ``provider chat … > reply.txt`` captures the text alone. Errors are one line and
exit 1; Ctrl-C closes the connection and exits 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio
import httpx
import msgspec

from .constants import DEFAULT_MODEL, MODELS
from .errors import ProviderError
from .providers.anthropic import AnthropicProvider
from .types import Message, ModelInfo, ProviderConfig, TextChunk, ToolUseChunk, UsageChunk

__all__ = ["main"]

DEMO_PROMPT = "Write a haiku about streaming."
# Replay needs a key-shaped value for the request headers; it never leaves the process.
_REPLAY_KEY = "sk-ant-replay-offline"
_NO_KEY = (
    "no API key: set ANTHROPIC_API_KEY=sk-ant-... (or ANTHROPIC_AUTH_TOKEN for a gateway) "
    "to talk to the API, "
    "or replay a recording offline: provider replay fixtures/haiku.sse"
)


def demo_fixture() -> Path:
    """The recorded haiku: in the wheel (``provider/_demo``) or in the source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_demo" / "haiku.sse", here.parent / "fixtures" / "haiku.sse"):
        if candidate.is_file():
            return candidate
    raise ProviderError("the demo recording haiku.sse is not installed")


def _model_info(model: str, max_tokens: int | None) -> ModelInfo:
    info = MODELS.get(model, ModelInfo())
    return info if max_tokens is None else msgspec.structs.replace(info, max_tokens=max_tokens)


class _Totals:
    """Sums the UsageChunks of one stream (they carry increases, so the sum is the usage)."""

    def __init__(self) -> None:
        self.input = self.output = self.cache_write = self.cache_read = self.cache_write_1h = 0

    def add(self, u: UsageChunk) -> None:
        self.input += u.input_tokens
        self.output += u.output_tokens
        self.cache_write += u.cache_write_tokens
        self.cache_read += u.cache_read_tokens
        self.cache_write_1h += u.cache_write_1h_tokens


def usage_line(provider: AnthropicProvider, t: _Totals) -> str:
    """``tokens in 12 · out 7 · cache write 0 · cache read 0 · cost $0.000141 (model)``."""
    model = provider.get_model()
    priced = model.info.input_price is not None and model.info.output_price is not None
    if priced:
        usd = provider.calculate_cost(
            t.input, t.output, t.cache_write, t.cache_read, t.cache_write_1h
        )
        cost = f"${usd:.6f}"
    else:
        cost = "cost unknown (model not in the price table)"
    write = f"cache write {t.cache_write}" + (
        f" (1h {t.cache_write_1h})" if t.cache_write_1h else ""
    )
    return (
        f"tokens in {t.input} · out {t.output} · {write} · cache read {t.cache_read} · "
        f"{cost} ({model.id})"
    )


async def _stream(
    provider: AnthropicProvider, system: str, prompt: str, out: TextIO, err: TextIO
) -> None:
    totals = _Totals()
    last = ""
    try:
        async with provider:
            messages = [Message(role="user", content=prompt)]
            async for chunk in provider.create_message(system, messages):
                if isinstance(chunk, TextChunk):
                    out.write(chunk.text)
                    out.flush()
                    last = chunk.text or last
                elif isinstance(chunk, UsageChunk):
                    totals.add(chunk)
                elif isinstance(chunk, ToolUseChunk):
                    tool_input = msgspec.json.encode(chunk.input).decode()
                    err.write(f"[tool_use {chunk.name} {tool_input}]\n")
    finally:
        # End the text's line even when an error cuts it, so stderr starts on its own line.
        if last and not last.endswith("\n"):
            out.write("\n")
        out.flush()
    err.write(usage_line(provider, totals) + "\n")
    err.flush()


def _provider(
    args: argparse.Namespace, *, api_key: str | None, client: httpx.AsyncClient | None
) -> AnthropicProvider:
    config = ProviderConfig(
        model_id=args.model,
        model_info=_model_info(args.model, getattr(args, "max_tokens", None)),
        api_key=api_key,
        base_url=getattr(args, "base_url", None),
    )
    return AnthropicProvider(config, http_client=client)


async def _replay(args: argparse.Namespace, path: Path, out: TextIO, err: TextIO) -> None:
    from .fixtures import load_fixture
    from .replay import ReplayTransport, check_sse_recording

    fixture = load_fixture(path)
    check_sse_recording(fixture, path)  # an empty or text file: say so, naming it
    transport = ReplayTransport(fixture, chunk_size=args.chunk_size, delay=args.delay)
    async with httpx.AsyncClient(transport=transport) as client:
        provider = _provider(args, api_key=_REPLAY_KEY, client=client)
        await _stream(provider, args.system, args.prompt, out, err)


def _has_credentials() -> bool:
    # The provider reads them itself (ANTHROPIC_AUTH_TOKEN is a gateway's token).
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


async def _live(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if not _has_credentials():
        raise ProviderError(_NO_KEY)
    await _stream(_provider(args, api_key=None, client=None), args.system, args.prompt, out, err)


async def _record(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    from .replay import RecordingTransport

    if not _has_credentials():
        raise ProviderError(_NO_KEY)
    transport = RecordingTransport(httpx.AsyncHTTPTransport(), args.output)
    async with httpx.AsyncClient(transport=transport) as client:
        provider = _provider(args, api_key=None, client=client)
        await _stream(provider, args.system, args.prompt, out, err)
    err.write(f"recorded to {', '.join(map(str, transport.paths))}\n")


async def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    from .serve import serve_forever

    def announce(url: str) -> None:
        out.write(f"listening on {url}\n")
        out.flush()

    await serve_forever(args.path, args.host, args.port, args.delay, announce, default=args.default)


async def _models(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    def price(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    out.write(
        f"{'model':<28} {'context':>9} {'max out':>8} {'in':>6} {'out':>6} "
        f"{'write5m':>8} {'write1h':>8} {'read':>6}   USD per million tokens\n"
    )
    for model_id, info in MODELS.items():
        out.write(
            f"{model_id:<28} {info.context_window or '-':>9} {info.max_tokens or '-':>8} "
            f"{price(info.input_price):>6} {price(info.output_price):>6} "
            f"{price(info.cache_writes_price):>8} {price(info.cache_writes_1h_price):>8} "
            f"{price(info.cache_reads_price):>6}\n"
        )


async def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    args.prompt, args.system, args.max_tokens, args.base_url = DEMO_PROMPT, "", None, None
    if _has_credentials():
        err.write(f"Credentials are set: asking {args.model} live.\n")
        await _live(args, out, err)
        return
    fixture = demo_fixture()
    err.write(f"No API key: replaying {fixture.name} offline through the real client.\n")
    err.write(f"> {DEMO_PROMPT}\n\n")
    err.flush()
    args.chunk_size, args.delay = 24, 0.04  # paced, so that it visibly streams
    await _replay(args, fixture, out, err)


async def _chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if args.replay is not None:
        args.chunk_size, args.delay = None, 0.0
        await _replay(args, Path(args.replay), out, err)
    else:
        await _live(args, out, err)


async def _replay_cmd(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    args.prompt, args.system, args.max_tokens, args.base_url = "(replay)", "", None, None
    await _replay(args, Path(args.file), out, err)


_SERVE_EPILOG = """\
choosing the reply:
  In a directory, each body file (NAME.sse, NAME.json ...) is a fixture. A sequence is
  served one step per request, in order: sequences/NAME.json lists fixture names, and any
  other subdirectory NAME/ is one too, its recordings (001.sse, 002.sse ...) in name order,
  as a pytest cassette is. The request header
    x-provider-fixture: NAME        picks the fixture or the next step of the sequence NAME
    x-provider-fixture: NAME/STEP   picks one step of a sequence (e.g. agent/agent_2)
  and a request without it gets --default. A step whose sidecar holds the recorded request
  is served only to that request (the same JSON body): any other, or a request past the
  end of the sequence, gets a 400 that says how it differs.

example:
  provider serve fixtures --port 8001 &
  curl -N localhost:8001/v1/messages -H 'x-provider-fixture: image_question' \\
       -d '{"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": []}'
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provider", description="Stream Claude's replies over raw HTTP."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
        p.add_argument("--system", default="", help="system prompt")
        p.add_argument("--max-tokens", type=int, default=None, help="max tokens to generate")
        p.add_argument("--base-url", default=None, help="API or gateway base URL")

    chat = sub.add_parser("chat", help="stream a reply to PROMPT")
    chat.add_argument("prompt", help='the prompt; "-" reads it from stdin')
    model_options(chat)
    chat.add_argument("--replay", metavar="FILE", help="replay a recorded fixture instead")
    chat.set_defaults(run=_chat)

    replay = sub.add_parser("replay", help="replay a recorded fixture offline")
    replay.add_argument("file")
    replay.add_argument("--model", default=DEFAULT_MODEL, help="model used to price the usage")
    replay.add_argument("--chunk-size", type=int, default=None, help="bytes per network read")
    replay.add_argument("--delay", type=float, default=0.0, help="seconds between reads")
    replay.set_defaults(run=_replay_cmd)

    record = sub.add_parser("record", help="make a live call and save it as a fixture")
    record.add_argument("prompt", help='the prompt; "-" reads it from stdin')
    record.add_argument("-o", "--output", required=True, help="fixture file to write (.sse)")
    model_options(record)
    record.set_defaults(run=_record)

    serve = sub.add_parser(
        "serve",
        help="serve fixtures as a local Messages endpoint",
        description=(
            "Answer POST .../v1/messages and .../v1/messages/count_tokens (under any path "
            "prefix) with recorded fixtures, streamed one SSE event per chunk."
        ),
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "path", help="a fixture file (served for every request), or a directory of fixtures"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    serve.add_argument("--delay", type=float, default=0.0, help="seconds between events")
    serve.add_argument(
        "--default",
        default="haiku",
        metavar="NAME",
        help="fixture or sequence for requests without the header (default: haiku)",
    )
    serve.set_defaults(run=_serve)

    models = sub.add_parser("models", help="the built-in model table with prices")
    models.set_defaults(run=_models)

    demo = sub.add_parser("demo", help="the haiku demo (offline without ANTHROPIC_API_KEY)")
    demo.add_argument("--model", default=DEFAULT_MODEL)
    demo.set_defaults(run=_demo)
    return parser


async def _interruptible(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """Run the command; on Ctrl-C cancel it (which closes the connection) and raise
    KeyboardInterrupt. Handling SIGINT here, not in the event loop's runner, gives the same
    result on every Python version and backend."""
    failure: list[Exception] = []
    interrupted = False

    async with anyio.create_task_group() as tg:

        async def work() -> None:
            try:
                await args.run(args, out, err)
            except Exception as e:  # re-raised below, outside the task group
                failure.append(e)
            finally:
                tg.cancel_scope.cancel()

        async def watch() -> None:
            nonlocal interrupted
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _ in signals:
                    interrupted = True
                    tg.cancel_scope.cancel()

        tg.start_soon(watch)
        tg.start_soon(work)
    if interrupted:
        raise KeyboardInterrupt
    if failure:
        raise failure[0]


class _SayRetries(logging.Handler):
    """Writes the provider's retry notes (``retrying in 14.0s after 429 rate_limit_error (1/2):
    …``) to stderr, so that a wait is never silent."""

    def __init__(self, err: TextIO) -> None:
        super().__init__(logging.INFO)
        self._err = err

    def emit(self, record: logging.LogRecord) -> None:
        self._err.write(f"provider: {record.getMessage()}\n")
        self._err.flush()


def _read_prompt(args: argparse.Namespace) -> None:
    # `provider chat -` reads the prompt from stdin, as most tools do with "-".
    if getattr(args, "prompt", None) == "-":
        args.prompt = sys.stdin.read().strip()
        if not args.prompt:
            raise ProviderError("no prompt on stdin (`-` reads the prompt from stdin)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    logger = logging.getLogger("provider")
    handler, level = _SayRetries(err), logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        _read_prompt(args)
        anyio.run(_interruptible, args, out, err)
    except ProviderError as e:
        out.flush()
        err.write(f"provider: error: {e}\n")
        return 1
    except KeyboardInterrupt:
        out.flush()
        err.write("provider: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (``provider models | head``): stop quietly, as a SIGPIPE would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return 0
