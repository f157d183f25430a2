"""The built-in model table, pinned to docs/pricing-sources.md."""

from __future__ import annotations

import pytest

from provider import MODELS, ModelInfo
from provider.constants import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

K = 1000
M = 1_000_000

# The facts file's table, copied by hand: (ids, context, max output, in, out, write 5m, write 1h,
# read). None where the sources disagree or are silent, so the figure is not pinned.
FACTS: list[tuple[tuple[str, ...], int | None, int | None, float, float, float, float, float]] = [
    (("claude-opus-5",), 1 * M, 128 * K, 5, 25, 6.25, 10, 0.50),
    (("claude-sonnet-5",), None, None, 2, 10, 2.50, 4, 0.20),
    (("claude-opus-4-8",), 1 * M, 128 * K, 5, 25, 6.25, 10, 0.50),
    (("claude-opus-4-7",), 1 * M, 128 * K, 5, 25, 6.25, 10, 0.50),
    (("claude-opus-4-6",), None, 128 * K, 5, 25, 6.25, 10, 0.50),
    (("claude-opus-4-5-20251101", "claude-opus-4-5"), 200 * K, 64 * K, 5, 25, 6.25, 10, 0.50),
    (("claude-opus-4-1-20250805", "claude-opus-4-1"), 200 * K, 32 * K, 15, 75, 18.75, 30, 1.50),
    (("claude-opus-4-20250514", "claude-opus-4-0"), 200 * K, 32 * K, 15, 75, 18.75, 30, 1.50),
    (("claude-sonnet-4-6",), None, 64 * K, 3, 15, 3.75, 6, 0.30),
    (("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"), 200 * K, 64 * K, 3, 15, 3.75, 6, 0.30),
    (("claude-sonnet-4-20250514", "claude-sonnet-4-0"), 200 * K, 64 * K, 3, 15, 3.75, 6, 0.30),
    (("claude-haiku-4-5-20251001", "claude-haiku-4-5"), 200 * K, 64 * K, 1, 5, 1.25, 2, 0.10),
    (
        ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest"),
        200 * K,
        64 * K,
        3,
        15,
        3.75,
        6,
        0.30,
    ),
    (
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest"),
        200 * K,
        8192,
        0.80,
        4,
        1,
        1.6,
        0.08,
    ),
    (("claude-3-opus-20240229", "claude-3-opus-latest"), 200 * K, 4096, 15, 75, 18.75, 30, 1.50),
    (("claude-3-haiku-20240307",), 200 * K, 4096, 0.25, 1.25, 0.30, 0.50, 0.03),
]

ALL_IDS = [model_id for ids, *_ in FACTS for model_id in ids]
ALIASED = [ids for ids, *_ in FACTS if len(ids) > 1]

# Published figures that are the multiplier rounded to a cent, not the exact product:
# Haiku 3 writes at $0.30 (1.25 x 0.25 = 0.3125) and reads at $0.03 (0.1 x 0.25 = 0.025).
ROUNDED = {"claude-3-haiku-20240307"}
ROUNDING = 0.0125 + 1e-9  # 1.25 cents, plus float noise


def price(value: float) -> object:
    return pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("model_id", "prices"),
    [
        ("claude-opus-4-1", (15, 75, 18.75, 30, 1.50)),
        ("claude-opus-4-1-20250805", (15, 75, 18.75, 30, 1.50)),
        ("claude-haiku-4-5", (1, 5, 1.25, 2, 0.10)),
        ("claude-3-5-haiku-20241022", (0.80, 4, 1, 1.6, 0.08)),
        ("claude-opus-4-5", (5, 25, 6.25, 10, 0.50)),
        ("claude-sonnet-4-5", (3, 15, 3.75, 6, 0.30)),
        ("claude-3-haiku-20240307", (0.25, 1.25, 0.30, 0.50, 0.03)),
    ],
)
def test_key_rows_prices(model_id: str, prices: tuple[float, ...]) -> None:
    info = MODELS[model_id]
    assert (
        info.input_price,
        info.output_price,
        info.cache_writes_price,
        info.cache_writes_1h_price,
        info.cache_reads_price,
    ) == tuple(price(p) for p in prices)


def test_sonnet_4_5_limits() -> None:
    info = MODELS["claude-sonnet-4-5"]
    assert info.context_window == 200_000
    assert info.max_tokens == 64_000


def test_haiku_3_max_output() -> None:
    assert MODELS["claude-3-haiku-20240307"].max_tokens == 4096


def test_haiku_3_5_max_output() -> None:
    assert MODELS["claude-3-5-haiku-latest"].max_tokens == 8192


@pytest.mark.parametrize("row", FACTS, ids=[ids[0] for ids, *_ in FACTS])
def test_every_row_matches_the_facts(row: tuple[object, ...]) -> None:
    ids, context, max_out, p_in, p_out, w5m, w1h, read = row
    assert isinstance(ids, tuple)
    for model_id in ids:
        info = MODELS[model_id]
        if context is not None:
            assert info.context_window == context, model_id
        if max_out is not None:
            assert info.max_tokens == max_out, model_id
        assert info.input_price == price(p_in), model_id  # type: ignore[arg-type]
        assert info.output_price == price(p_out), model_id  # type: ignore[arg-type]
        assert info.cache_writes_price == price(w5m), model_id  # type: ignore[arg-type]
        assert info.cache_writes_1h_price == price(w1h), model_id  # type: ignore[arg-type]
        assert info.cache_reads_price == price(read), model_id  # type: ignore[arg-type]


def test_table_has_no_ids_beyond_the_facts() -> None:
    # A typo'd id (e.g. claude-sonnet-4.5) would otherwise sit unnoticed next to the right one.
    assert set(MODELS) == set(ALL_IDS)


@pytest.mark.parametrize("ids", ALIASED, ids=[ids[1] for ids in ALIASED])
def test_alias_points_to_the_dated_ids_info(ids: tuple[str, ...]) -> None:
    dated, *aliases = ids
    for alias in aliases:
        assert MODELS[alias] == MODELS[dated]


def test_sonnet_4_5_alias() -> None:
    assert MODELS["claude-sonnet-4-5"] == MODELS["claude-sonnet-4-5-20250929"]
    assert (
        MODELS["claude-sonnet-4-5"].description == MODELS["claude-sonnet-4-5-20250929"].description
    )


def test_different_models_are_different_entries() -> None:
    # Guards against a table builder that reuses one row for every id.
    assert MODELS["claude-opus-4-1"] != MODELS["claude-opus-4-5"]
    assert MODELS["claude-sonnet-4-0"].description != MODELS["claude-sonnet-4-5"].description


@pytest.mark.parametrize("model_id", ALL_IDS)
def test_cache_multipliers_hold(model_id: str) -> None:
    info = MODELS[model_id]
    assert info.input_price is not None
    expected = {
        "5m write (1.25x input)": (info.cache_writes_price, 1.25 * info.input_price),
        "1h write (2x input)": (info.cache_writes_1h_price, 2 * info.input_price),
        "read (0.1x input)": (info.cache_reads_price, 0.1 * info.input_price),
    }
    for what, (actual, product) in expected.items():
        assert actual is not None, what
        if model_id in ROUNDED:
            assert abs(actual - product) <= ROUNDING, (what, actual, product)
        else:
            assert actual == pytest.approx(product, rel=1e-9), (what, actual, product)


@pytest.mark.parametrize("model_id", ALL_IDS)
def test_every_entry_is_complete(model_id: str) -> None:
    info = MODELS[model_id]
    assert isinstance(info, ModelInfo)
    assert info.supports_images is True  # every model in the facts accepts images
    assert info.supports_prompt_cache is True
    assert info.description
    assert info.output_price is not None and info.input_price is not None
    assert info.output_price > info.input_price
    if info.max_tokens is not None and info.context_window is not None:
        assert info.max_tokens < info.context_window


def test_default_model_is_in_the_table() -> None:
    assert DEFAULT_MODEL in MODELS


def test_default_max_tokens_is_accepted_by_every_model() -> None:
    limits = [info.max_tokens for info in MODELS.values() if info.max_tokens is not None]
    assert limits
    assert 0 < DEFAULT_MAX_TOKENS <= min(limits)
