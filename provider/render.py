"""Showing a stream of chunks as the ``provider`` command does (no network; it only writes).

The reply's text goes to ``out`` exactly as it arrives. Thinking is shown dimmed in line on
``out`` when ``out`` is a terminal, and plain on ``err`` otherwise, so that ``provider chat …
> reply.txt`` still captures the reply alone. Each tool call, server-tool block and redacted
thinking block is one line on ``err`` (``[tool_use get_weather {"location":"Paris"}]``).
"""

from __future__ import annotations

from typing import Any, TextIO

import msgspec

from .base import BaseProvider
from .content import RawBlock
from .turn import Usage
from .types import (
    BlockChunk,
    MessageStreamChunk,
    RedactedThinkingChunk,
    TextChunk,
    ThinkingChunk,
    ToolUseChunk,
)

__all__ = ["DIM", "RESET", "Renderer", "block_line", "usage_line"]

# SGR "faint" and "reset": each thinking piece is wrapped on its own, so an interrupted stream
# never leaves the terminal dimmed.
DIM, RESET = "\x1b[2m", "\x1b[0m"


def _json(value: Any) -> str:
    # Compact JSON has no raw newline (they are escaped inside strings): one line, always.
    return msgspec.json.encode(value).decode()


def block_line(block: RawBlock) -> str:
    """One line for a block the API ran itself: ``[server_tool_use web_search {"query":…}]``,
    ``[web_search_tool_result srvtoolu_… 3 results]``, or ``[kind]`` for any other."""
    parts = [block.type]
    if isinstance(block.get("name"), str):
        parts.append(block["name"])
    if "input" in block:
        parts.append(_json(block["input"]))
    elif isinstance(block.get("tool_use_id"), str):
        parts.append(block["tool_use_id"])
        content = block.get("content")
        if isinstance(content, list):
            parts.append(f"{len(content)} result{'' if len(content) == 1 else 's'}")
    return f"[{' '.join(parts)}]"


class Renderer:
    """Writes each chunk as it comes (``show``), then ends the open lines (``finish``).

    ``tty``: ``out`` is a terminal (thinking is then dimmed in line, and a line on ``err``
    first ends the line on ``out``, since both land on the same screen).
    """

    __slots__ = ("_err", "_kind", "_open_err", "_open_out", "_out", "_tty")

    def __init__(self, out: TextIO, err: TextIO, *, tty: bool) -> None:
        self._out, self._err, self._tty = out, err, tty
        self._kind = ""  # the section being written: "text", "thinking" or "" (none)
        self._open_out = self._open_err = False  # a line was started and not ended

    def show(self, chunk: MessageStreamChunk) -> None:
        """Write one chunk (usage, start, stop, citation and tool-input chunks show nothing)."""
        kind = type(chunk)
        if kind is TextChunk:
            self._text(chunk.text)  # type: ignore[union-attr]
        elif kind is ThinkingChunk:
            self._thinking(chunk.thinking)  # type: ignore[union-attr]
        elif kind is ToolUseChunk:
            self._line(f"[tool_use {chunk.name} {_json(chunk.input)}]")  # type: ignore[union-attr]
        elif kind is BlockChunk:
            self._line(block_line(chunk.block))  # type: ignore[union-attr]
        elif kind is RedactedThinkingChunk:
            self._line("[redacted_thinking]")

    def finish(self) -> None:
        """End the lines left open (also after an error, so stderr starts on its own line)."""
        if self._open_out:
            self._out.write("\n")
        if self._open_err:
            self._err.write("\n")
        self._open_out = self._open_err = False
        self._kind = ""
        self._out.flush()
        self._err.flush()

    def _text(self, text: str) -> None:
        if not text:
            return
        if self._kind == "thinking":
            self._end_thinking()
        self._kind = "text"
        self._out.write(text)
        self._out.flush()
        self._open_out = not text.endswith("\n")

    def _thinking(self, thinking: str) -> None:
        if not thinking:
            return  # the signature's chunk: nothing to show
        if self._tty:
            if self._kind != "thinking" and self._open_out:
                self._out.write("\n")
            self._out.write(f"{DIM}{thinking}{RESET}")
            self._out.flush()
            self._open_out = not thinking.endswith("\n")
        else:
            self._err.write(thinking)
            self._err.flush()
            self._open_err = not thinking.endswith("\n")
        self._kind = "thinking"

    def _end_thinking(self) -> None:
        if self._tty:
            # A blank line between the thinking and what follows it on the screen.
            self._out.write("\n\n" if self._open_out else "\n")
            self._open_out = False
        elif self._open_err:
            self._err.write("\n")
            self._open_err = False
        self._kind = ""

    def _line(self, line: str) -> None:
        if self._kind == "thinking":
            self._end_thinking()
        if self._tty and self._open_out:
            self._out.write("\n")
            self._open_out = False
        self._out.flush()
        if self._open_err:
            self._err.write("\n")
            self._open_err = False
        self._err.write(line + "\n")
        self._err.flush()
        self._kind = ""


def usage_line(provider: BaseProvider, usage: Usage) -> str:
    """``tokens in 12 · out 7 · cache write 0 · cache read 0 · $0.000141 (model)``, with
    ``(1h N)`` after the cache writes and ``web search N`` when there are any."""
    model = provider.get_model()
    priced = model.info.input_price is not None and model.info.output_price is not None
    cost = (
        f"${provider.calculate_cost(usage):.6f}"
        if priced
        else "cost unknown (model not in the price table)"
    )
    write = f"cache write {usage.cache_write_tokens}"
    if usage.cache_write_1h_tokens:
        write += f" (1h {usage.cache_write_1h_tokens})"
    search = f"web search {usage.web_search_requests} · " if usage.web_search_requests else ""
    return (
        f"tokens in {usage.input_tokens} · out {usage.output_tokens} · {write} · "
        f"cache read {usage.cache_read_tokens} · {search}{cost} ({model.id})"
    )
