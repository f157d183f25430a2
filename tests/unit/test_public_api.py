"""The public contract of DESIGN.md: the names ``import provider`` offers, what it never loads."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

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


def test_anthropic_provider_offers_the_base_provider_contract() -> None:
    # DESIGN.md's example, through the top-level names only. Nothing is sent: the client is
    # made on the first request, and the stream is never started.
    info = provider.ModelInfo(
        max_tokens=1024,
        input_price=3.0,
        output_price=15.0,
        cache_writes_price=3.75,
        cache_reads_price=0.3,
    )
    config = provider.ProviderConfig(
        model_id="claude-sonnet-4-5", model_info=info, api_key="sk-ant-public-api-test"
    )
    p = provider.AnthropicProvider(config, http_client=None, max_retries=2)
    assert isinstance(p, provider.BaseProvider)
    model = p.get_model()
    assert (model.id, model.info) == ("claude-sonnet-4-5", info)
    # A million tokens of each kind costs the sum of the four prices.
    cost = p.calculate_cost(1_000_000, 1_000_000, cache_write_tokens=1_000_000,
                            cache_read_tokens=1_000_000)  # fmt: skip
    assert cost == pytest.approx(3.0 + 15.0 + 3.75 + 0.3)
    stream = p.create_message("system prompt", [provider.Message(role="user", content="Hi")])
    assert inspect.isasyncgen(stream)  # so contextlib.aclosing can close it early


def test_load_models_config_reads_a_models_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    document = {"active": "fast", "models": {"fast": {"providerConfig": {
        "modelId": "claude-haiku-4-5", "apiKey": "sk-ant-public-api-test"}}}}  # fmt: skip
    path.write_text(json.dumps(document))
    loaded = provider.load_models_config(path)
    assert isinstance(loaded, provider.ModelsConfig)
    assert loaded.active == "fast"
    config = loaded.models["fast"].provider_config
    assert isinstance(config, provider.ProviderConfig)
    assert config.model_id == "claude-haiku-4-5"
    # Left out of the file, the model's info comes from the built-in table.
    assert config.model_info == provider.MODELS["claude-haiku-4-5"]
    path.write_text("{not json")
    with pytest.raises(provider.ProviderError, match=r"models\.json: not valid JSON"):
        provider.load_models_config(path)


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
