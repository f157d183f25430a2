"""The stream state machine: wire events in, chunks out (sans-I/O).

``StreamMachine`` checks the order of events, sums usage into exact increases and hands each
block's events to its ``OpenBlock`` (``blocks.py``); ``ChunkDecoder`` (``decoder.py``) puts the
SSE framer, the wire-event decoders and the machine together for the HTTP shells.

Chunks (every block chunk carries its block's ``index``):

- ``StartChunk`` (id, model) at ``message_start``, before its UsageChunk.
- ``TextChunk`` / ``ThinkingChunk`` for each non-empty ``text_delta`` / ``thinking_delta`` (and
  for the rare block that starts with non-empty text); a ``ThinkingChunk`` with
  ``thinking=""`` and the ``signature`` at each ``signature_delta``; a ``CitationChunk`` at each
  ``citations_delta``; a ``RedactedThinkingChunk`` at a ``redacted_thinking`` block's start.
- a ``ToolInputChunk`` per ``input_json_delta`` of a ``tool_use`` block, and one
  ``ToolUseChunk`` at its ``content_block_stop`` once its input is complete JSON.
- a ``BlockChunk`` at the end of any other block kind (server tools, their results,
  compaction, kinds not known yet): the block as a non-streaming reply holds it.
- ``UsageChunk``: exactly one at ``message_start`` and one at every ``message_delta``, even when
  the increase is zero, each carrying the increase over the previous one, so that their sum
  is the message's final usage. (An increase can be negative only if a gateway reports a
  cumulative count lower than an earlier one; the sum stays exact.)
- ``StopChunk`` at a ``message_delta`` that carries a ``stop_reason``, after its UsageChunk;
  its ``cut_blocks`` are the indexes of the blocks that stop left unfinished (see below).

A message cut short (``max_tokens`` and the like) can leave a tool block with input that is
not complete JSON, or never closed: it gets no ToolUseChunk (or BlockChunk), and no error,
since nothing is wrong with the stream; the StopChunk names it in ``cut_blocks``. Input that
is not JSON in a message that was not cut is an error, raised at the ``message_delta`` that
says so, before its StopChunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..errors import ProviderError, error_for
from ..types import MessageStreamChunk, StartChunk, StopChunk, TextChunk, UsageChunk
from .blocks import CUT_REASONS, STARTS, OpenBlock, Out, TextState, WholeBlock, missing
from .events import (
    ContentBlock,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    Usage,
    WireEvent,
)

__all__ = ["StreamMachine"]

_BEFORE, _STREAMING, _DONE = 0, 1, 2

_TO_BLOCK = msgspec.convert


class StreamMachine:
    """Validates the order of wire events and turns them into chunks.

    Raises ``ProviderError`` naming the event on an order violation or malformed event data,
    and the mapped API error (e.g. ``OverloadedError``) on an ``error`` event. ``done`` is True
    after ``message_stop``.
    """

    __slots__ = ("_cut", "_handlers", "_open", "_state", "_stop_reason", "_stopped", "_usage")

    def __init__(self) -> None:
        self._state = _BEFORE
        self._open: dict[int, OpenBlock] = {}
        self._stopped: set[int] = set()
        # Tool input that was not complete JSON: an error unless the message was cut short.
        self._cut: dict[int, ProviderError] = {}
        self._stop_reason: str | None = None
        # The cumulative usage so far: input, output, cache write, cache read, 1h cache write,
        # web search requests.
        self._usage = (0, 0, 0, 0, 0, 0)
        self._handlers: dict[type[Any], Callable[[Any], Out]] = {
            MessageStart: self._message_start,
            ContentBlockStart: self._block_start,
            ContentBlockDelta: self.block_delta,
            ContentBlockStop: self._block_stop,
            MessageDelta: self._message_delta,
            MessageStop: self._message_stop,
            ErrorEvent: self._error,
        }

    @property
    def done(self) -> bool:
        """True once ``message_stop`` has been received."""
        return self._state == _DONE

    def process(self, event: WireEvent | None) -> list[MessageStreamChunk]:
        """Take one wire event (``None`` for a skipped one); return the chunks it produces."""
        if event is None:
            return []
        out = self._handlers[type(event)](event)
        if out is None:
            return []
        if type(out) is list:
            return out
        return [out]  # type: ignore[list-item]

    # Handlers return one chunk, a list of chunks, or None (the fast form ChunkDecoder uses).

    def _message_start(self, event: MessageStart) -> Out:
        if self._state != _BEFORE:
            raise self._misplaced("message_start")
        self._state = _STREAMING
        message = event.message
        start = StartChunk(message.id or "", message.model or "")
        return [start, self._usage_increase(message.usage)]

    def _block_start(self, event: ContentBlockStart) -> Out:
        if self._state != _STREAMING:
            raise self._misplaced("content_block_start")
        index = event.index
        if index in self._open:
            raise ProviderError(f"content_block_start for block {index} that is already open")
        if index in self._stopped:
            raise ProviderError(f"content_block_start for block {index} that already ended")
        raw = event.content_block
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise ProviderError(
                f"invalid content_block_start event: block {index} has no string type"
            )
        start = STARTS.get(kind)
        if start is None:
            self._open[index] = WholeBlock(index, raw)
            return None
        try:
            fields = _TO_BLOCK(raw, ContentBlock)
        except msgspec.ValidationError as exc:
            raise ProviderError(
                f"invalid content_block_start event ({exc}): block {index} ({kind})", exc
            ) from exc
        block, out = start(index, fields)
        self._open[index] = block
        return out

    def block_delta(self, event: ContentBlockDelta) -> MessageStreamChunk | None:
        """A ``content_block_delta``: the one place deltas are handled (ChunkDecoder's fast
        path for text calls it directly)."""
        block = self._open.get(event.index)
        delta = event.delta
        # Text for a text block, nearly every event of a reply, is handled right here.
        if delta.type == "text_delta" and type(block) is TextState:
            text = delta.text
            if text:
                return TextChunk(text, event.index)
            if text is None:
                raise missing(delta, event.index)
            return None
        if block is None:
            raise self._not_open("content_block_delta", event.index)
        return block.delta(delta)

    def _block_stop(self, event: ContentBlockStop) -> Out:
        index = event.index
        block = self._open.pop(index, None)
        if block is None:
            raise self._not_open("content_block_stop", index)
        self._stopped.add(index)
        out = block.stop()
        if isinstance(out, ProviderError):
            self._cut[index] = out
            return None
        return out

    def _message_delta(self, event: MessageDelta) -> Out:
        if self._state != _STREAMING:
            raise self._misplaced("message_delta")
        usage = self._usage_increase(event.usage)
        stop_reason = event.delta.stop_reason
        if stop_reason is None:
            return usage
        self._stop_reason = stop_reason
        if self._cut and stop_reason not in CUT_REASONS:
            raise next(iter(self._cut.values()))
        # The blocks this stop leaves unfinished: still open (never closed), or closed with
        # input that is not complete JSON. Known once, here, so a fold over the chunks can
        # tell a turn that lost a block whatever its kind (none of their chunks says so).
        cut = tuple(sorted([*self._open, *self._cut])) if self._open or self._cut else ()
        return [usage, StopChunk(stop_reason, event.delta.stop_sequence, cut)]

    def _message_stop(self, event: MessageStop) -> Out:
        if self._state != _STREAMING:
            raise self._misplaced("message_stop")
        if self._cut and self._stop_reason not in CUT_REASONS:
            raise next(iter(self._cut.values()))
        # Blocks still open here were cut short: they give no chunk (their StopChunk, if the
        # message had one, has been handed on), and that is no error. They are closed now, so
        # that a delta after message_stop is refused on the fast path too.
        self._open.clear()
        self._state = _DONE
        return None

    def _error(self, event: ErrorEvent) -> Out:
        body = event.error
        raise error_for(
            body.message or "the stream reported an error",
            error_type=body.type,
            request_id=event.request_id,
        )

    def _usage_increase(self, usage: Usage | None) -> UsageChunk:
        # Wire usage is cumulative; a field absent (or null) keeps its earlier value.
        old = self._usage
        if usage is None:
            return UsageChunk()
        one_hour = old[4]
        if usage.cache_creation is not None:
            value = usage.cache_creation.ephemeral_1h_input_tokens
            if value is not None:
                one_hour = value
        server = usage.server_tool_use
        searches = None if server is None else server.web_search_requests
        new = (
            old[0] if usage.input_tokens is None else usage.input_tokens,
            old[1] if usage.output_tokens is None else usage.output_tokens,
            old[2]
            if usage.cache_creation_input_tokens is None
            else usage.cache_creation_input_tokens,
            old[3] if usage.cache_read_input_tokens is None else usage.cache_read_input_tokens,
            one_hour,
            old[5] if searches is None else searches,
        )
        self._usage = new
        return UsageChunk(
            new[0] - old[0],
            new[1] - old[1],
            new[2] - old[2],
            new[3] - old[3],
            new[4] - old[4],
            new[5] - old[5],
        )

    def _misplaced(self, name: str) -> ProviderError:
        if self._state == _BEFORE:
            return ProviderError(f"{name} before message_start")
        if self._state == _DONE:
            return ProviderError(f"{name} after message_stop")
        return ProviderError(f"{name} received twice")

    def _not_open(self, name: str, index: int) -> ProviderError:
        if self._state != _STREAMING:
            return self._misplaced(name)
        if index in self._stopped:
            return ProviderError(f"{name} for block {index} that already stopped")
        return ProviderError(f"{name} for block {index} that was never started")
