"""provider: stream the Anthropic Messages API over raw HTTP as typed chunks.

The public contract is in ``shared/DESIGN.md``; everything named in ``__all__`` is stable.
"""

from __future__ import annotations

from .base import BaseProvider
from .config import create_provider, load_models_config
from .constants import MODELS
from .errors import (
    AuthenticationError,
    NetworkError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    TokenLimitError,
)
from .providers.anthropic import AnthropicProvider
from .types import (
    Message,
    MessageStreamChunk,
    ModelConfig,
    ModelInfo,
    ModelRef,
    ModelsConfig,
    ProviderConfig,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolUseChunk,
    UsageChunk,
)

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "AnthropicProvider",
    "AuthenticationError",
    "BaseProvider",
    "Message",
    "MessageStreamChunk",
    "ModelConfig",
    "ModelInfo",
    "ModelRef",
    "ModelsConfig",
    "NetworkError",
    "OverloadedError",
    "ProviderConfig",
    "ProviderError",
    "RateLimitError",
    "StopChunk",
    "TextChunk",
    "ThinkingChunk",
    "TokenLimitError",
    "ToolUseChunk",
    "UsageChunk",
    "create_provider",
    "load_models_config",
]
