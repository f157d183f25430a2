"""Loading the workspace ``models.json`` and building the active model's provider."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec
import msgspec.inspect

from .constants import MODELS
from .errors import ProviderError
from .types import ModelConfig, ModelInfo, ModelsConfig, ProviderConfig

if TYPE_CHECKING:
    from .providers.anthropic import AnthropicProvider

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
    ``models.json: $.models.fast.providerConfig.modelId: missing required key``. The file is
    strict: an unknown key (``baseURL``, ``inputPrise``) is an error naming it and the key it
    probably meant. A model without ``modelInfo`` takes it from the built-in table when its id is
    known there, and a partial ``modelInfo`` for such a model overrides only the fields it names.
    ``apiKey`` may be left out: the provider then reads ``ANTHROPIC_API_KEY``.
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
    _check_keys(name, document, _SCHEMA, "$")
    top = _convert(name, document, _Document, "$")
    models: dict[str, ModelConfig] = {}
    for key, value in top.models.items():
        where = _key("$.models", key)
        entry = _convert(name, value, ModelConfig, where)
        models[key] = _complete_info(entry, _get(_get(value, "providerConfig"), "modelInfo"))
    return _validate(name, ModelsConfig(active=top.active, models=models))


def _complete_info(entry: ModelConfig, written: object) -> ModelConfig:
    """A partial ``modelInfo`` for a model the built-in table knows overrides only the fields it
    names: ``{"maxTokens": 1024}`` keeps the table's prices."""
    pc = entry.provider_config
    known = MODELS.get(pc.model_id)
    if known is None or pc.model_info is None or not isinstance(written, dict):
        return entry
    named = {
        f.name: getattr(pc.model_info, f.name)
        for f in msgspec.structs.fields(ModelInfo)
        if f.encode_name in written
    }
    info = msgspec.structs.replace(known, **named)
    return msgspec.structs.replace(
        entry, provider_config=msgspec.structs.replace(pc, model_info=info)
    )


def _normal(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _probable(key: str, known: list[str]) -> str | None:
    """The known key ``key`` was probably meant to be: the same letters in another case or
    spelling (``baseURL``, ``base_url``, ``apikey``), else the closest one (``inputPrise``)."""
    by_normal = {_normal(k): k for k in known}
    if _normal(key) in by_normal:
        return by_normal[_normal(key)]
    close = difflib.get_close_matches(_normal(key), list(by_normal), n=1, cutoff=0.6)
    return by_normal[close[0]] if close else None


def _check_keys(name: str, value: object, kind: msgspec.inspect.Type, where: str) -> None:
    """Refuse any key the schema does not name, anywhere in ``value``: a misspelled key silently
    ignored would send the shell's real key to the public API instead of the gateway
    (``baseURL``), drop a credential (``apikey``) or make every cost $0 (``inputPrise``)."""
    if isinstance(kind, msgspec.inspect.UnionType):
        for member in kind.types:
            if isinstance(member, (msgspec.inspect.StructType, msgspec.inspect.DictType)):
                _check_keys(name, value, member, where)
        return
    if not isinstance(value, dict):
        return  # the wrong type is msgspec's to report, with its path
    if isinstance(kind, msgspec.inspect.DictType):
        for key, item in value.items():
            _check_keys(name, item, kind.value_type, _key(where, str(key)))
        return
    if not isinstance(kind, msgspec.inspect.StructType):
        return
    fields = {f.encode_name: f for f in kind.fields}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            guess = _probable(str(key), list(fields))
            hint = f"did you mean {guess!r}?" if guess else f"known keys: {', '.join(fields)}"
            raise ProviderError(f"{name}: {_key(where, str(key))}: unknown key ({hint})")
        _check_keys(name, item, field.type, _key(where, key))


_SCHEMA = msgspec.inspect.type_info(ModelsConfig)


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


def _anthropic(config: ProviderConfig) -> AnthropicProvider:
    from .providers.anthropic import AnthropicProvider

    return AnthropicProvider(config)


PROVIDERS: dict[str, Callable[[ProviderConfig], AnthropicProvider]] = {"anthropic": _anthropic}
"""Provider factories by the ``provider`` name used in models.json."""


def create_provider(config: ModelsConfig, name: str | None = None) -> AnthropicProvider:
    """Build the provider of the model ``name`` (default: the active one): an
    :class:`~provider.AnthropicProvider`, to use with ``async with`` or close with ``aclose()``."""
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
