"""The public contract of DESIGN.md: the names ``import provider`` offers, what it never loads."""

from __future__ import annotations

import json
import subprocess
import sys
import typing

import pytest

import provider

CONTRACT = [
    "Message",
    "TextChunk",
    "UsageChunk",
    "ThinkingChunk",
    "ToolUseChunk",
    "StopChunk",
    "MessageStreamChunk",
    "ModelInfo",
    "ProviderConfig",
    "ModelsConfig",
    "BaseProvider",
    "AnthropicProvider",
    "ProviderError",
    "TokenLimitError",
    "RateLimitError",
    "NetworkError",
    "AuthenticationError",
    "OverloadedError",
    "MODELS",
    "load_models_config",
    # Conversations, reply side
    "StartChunk",
    "ToolInputChunk",
    "CitationChunk",
    "RedactedThinkingChunk",
    "BlockChunk",
    "Usage",
    "AssistantTurn",
    "TurnAccumulator",
    "collect",
]

ERRORS = [
    "TokenLimitError",
    "RateLimitError",
    "NetworkError",
    "AuthenticationError",
    "OverloadedError",
]


@pytest.mark.parametrize("name", CONTRACT)
def test_contract_name_is_exported(name: str) -> None:
    assert name in provider.__all__
    assert getattr(provider, name) is not None


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in provider.__all__ if not hasattr(provider, name)]
    assert missing == []
    assert len(set(provider.__all__)) == len(provider.__all__)


def test_star_import_gives_the_contract() -> None:
    namespace: dict[str, object] = {}
    exec("from provider import *", namespace)
    assert set(CONTRACT) <= set(namespace)


def test_contract_names_are_the_submodule_objects() -> None:
    # The top-level names must be the real classes, not copies or shims, so that
    # ``except provider.ProviderError`` catches what the submodules raise.
    from provider import base, constants, errors, types

    assert provider.ProviderError is errors.ProviderError
    assert provider.BaseProvider is base.BaseProvider
    assert provider.MODELS is constants.MODELS
    assert provider.Message is types.Message
    assert provider.ProviderConfig is types.ProviderConfig


@pytest.mark.parametrize("name", ERRORS)
def test_error_classes_subclass_provider_error(name: str) -> None:
    cls = getattr(provider, name)
    assert issubclass(cls, provider.ProviderError)
    assert cls is not provider.ProviderError
    assert issubclass(provider.ProviderError, Exception)


def test_error_classes_are_distinct() -> None:
    classes = [getattr(provider, name) for name in ERRORS]
    assert len(set(classes)) == len(ERRORS)
    # No subclass of another: a RateLimitError must not be caught as a NetworkError, etc.
    for a in classes:
        for b in classes:
            if a is not b:
                assert not issubclass(a, b), (a, b)


def test_message_stream_chunk_is_the_union_of_every_chunk() -> None:
    members = set(typing.get_args(provider.MessageStreamChunk))
    assert members == {
        provider.TextChunk,
        provider.UsageChunk,
        provider.ThinkingChunk,
        provider.ToolUseChunk,
        provider.StopChunk,
        provider.StartChunk,
        provider.RedactedThinkingChunk,
        provider.CitationChunk,
        provider.ToolInputChunk,
        provider.BlockChunk,
    }


def test_anthropic_provider_is_a_base_provider() -> None:
    assert issubclass(provider.AnthropicProvider, provider.BaseProvider)


def test_load_models_config_is_callable() -> None:
    assert callable(provider.load_models_config)


def test_import_does_not_load_the_official_sdk() -> None:
    # A fresh interpreter: this test process may have imported the SDK for other tests.
    code = (
        "import json, sys\n"
        "import provider\n"
        "import provider.providers.anthropic\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m in ('anthropic', 'httpx2') or m.startswith(('anthropic.', 'httpx2.')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
