"""The assistant's turn, folded from the chunks of one stream (pure: no I/O).

``TurnAccumulator`` takes every chunk a stream gives (``add``) and builds the ``AssistantTurn``
so far (``turn``): the assistant ``Message``, ready to append to the history, with its blocks in
index order and every field the chunks carry (a thinking block's signature, a text block's
citations, a tool call's ``caller``, server-tool and other blocks whole), and the summed usage.
``collect`` runs the loop over an async stream of chunks, ``collect_sync`` over a sync one
(``SyncAnthropicProvider.create_message``).

The turn leaves out, on purpose:

- a block the stream's stop left unfinished (cut short on ``max_tokens``): a tool call whose
  input never came whole, a server-tool block that never closed. The machine gives no
  ToolUseChunk or BlockChunk for it (a tool call with half its input cannot be run or sent
  back), and the StopChunk names it in ``cut_blocks``; the turn then has ``complete=False``,
  whatever the block's kind and whether or not any of its input arrived. (A text or thinking
  block left open keeps what arrived of it, and the turn is incomplete too.)
- text blocks with no text (the API refuses empty text blocks in a request), and an empty
  ``citations`` list (no chunk carries it, and it says nothing);
- thinking blocks with neither thinking nor a signature (nothing to send back);
- fields of text, thinking and tool_use blocks that no chunk carries (none are known today;
  blocks of other kinds come whole, every field included).

Each content block is built by a small builder picked by the chunk's type, like h11's readers:
a new block kind is one class and one key.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

import msgspec
from msgspec import UNSET

from .content import (
    Block,
    Message,
    RawBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)
from .errors import ProviderError
from .types import (
    BlockChunk,
    CitationChunk,
    MessageStreamChunk,
    RedactedThinkingChunk,
    StartChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolInputChunk,
    ToolUseChunk,
    UsageChunk,
)

__all__ = ["AssistantTurn", "TurnAccumulator", "Usage", "collect", "collect_sync"]


class Usage(msgspec.Struct, frozen=True, gc=False):
    """What one message (or several, added with ``+``) used: the token counts the API bills,
    and the server-side web searches.

    ``input_tokens``, ``cache_write_tokens`` and ``cache_read_tokens`` are disjoint parts of the
    prompt; ``cache_write_1h_tokens`` is the part of the writes with the 1-hour TTL.

    ``+`` adds field by field (a ``UsageChunk`` can be added too). Cost is decided per request
    (the long-context premium applies to a request whose prompt is over the threshold), so
    the cost of a conversation is the sum of each turn's cost, not the cost of the summed
    usage: ``sum(p.calculate_cost(t.usage) for t in turns)``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Every prompt token of the request: input, cache writes and cache reads."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    def __add__(self, other: Usage | UsageChunk) -> Usage:
        if not isinstance(other, (Usage, UsageChunk)):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.web_search_requests + other.web_search_requests,
        )


class AssistantTurn(msgspec.Struct, frozen=True):
    """The assistant's reply as one turn of the conversation.

    ``message``: role ``assistant``, its blocks in index order, ready to append to the
    history (thinking with its signature, tool calls, server-tool blocks, all as sent).
    ``complete`` is False when the stream ended early (an error) or a block was left out
    (a tool call cut short by ``max_tokens``).
    """

    message: Message
    id: str
    model: str
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage
    complete: bool

    @property
    def text(self) -> str:
        """The text of the reply (its text blocks joined)."""
        return "".join(b.text for b in self.message.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
        """The tool calls to run, in order; answer each with a ``ToolResultBlock``."""
        return [b for b in self.message.content if isinstance(b, ToolUseBlock)]


# Builders: one per block kind, each joining its parts once, at ``finish``.


class _Text:
    __slots__ = ("citations", "parts")
    kind = "text"

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.citations: list[dict[str, Any]] = []

    def add(self, chunk: Any) -> None:
        if type(chunk) is TextChunk:
            self.parts.append(chunk.text)
        else:
            self.citations.append(chunk.citation)

    def finish(self) -> Block | None:
        text = "".join(self.parts)
        if not text:
            return None
        return TextBlock(text, citations=self.citations or UNSET)


class _Thinking:
    __slots__ = ("parts", "signature")
    kind = "thinking"

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.signature: str | None = None

    def add(self, chunk: ThinkingChunk) -> None:
        self.parts.append(chunk.thinking)
        if chunk.signature is not None:
            self.signature = chunk.signature

    def finish(self) -> Block | None:
        thinking = "".join(self.parts)
        if not thinking and self.signature is None:
            return None
        return ThinkingBlock(thinking, self.signature or "")


class _Redacted:
    __slots__ = ("data",)
    kind = "redacted_thinking"

    def __init__(self) -> None:
        self.data = ""

    def add(self, chunk: RedactedThinkingChunk) -> None:
        self.data = chunk.data

    def finish(self) -> Block | None:
        return RedactedThinkingBlock(self.data)


class _Tool:
    __slots__ = ("call",)
    kind = "tool_use"

    def __init__(self) -> None:
        self.call: ToolUseChunk | None = None

    def add(self, chunk: ToolInputChunk | ToolUseChunk) -> None:
        # The input pieces are for UIs; the call itself comes whole, once its JSON is.
        if type(chunk) is ToolUseChunk:
            self.call = chunk

    def finish(self) -> Block | None:
        call = self.call
        if call is None:
            return None  # cut short: left out
        caller = UNSET if call.caller is None else call.caller
        return ToolUseBlock(call.id, call.name, call.input, caller=caller)


class _Whole:
    __slots__ = ("block",)
    kind = "other"

    def __init__(self) -> None:
        self.block: RawBlock | None = None

    def add(self, chunk: BlockChunk) -> None:
        self.block = chunk.block

    def finish(self) -> Block | None:
        return self.block


_Builder = _Text | _Thinking | _Redacted | _Tool | _Whole
_BUILDERS: dict[type[Any], type[_Builder]] = {
    TextChunk: _Text,
    CitationChunk: _Text,
    ThinkingChunk: _Thinking,
    RedactedThinkingChunk: _Redacted,
    ToolInputChunk: _Tool,
    ToolUseChunk: _Tool,
    BlockChunk: _Whole,
}


class TurnAccumulator:
    """Folds the chunks of one stream into the ``AssistantTurn``::

        acc = TurnAccumulator()
        async for chunk in provider.create_message(system, messages):
            acc.add(chunk)          # and show it, as it comes
        turn = acc.turn()

    After an error mid-stream, ``turn()`` still gives what arrived, with ``complete=False``
    (``collect`` calls ``fail()``; a loop of your own does so in its ``except``).
    """

    __slots__ = (
        "_blocks",
        "_cut",
        "_failed",
        "_id",
        "_model",
        "_stop_reason",
        "_stop_sequence",
        "_stopped",
        "_usage",
    )

    def __init__(self) -> None:
        self._blocks: dict[int, _Builder] = {}
        self._usage = Usage()
        self._id = ""
        self._model = ""
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._stopped = False
        self._failed = False
        self._cut: tuple[int, ...] = ()

    def add(self, chunk: MessageStreamChunk) -> None:
        """Take the next chunk of the stream."""
        kind = type(chunk)
        builder_type = _BUILDERS.get(kind)
        if builder_type is not None:
            index: int = chunk.index  # type: ignore[union-attr]
            builder = self._blocks.get(index)
            if builder is None:
                builder = self._blocks[index] = builder_type()
            elif type(builder) is not builder_type:
                raise ProviderError(
                    f"{kind.__name__} for block {index}, which is a {builder.kind} block"
                )
            builder.add(chunk)  # type: ignore[arg-type]
        elif kind is UsageChunk:
            self._usage = self._usage + chunk  # type: ignore[operator]
        elif kind is StartChunk:
            self._id, self._model = chunk.id, chunk.model  # type: ignore[union-attr]
        elif kind is StopChunk:
            self._stop_reason = chunk.stop_reason  # type: ignore[union-attr]
            self._stop_sequence = chunk.stop_sequence  # type: ignore[union-attr]
            self._cut = chunk.cut_blocks  # type: ignore[union-attr]
            self._stopped = True
        else:
            raise ProviderError(f"not a stream chunk: {chunk!r}")

    def fail(self) -> None:
        """Record that the stream ended in an error: the turn is incomplete."""
        self._failed = True

    def turn(self) -> AssistantTurn:
        """The turn so far (call it again after more chunks for a newer one)."""
        content: list[Block] = []
        left_out = False
        for index in sorted(self._blocks):
            builder = self._blocks[index]
            block = builder.finish()
            if block is not None:
                content.append(block)
            elif type(builder) is _Tool:
                left_out = True
        return AssistantTurn(
            message=_assistant(content),
            id=self._id,
            model=self._model,
            stop_reason=self._stop_reason,
            stop_sequence=self._stop_sequence,
            usage=self._usage,
            complete=self._stopped and not self._failed and not left_out and not self._cut,
        )


def _assistant(content: list[Block]) -> Message:
    if content:
        return Message("assistant", content)
    # A turn with no block at all (cut at once, or failed early). Message refuses empty
    # content, as the API does in a request; the turn still needs a message to show.
    message = Message("assistant", "…")
    msgspec.structs.force_setattr(message, "content", ())
    return message


async def collect(
    stream: AsyncIterable[MessageStreamChunk], accumulator: TurnAccumulator | None = None
) -> AssistantTurn:
    """The ``AssistantTurn`` of a stream of chunks (``provider.create_message(...)``).

    On an error the stream's exception propagates; pass your own ``accumulator`` to keep the
    partial turn (``accumulator.turn()``, with ``complete=False``). The stream is closed
    however this ends.
    """
    acc = TurnAccumulator() if accumulator is None else accumulator
    try:
        async for chunk in stream:
            acc.add(chunk)
    except BaseException:
        acc.fail()
        raise
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return acc.turn()


def collect_sync(
    stream: Iterable[MessageStreamChunk], accumulator: TurnAccumulator | None = None
) -> AssistantTurn:
    """``collect`` for a sync stream of chunks (``SyncAnthropicProvider.create_message(...)``):
    the same fold, errors and partial turn; the stream is closed however this ends."""
    acc = TurnAccumulator() if accumulator is None else accumulator
    try:
        for chunk in stream:
            acc.add(chunk)
    except BaseException:
        acc.fail()
        raise
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return acc.turn()
