"""AnthropicProvider: the httpx shell (placeholder until the streaming core lands)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from ..base import BaseProvider
from ..types import Message, MessageStreamChunk


class AnthropicProvider(BaseProvider):
    """Streams the Anthropic Messages API."""

    async def create_message(
        self, system_prompt: str, messages: Sequence[Message]
    ) -> AsyncIterator[MessageStreamChunk]:
        raise NotImplementedError
        yield  # pragma: no cover
