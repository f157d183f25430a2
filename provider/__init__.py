"""provider: stream the Anthropic Messages API over raw HTTP as typed chunks.

The architecture and the public contract are in ``docs/design.md``; everything named in
``__all__`` is stable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
from .base import BaseProvider
from .config import create_provider, load_models_config
from .constants import MODELS
from .content import (
    Base64Source,
    Block,
    CacheControl,
    Citations,
    ContentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    PlainTextSource,
    RawBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)
from .errors import (
    AuthenticationError,
    NetworkError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    TokenLimitError,
)
from .request import RequestOptions, Thinking, Tool, ToolChoice
from .turn import AssistantTurn, TurnAccumulator, Usage, collect, collect_sync
from .types import (
    BlockChunk,
    CitationChunk,
    Message,
    MessageStreamChunk,
    ModelConfig,
    ModelInfo,
    ModelRef,
    ModelsConfig,
    ProviderConfig,
    RedactedThinkingChunk,
    StartChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolInputChunk,
    ToolUseChunk,
    UsageChunk,
)

if TYPE_CHECKING:
    from .providers.anthropic import AnthropicProvider
    from .providers.sync import SyncAnthropicProvider


def __getattr__(name: str) -> Any:
    # The HTTP shell (and httpx with it, half of the import time) loads on first use, so
    # pricing, config and types cost little to import. ``from provider import
    # AnthropicProvider`` works as usual.
    if name == "AnthropicProvider":
        from .providers.anthropic import AnthropicProvider

        return AnthropicProvider
    if name == "SyncAnthropicProvider":
        from .providers.sync import SyncAnthropicProvider

        return SyncAnthropicProvider
    raise AttributeError(f"module 'provider' has no attribute {name!r}")


__all__ = [
    "MODELS",
    "AnthropicProvider",
    "AssistantTurn",
    "AuthenticationError",
    "Base64Source",
    "BaseProvider",
    "Block",
    "BlockChunk",
    "CacheControl",
    "CitationChunk",
    "Citations",
    "ContentSource",
    "DocumentBlock",
    "FileSource",
    "ImageBlock",
    "Message",
    "MessageStreamChunk",
    "ModelConfig",
    "ModelInfo",
    "ModelRef",
    "ModelsConfig",
    "NetworkError",
    "OverloadedError",
    "PlainTextSource",
    "ProviderConfig",
    "ProviderError",
    "RateLimitError",
    "RawBlock",
    "RedactedThinkingBlock",
    "RedactedThinkingChunk",
    "RequestOptions",
    "StartChunk",
    "StopChunk",
    "SyncAnthropicProvider",
    "TextBlock",
    "TextChunk",
    "Thinking",
    "ThinkingBlock",
    "ThinkingChunk",
    "TokenLimitError",
    "Tool",
    "ToolChoice",
    "ToolInputChunk",
    "ToolResultBlock",
    "ToolUseBlock",
    "ToolUseChunk",
    "TurnAccumulator",
    "URLSource",
    "Usage",
    "UsageChunk",
    "collect",
    "collect_sync",
    "create_provider",
    "load_models_config",
]
