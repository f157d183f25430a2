"""The built-in model table: Claude models by API id and alias, with USD prices per million tokens.

Figures from Anthropic's published pricing and models-overview pages, listed with their sources
in ``docs/pricing-sources.md`` (long-context and web-search figures from the pricing page's
"Long context pricing" and "Web search" sections). Re-check against the live pricing page before
a release.
"""

from __future__ import annotations

from .types import ModelInfo

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_MODEL", "MODELS"]

DEFAULT_MODEL = "claude-sonnet-4-5"
# Sent as max_tokens when a ModelInfo does not say: enough for a long answer, and accepted by
# every model in the table.
DEFAULT_MAX_TOKENS = 4096

_K = 1000
_M = 1_000_000

# (ids and aliases, description, context window, max output, in, out, write 5m, write 1h, read)
_ROWS: list[
    tuple[tuple[str, ...], str, int | None, int | None, float, float, float, float, float]
] = [
    (("claude-opus-5",), "Claude Opus 5", 1 * _M, 128 * _K, 5, 25, 6.25, 10, 0.50),
    # Sonnet 5: context and max output are not in the collected sources yet.
    (("claude-sonnet-5",), "Claude Sonnet 5", None, None, 2, 10, 2.50, 4, 0.20),
    (("claude-opus-4-8",), "Claude Opus 4.8", 1 * _M, 128 * _K, 5, 25, 6.25, 10, 0.50),
    (("claude-opus-4-7",), "Claude Opus 4.7", 1 * _M, 128 * _K, 5, 25, 6.25, 10, 0.50),
    (("claude-opus-4-6",), "Claude Opus 4.6", 1 * _M, 128 * _K, 5, 25, 6.25, 10, 0.50),
    (
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        "Claude Opus 4.5",
        200 * _K,
        64 * _K,
        5,
        25,
        6.25,
        10,
        0.50,
    ),
    (
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        "Claude Opus 4.1",
        200 * _K,
        32 * _K,
        15,
        75,
        18.75,
        30,
        1.50,
    ),
    (
        ("claude-opus-4-20250514", "claude-opus-4-0"),
        "Claude Opus 4",
        200 * _K,
        32 * _K,
        15,
        75,
        18.75,
        30,
        1.50,
    ),
    (("claude-sonnet-4-6",), "Claude Sonnet 4.6", 1 * _M, 64 * _K, 3, 15, 3.75, 6, 0.30),
    (
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        "Claude Sonnet 4.5",
        200 * _K,
        64 * _K,
        3,
        15,
        3.75,
        6,
        0.30,
    ),
    (
        ("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
        "Claude Sonnet 4",
        200 * _K,
        64 * _K,
        3,
        15,
        3.75,
        6,
        0.30,
    ),
    (
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        "Claude Haiku 4.5",
        200 * _K,
        64 * _K,
        1,
        5,
        1.25,
        2,
        0.10,
    ),
    (
        ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest"),
        "Claude Sonnet 3.7",
        200 * _K,
        64 * _K,
        3,
        15,
        3.75,
        6,
        0.30,
    ),
    (
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest"),
        "Claude Haiku 3.5",
        200 * _K,
        8192,
        0.80,
        4,
        1,
        1.6,
        0.08,
    ),
    (
        ("claude-3-opus-20240229", "claude-3-opus-latest"),
        "Claude Opus 3",
        200 * _K,
        4096,
        15,
        75,
        18.75,
        30,
        1.50,
    ),
    (("claude-3-haiku-20240307",), "Claude Haiku 3", 200 * _K, 4096, 0.25, 1.25, 0.30, 0.50, 0.03),
]


# Long context (the 1M-token window of Sonnet 4 / 4.5, a beta): a request over 200K prompt tokens
# is billed, for every token, at $6 in / $22.50 out, cache multipliers on top. Models from 4.6
# on have the full window at standard prices.
_LONG_CONTEXT = {
    "Claude Sonnet 4.5": (200 * _K, 6.0, 22.5),
    "Claude Sonnet 4": (200 * _K, 6.0, 22.5),
}
# Web search: $10 per 1,000 searches for every model, on top of tokens.
_WEB_SEARCH = 10.0


def _table() -> dict[str, ModelInfo]:
    table: dict[str, ModelInfo] = {}
    for ids, description, context, max_out, p_in, p_out, w5m, w1h, read in _ROWS:
        threshold, lc_in, lc_out = _LONG_CONTEXT.get(description, (None, None, None))
        info = ModelInfo(
            max_tokens=max_out,
            context_window=context,
            supports_images=True,
            supports_prompt_cache=True,
            input_price=p_in,
            output_price=p_out,
            cache_writes_price=w5m,
            cache_writes_1h_price=w1h,
            cache_reads_price=read,
            description=description,
            long_context_threshold=threshold,
            long_context_input_price=lc_in,
            long_context_output_price=lc_out,
            web_search_price=_WEB_SEARCH,
        )
        for model_id in ids:
            table[model_id] = info
    return table


MODELS: dict[str, ModelInfo] = _table()
