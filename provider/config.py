"""Loading the workspace ``models.json`` and building the active model's provider."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec

from .constants import MODELS
from .errors import ProviderError
from .types import ModelConfig, ModelInfo, ModelsConfig, ProviderConfig

if TYPE_CHECKING:
    from .base import BaseProvider

__all__ = ["PROVIDERS", "create_provider", "load_models_config"]

_MISSING = re.compile(r"Object missing required field `([^`]+)`(?: - at `([^`]+)`)?")
_AT = re.compile(r"^(.*?)(?: - at `([^`]+)`)?$", re.S)
_T = TypeVar("_T")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def _key(path: str, name: str) -> str:
    return f"{path}.{name}" if _NAME.match(name) else f"{path}[{name!r}]"


def _explain(error: msgspec.ValidationError, root: str) -> tuple[str, str]:
    """Turn msgspec's message into (key path, problem), the path ending at the bad key.

    msgspec writes ``$`` for the converted value's root; ``root`` is where that value sits.
    """
    text = str(error)
    missing = _MISSING.match(text)
    if missing:
        where, problem = _key(missing.group(2) or "$", missing.group(1)), "missing required key"
    else:
        at = _AT.match(text)
        assert at is not None  # the pattern matches any string
        where, problem = at.group(2) or "$", at.group(1)
    return root + where[1:], problem


def _convert(name: str, value: object, kind: type[_T], root: str) -> _T:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as e:
        where, problem = _explain(e, root)
        raise ProviderError(f"{name}: {where}: {problem}", e) from e


def load_models_config(path: str | os.PathLike[str]) -> ModelsConfig:
    """Read ``models.json`` (camelCase, as the TypeScript side writes it).

    A bad file raises ``ProviderError`` naming the file and the offending key path, e.g.
    ``models.json: $.models.fast.providerConfig.modelId: missing required key``. A model without
    ``modelInfo`` takes it from the built-in table when its id is known there. ``apiKey`` may be
    left out: the provider then reads ``ANTHROPIC_API_KEY``.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ProviderError(f"{name}: cannot read models config: {e.strerror or e}", e) from e
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        raise ProviderError(f"{name}: not valid JSON: {e}", e) from e
    # Each model is converted on its own so that an error can name its key: msgspec
    # reports dict keys as ``[...]``.
    top = _convert(name, document, _Document, "$")
    models: dict[str, ModelConfig] = {}
    for key, value in top.models.items():
        where = _key("$.models", key)
        _check_spelling(name, value, where)
        models[key] = _convert(name, value, ModelConfig, where)
    return _validate(name, ModelsConfig(active=top.active, models=models))


def _misspellings(kind: type[msgspec.Struct]) -> dict[str, str]:
    # Python's snake_case name -> the camelCase key the file must use, where they differ.
    return {f.name: f.encode_name for f in msgspec.structs.fields(kind) if f.name != f.encode_name}


_SNAKE = {
    "providerConfig": _misspellings(ProviderConfig),
    "modelInfo": _misspellings(ModelInfo),
}


def _check_spelling(name: str, entry: object, where: str) -> None:
    """Unknown keys are tolerated (the TypeScript side may add some), but a snake_case spelling
    of a known key is a mistake that would be silently ignored: ``auth_token`` left out would
    send ANTHROPIC_API_KEY from the environment to a gateway meant to get a token."""
    if not isinstance(entry, dict):
        return
    config = entry.get("providerConfig")
    for section, info in (("providerConfig", config), ("modelInfo", _get(config, "modelInfo"))):
        if not isinstance(info, dict):
            continue
        path = f"{where}.providerConfig" + ("" if section == "providerConfig" else ".modelInfo")
        for key in info:
            right = _SNAKE[section].get(key)
            if right is not None:
                raise ProviderError(
                    f"{name}: {path}.{key}: models.json keys are camelCase: {right}"
                )


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


class _Document(msgspec.Struct):
    active: str
    models: dict[str, object]


def _validate(name: str, config: ModelsConfig) -> ModelsConfig:
    def fail(where: str, problem: str) -> ProviderError:
        return ProviderError(f"{name}: {where}: {problem}")

    models: dict[str, ModelConfig] = {}
    for key, entry in config.models.items():
        where = _key("$.models", key) + ".providerConfig"
        pc = entry.provider_config
        if not pc.model_id:
            raise fail(f"{where}.modelId", "required: a non-empty model id")
        if pc.model_info is None:
            known = MODELS.get(pc.model_id)
            if known is None:
                raise fail(
                    f"{where}.modelInfo",
                    f"missing, and {pc.model_id!r} is not in the built-in model table",
                )
            entry = msgspec.structs.replace(
                entry, provider_config=msgspec.structs.replace(pc, model_info=known)
            )
        models[key] = entry
    if config.active not in models:
        known_names = ", ".join(sorted(models)) or "none"
        raise fail("$.active", f"names no model: {config.active!r} (models: {known_names})")
    if not models[config.active].enabled:
        raise fail(_key("$.models", config.active) + ".enabled", "the active model is disabled")
    return msgspec.structs.replace(config, models=models)


def _anthropic(config: ProviderConfig) -> BaseProvider:
    from .providers.anthropic import AnthropicProvider

    return AnthropicProvider(config)


PROVIDERS: dict[str, Callable[[ProviderConfig], BaseProvider]] = {"anthropic": _anthropic}
"""Provider factories by the ``provider`` name used in models.json."""


def create_provider(config: ModelsConfig, name: str | None = None) -> BaseProvider:
    """Build the provider of the model ``name`` (default: the active one)."""
    key = config.active if name is None else name
    entry = config.models.get(key)
    if entry is None:
        raise ProviderError(f"No model named {key!r} (models: {', '.join(sorted(config.models))})")
    if not entry.enabled:
        raise ProviderError(f"Model {key!r} is disabled in the models config")
    factory = PROVIDERS.get(entry.provider)
    if factory is None:
        raise ProviderError(
            f"Unknown provider {entry.provider!r} for model {key!r}; "
            f"known providers: {', '.join(sorted(PROVIDERS))}"
        )
    return factory(entry.provider_config)
