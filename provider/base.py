"""BaseProvider: config validation, the model in use, and exact cost from token counts."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence

import msgspec

from .constants import MODELS
from .content import TextBlock
from .errors import ProviderError
from .request import RequestOptions
from .turn import Usage
from .types import Message, MessageStreamChunk, ModelInfo, ModelRef, ProviderConfig

__all__ = ["WEB_SEARCH_PRICE", "BaseProvider", "ProviderCommon", "calculate_cost"]

_PER_TOKEN = 1e-6  # prices are per million tokens
#: USD per 1,000 web searches (Anthropic's published fee, the same for every model).
WEB_SEARCH_PRICE = 10.0
_COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "cache_write_1h_tokens",
    "web_search_requests",
)


def _count(name: str, value: int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProviderError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def calculate_cost(
    info: ModelInfo,
    input_tokens: int | Usage,
    output_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    cache_read_tokens: int | None = None,
    cache_write_1h_tokens: int | None = None,
    web_search_requests: int | None = None,
) -> float:
    """Cost in USD of one message (one request): from its ``Usage`` (``turn.usage``), or
    from the counts.

    ``input_tokens``, ``cache_write_tokens`` and ``cache_read_tokens`` are disjoint parts of the
    prompt, as the API reports them. ``cache_write_1h_tokens`` is the part of
    ``cache_write_tokens`` written with the 1-hour TTL: it is priced at
    ``info.cache_writes_1h_price`` (or, when that is unknown, at 2x the input price, the
    documented 1-hour multiplier) and the rest of the writes at ``info.cache_writes_price``.
    Web searches cost ``info.web_search_price`` per 1,000 (unknown: Anthropic's $10).

    Long context: when the model has a ``long_context_threshold`` and the prompt (input +
    cache writes + cache reads) exceeds it, every token of the request is billed at the
    long-context input / output prices, and cache writes and reads at their usual multiples
    of that input price. The threshold applies per request, so price each turn on its own
    and add the costs; a summed ``Usage`` of several turns would be priced wrong.

    A price that is not set counts as 0.
    """
    if isinstance(input_tokens, Usage):
        given = (output_tokens, cache_write_tokens, cache_read_tokens, cache_write_1h_tokens)
        if any(v is not None for v in (*given, web_search_requests)):
            raise ProviderError("calculate_cost takes a Usage or the token counts, not both")
        u = input_tokens
        counts: tuple[int | None, ...] = (
            u.input_tokens,
            u.output_tokens,
            u.cache_write_tokens,
            u.cache_read_tokens,
            u.cache_write_1h_tokens,
            u.web_search_requests,
        )
    else:
        counts = (
            input_tokens,
            output_tokens,
            cache_write_tokens,
            cache_read_tokens,
            cache_write_1h_tokens,
            web_search_requests,
        )
    inp, out, writes, reads, writes_1h, searches = (
        _count(name, value) for name, value in zip(_COUNTS, counts, strict=True)
    )
    if writes_1h > writes:
        raise ProviderError(
            f"cache_write_1h_tokens ({writes_1h}) cannot exceed cache_write_tokens ({writes})"
        )
    price_in = info.input_price or 0.0
    price_out = info.output_price or 0.0
    price_write = info.cache_writes_price or 0.0
    price_1h = info.cache_writes_1h_price
    if price_1h is None:
        price_1h = 2 * price_in
    price_read = info.cache_reads_price or 0.0
    threshold = info.long_context_threshold
    if threshold is not None and inp + writes + reads > threshold:
        premium_in = info.long_context_input_price
        if premium_in is not None:
            # Cache multipliers apply on top of the premium input price.
            scale = premium_in / price_in if price_in else 1.0
            price_write, price_1h, price_read = (
                price_write * scale,
                price_1h * scale,
                price_read * scale,
            )
            price_in = premium_in
        if info.long_context_output_price is not None:
            price_out = info.long_context_output_price
    search_price = info.web_search_price
    if search_price is None:
        search_price = WEB_SEARCH_PRICE
    return (
        _PER_TOKEN
        * (
            inp * price_in
            + out * price_out
            + (writes - writes_1h) * price_write
            + writes_1h * price_1h
            + reads * price_read
        )
        + searches * search_price / 1000
    )


class ProviderCommon:
    """What every provider offers, sync or async: validated config, the model in use, its
    cost. ``BaseProvider`` adds async streaming; ``SyncAnthropicProvider`` streams sync."""

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

    def get_model(self) -> ModelRef:
        """The model this provider talks to: ``.id`` and ``.info``."""
        return self._model

    def calculate_cost(
        self,
        input_tokens: int | Usage,
        output_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_1h_tokens: int | None = None,
        web_search_requests: int | None = None,
    ) -> float:
        """Cost in USD of one message, at this model's prices: ``calculate_cost(turn.usage)``
        or the counts (see ``provider.base.calculate_cost``). For a conversation, add the
        costs of its turns (the long-context premium is decided per request)."""
        return calculate_cost(
            self._model.info,
            input_tokens,
            output_tokens,
            cache_write_tokens,
            cache_read_tokens,
            cache_write_1h_tokens,
            web_search_requests,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self._model.id!r})"


class BaseProvider(ProviderCommon, abc.ABC):
    """What every provider offers: validated config, the model in use, its cost, and streaming."""

    @abc.abstractmethod
    def create_message(
        self,
        system_prompt: str | Sequence[TextBlock],
        messages: Sequence[Message],
        *,
        options: RequestOptions | None = None,
    ) -> AsyncGenerator[MessageStreamChunk, None]:
        """Stream the reply to ``messages`` as typed chunks (an async generator, so
        ``contextlib.aclosing`` closes it at once when the caller stops early)."""
