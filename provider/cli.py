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

from .attachments import file_block, image_block
from .constants import DEFAULT_MODEL, MODELS
from .content import Block
from .conversation import Lines, converse, isatty, stream_turn, user_message
from .errors import ProviderError
from .providers.anthropic import AnthropicProvider
from .request import RequestOptions, Thinking
from .types import ModelInfo, ProviderConfig

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


def _model_info(model: str) -> ModelInfo:
    return MODELS.get(model, ModelInfo())


def _positive(value: str) -> int:
    """argparse type for --max-tokens and --thinking: an int of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _options(args: argparse.Namespace) -> RequestOptions:
    budget = getattr(args, "thinking", None)
    return RequestOptions(
        max_tokens=getattr(args, "max_tokens", None),
        temperature=getattr(args, "temperature", None),
        thinking=None if budget is None else Thinking(budget_tokens=budget),
    )


def _attachments(args: argparse.Namespace) -> list[Block]:
    """The ``--image`` and ``--file`` blocks, read now (before any request), so that a bad
    file is said at once."""
    blocks: list[Block] = [image_block(path) for path in getattr(args, "images", None) or ()]
    return blocks + [file_block(path) for path in getattr(args, "files", None) or ()]


async def _session(
    provider: AnthropicProvider, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    """One reply, or with ``-i`` a conversation."""
    options = _options(args)
    attached = getattr(args, "attached", None)
    if attached is None:
        attached = _attachments(args)
    async with provider:
        if getattr(args, "interactive", False):
            lines = Lines(sys.stdin, prompt=err if isatty(sys.stdin) else None)
            await converse(provider, args.system, args.prompt, attached, options, lines, out, err)
        else:
            messages = [user_message(attached, args.prompt)]
            await stream_turn(provider, args.system, messages, options, out, err)


def _provider(
    args: argparse.Namespace, *, api_key: str | None, client: httpx.AsyncClient | None
) -> AnthropicProvider:
    config = ProviderConfig(
        model_id=args.model,
        model_info=_model_info(args.model),
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
        await _session(_provider(args, api_key=_REPLAY_KEY, client=client), args, out, err)


def _has_credentials() -> bool:
    # The provider reads them itself (ANTHROPIC_AUTH_TOKEN is a gateway's token).
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


async def _live(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if not _has_credentials():
        raise ProviderError(_NO_KEY)
    await _session(_provider(args, api_key=None, client=None), args, out, err)


async def _record(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    from .replay import RecordingTransport

    if not _has_credentials():
        raise ProviderError(_NO_KEY)
    transport = RecordingTransport(httpx.AsyncHTTPTransport(), args.output)
    async with httpx.AsyncClient(transport=transport) as client:
        await _session(_provider(args, api_key=None, client=client), args, out, err)
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
    args.prompt, args.system, args.base_url = DEMO_PROMPT, "", None
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
    args.attached = _attachments(args)  # before anything else: a bad file is said first
    if args.replay is not None:
        args.chunk_size, args.delay = None, 0.0
        await _replay(args, Path(args.replay), out, err)
    else:
        await _live(args, out, err)


async def _tokens(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    message = user_message(_attachments(args), args.prompt)
    if not _has_credentials():
        raise ProviderError(_NO_KEY)
    async with _provider(args, api_key=None, client=None) as provider:
        count = await provider.count_tokens(args.system, [message])
    out.write(f"{count}\n")


async def _replay_cmd(args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    args.prompt, args.system, args.base_url = "(replay)", "", None
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
        p.add_argument("--base-url", default=None, help="API or gateway base URL")

    def generation_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--max-tokens", type=_positive, default=None, help="max tokens to generate (>= 1)"
        )
        p.add_argument("--temperature", type=float, default=None, help="sampling temperature")
        p.add_argument(
            "--thinking", type=_positive, metavar="BUDGET", help="extended thinking budget (tokens)"
        )

    def attachment_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--image",
            action="append",
            dest="images",
            metavar="PATH",
            help="an image (JPEG, PNG, GIF, WebP)",
        )
        p.add_argument(
            "--file", action="append", dest="files", metavar="PATH", help="a PDF or a text file"
        )

    chat = sub.add_parser(
        "chat",
        help="stream a reply to PROMPT (-i: a conversation)",
        epilog="--image and --file may be repeated; their blocks come before the prompt.",
    )
    chat.add_argument("prompt", nargs="?", help='the prompt; "-" reads it from stdin')
    chat.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="a conversation: each line of stdin is your next turn; Ctrl-D ends it",
    )
    model_options(chat)
    generation_options(chat)
    attachment_options(chat)
    chat.add_argument("--replay", metavar="FILE", help="replay a recorded fixture instead")
    chat.set_defaults(run=_chat, usage_error=chat.error)

    tokens = sub.add_parser("tokens", help="count the input tokens of PROMPT (count_tokens)")
    tokens.add_argument("prompt", help='the prompt; "-" reads it from stdin')
    model_options(tokens)
    attachment_options(tokens)
    tokens.set_defaults(run=_tokens)

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
    generation_options(record)
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


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    if args.command == "chat" and args.prompt is None and not args.interactive:
        args.usage_error("the following arguments are required: prompt (or -i for a conversation)")
    return args


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
    args = _parse(argv)
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
