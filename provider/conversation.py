"""A conversation on the terminal: one streamed turn, and ``chat -i`` (used by the CLI).

Each turn is shown as it streams (``render.Renderer``) and folded into the ``AssistantTurn``
at the same time (``TurnAccumulator``), so the reply goes back into the history whole.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from contextlib import aclosing
from typing import TextIO

import anyio

from .content import Block, Message, TextBlock
from .errors import ProviderError
from .providers.anthropic import AnthropicProvider
from .render import Renderer, usage_line
from .request import RequestOptions
from .turn import AssistantTurn, TurnAccumulator

__all__ = ["Lines", "converse", "isatty", "stream_turn", "user_message"]


def user_message(blocks: Sequence[Block], text: str) -> Message:
    """A user message: the attachments first, then the prompt (as the API's examples do)."""
    return Message("user", [*blocks, TextBlock(text)]) if blocks else Message("user", text)


def isatty(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for anything that cannot say)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


async def stream_turn(
    provider: AnthropicProvider,
    system: str,
    messages: list[Message],
    options: RequestOptions,
    out: TextIO,
    err: TextIO,
) -> AssistantTurn:
    """Stream one reply to the terminal and give back the turn, with its usage line."""
    view = Renderer(out, err, tty=isatty(out))
    acc = TurnAccumulator()
    try:
        async with aclosing(provider.create_message(system, messages, options=options)) as stream:
            async for chunk in stream:
                acc.add(chunk)
                view.show(chunk)
    except BaseException:
        acc.fail()
        raise
    finally:
        view.finish()
    turn = acc.turn()
    err.write(usage_line(provider, turn.usage) + "\n")
    err.flush()
    return turn


class Lines:
    """The lines of stdin for ``chat -i``, read by a daemon thread and polled: waiting for one
    can be cancelled (Ctrl-C) on every anyio version and backend, and the thread, blocked in
    ``readline``, never holds up the exit (an anyio worker thread would, until Enter)."""

    def __init__(self, stream: TextIO, *, prompt: TextIO | None) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._prompt = prompt  # where to write "> " (a terminal), or None
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: TextIO) -> None:
        try:
            for line in iter(stream.readline, ""):
                self._queue.put(line)
        finally:
            self._queue.put("")  # end of input

    async def next(self) -> str | None:
        """The next line without its newline; None at the end of input (Ctrl-D)."""
        if self._prompt is not None:
            self._prompt.write("> ")
            self._prompt.flush()
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                await anyio.sleep(0.02)
                continue
            return line.rstrip("\r\n") if line else None


async def converse(
    provider: AnthropicProvider,
    system: str,
    first: str | None,
    attached: Sequence[Block],
    options: RequestOptions,
    lines: Lines,
    out: TextIO,
    err: TextIO,
) -> None:
    """``chat -i``: each line of stdin is the next user turn; each reply goes back into the
    history as the assistant's turn (``turn.message``: thinking, tool blocks and all). After
    each turn, stderr gets its usage line and the conversation's running cost: the sum of the
    turns' costs, each priced on its own (the long-context premium is decided per request).
    A failed turn is said and left out of the history; the end of input ends it."""
    history: list[Message] = []
    priced = provider.get_model().info.input_price is not None
    total, turns = 0.0, 0
    text = first
    while True:
        if text is None:
            text = await lines.next()
            if text is None:
                return
        if not text.strip():
            text = None
            continue
        message, attached = user_message(attached, text), ()
        text = None
        try:
            turn = await stream_turn(provider, system, [*history, message], options, out, err)
        except ProviderError as e:
            err.write(f"provider: error: {e}\n")
            err.flush()
            continue
        if turn.message.content:  # an empty assistant turn cannot be sent back
            history += [message, turn.message]
        turns += 1
        total += provider.calculate_cost(turn.usage) if priced else 0.0
        cost = f"${total:.6f}" if priced else "cost unknown"
        err.write(f"conversation: {turns} turn{'' if turns == 1 else 's'} · {cost}\n")
        err.flush()
