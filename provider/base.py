"""BaseProvider: config validation, the model in use, and exact cost from token counts."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence

import msgspec

from .constants import MODELS
from .errors import ProviderError
from .types import Message, MessageStreamChunk, ModelInfo, ModelRef, ProviderConfig

__all__ = ["BaseProvider", "calculate_cost"]

_PER_TOKEN = 1e-6  # prices are per million tokens


def _count(name: str, value: int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProviderError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def calculate_cost(
    info: ModelInfo,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int | None = None,
    cache_read_tokens: int | None = None,
    cache_write_1h_tokens: int | None = None,
) -> float:
    """Cost in USD of one message.

    ``input_tokens``, ``cache_write_tokens`` and ``cache_read_tokens`` are disjoint parts of the
    prompt, as the API reports them. ``cache_write_1h_tokens`` is the part of
    ``cache_write_tokens`` written with the 1-hour TTL: it is priced at
    ``info.cache_writes_1h_price`` (or, when that is unknown, at 2x the input price, the
    documented 1-hour multiplier) and the rest of the writes at ``info.cache_writes_price``.
    A price that is not set counts as 0.
    """
    inp = _count("input_tokens", input_tokens)
    out = _count("output_tokens", output_tokens)
    writes = _count("cache_write_tokens", cache_write_tokens)
    reads = _count("cache_read_tokens", cache_read_tokens)
    writes_1h = _count("cache_write_1h_tokens", cache_write_1h_tokens)
    if writes_1h > writes:
        raise ProviderError(
            f"cache_write_1h_tokens ({writes_1h}) cannot exceed cache_write_tokens ({writes})"
        )
    price_1h = info.cache_writes_1h_price
    if price_1h is None:
        price_1h = 2 * (info.input_price or 0.0)
    return _PER_TOKEN * (
        inp * (info.input_price or 0.0)
        + out * (info.output_price or 0.0)
        + (writes - writes_1h) * (info.cache_writes_price or 0.0)
        + writes_1h * price_1h
        + reads * (info.cache_reads_price or 0.0)
    )


class BaseProvider(abc.ABC):
    """What every provider offers: validated config, the model in use, its cost, and streaming."""

    def __init__(self, config: ProviderConfig) -> None:
        if not isinstance(config, ProviderConfig):
            raise ProviderError(f"Expected a ProviderConfig, got {type(config).__name__}")
        if not config.model_id:
            raise ProviderError("Model ID is required")
        info = config.model_info
        if info is None:
            # A model the built-in table knows needs no ModelInfo; a config that has none
            # then holds the table's, so that config and get_model() agree.
            info = MODELS.get(config.model_id)
            if info is None:
                raise ProviderError(
                    f"Model info is required: {config.model_id!r} is not in the built-in model "
                    "table (pass ProviderConfig(model_info=ModelInfo(...)))"
                )
            config = msgspec.structs.replace(config, model_info=info)
        self.config = config
        self._model = ModelRef(id=config.model_id, info=info)

    @abc.abstractmethod
    def create_message(
        self, system_prompt: str, messages: Sequence[Message]
    ) -> AsyncGenerator[MessageStreamChunk, None]:
        """Stream the reply to ``messages`` as typed chunks (an async generator, so
        ``contextlib.aclosing`` closes it at once when the caller stops early)."""

    def get_model(self) -> ModelRef:
        """The model this provider talks to: ``.id`` and ``.info``."""
        return self._model

    def calculate_cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_write_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_1h_tokens: int | None = None,
    ) -> float:
        """Cost in USD of a message with these token counts, at this model's prices."""
        return calculate_cost(
            self._model.info,
            input_tokens,
            output_tokens,
            cache_write_tokens,
            cache_read_tokens,
            cache_write_1h_tokens,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self._model.id!r})"
