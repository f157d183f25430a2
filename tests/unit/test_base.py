"""BaseProvider: config validation, get_model, and calculate_cost against hand-computed figures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from provider import (
    MODELS,
    BaseProvider,
    Message,
    MessageStreamChunk,
    ModelInfo,
    ProviderConfig,
    ProviderError,
    TextChunk,
)

FAKE_KEY = "sk-ant-api03-TESTONLY0123456789abcdefXYZ_-AA"

# Sonnet 4.5 prices, USD per million tokens, written out rather than read from MODELS so that a
# wrong table cannot make a wrong cost look right.
SONNET_45 = ModelInfo(
    max_tokens=64000,
    input_price=3.0,
    output_price=15.0,
    cache_writes_price=3.75,
    cache_writes_1h_price=6.0,
    cache_reads_price=0.30,
)
# Opus 4.1 prices with the 1-hour price left unknown.
OPUS_41_NO_1H = ModelInfo(
    input_price=15.0, output_price=75.0, cache_writes_price=18.75, cache_reads_price=1.50
)

REL = 1e-12


class Stub(BaseProvider):
    """The smallest concrete provider: streams one fixed chunk."""

    async def create_message(
        self, system_prompt: str, messages: Sequence[Message]
    ) -> AsyncIterator[MessageStreamChunk]:
        yield TextChunk(text="stub")


def make(info: ModelInfo | None = SONNET_45, model_id: str = "claude-sonnet-4-5") -> Stub:
    return Stub(ProviderConfig(model_id=model_id, model_info=info, api_key=FAKE_KEY))


# ---------------------------------------------------------------------------------------------
# Construction and get_model


def test_model_id_is_required() -> None:
    with pytest.raises(ProviderError, match=r"^Model ID is required$"):
        Stub(ProviderConfig(model_info=SONNET_45))


def test_model_id_is_required_even_when_set_empty() -> None:
    with pytest.raises(ProviderError, match="Model ID is required"):
        Stub(ProviderConfig(model_id="", model_info=SONNET_45))


def test_model_info_is_required_for_a_model_the_table_does_not_know() -> None:
    with pytest.raises(ProviderError, match=r"^Model info is required: 'my-model' is not in"):
        Stub(ProviderConfig(model_id="my-model"))


def test_a_known_model_without_model_info_takes_the_tables_entry() -> None:
    # issue 12: ProviderConfig(model_id="claude-sonnet-4-5") alone used to fail.
    p = Stub(ProviderConfig(model_id="claude-sonnet-4-5"))
    assert p.get_model().info is MODELS["claude-sonnet-4-5"]
    assert p.config.model_info is MODELS["claude-sonnet-4-5"]
    assert p.calculate_cost(100_000, 10_000) == pytest.approx(0.3 + 0.15)  # $3 in, $15 out per MTok


@pytest.mark.parametrize("config", [None, {"model_id": "m"}, "claude-sonnet-4-5"])
def test_config_must_be_a_provider_config(config: Any) -> None:
    with pytest.raises(ProviderError):
        Stub(config)


def test_base_provider_is_abstract() -> None:
    config = ProviderConfig(model_id="m", model_info=SONNET_45)
    with pytest.raises(TypeError):
        BaseProvider(config)  # type: ignore[abstract]

    class NoCreate(BaseProvider):
        pass

    with pytest.raises(TypeError):
        NoCreate(config)  # type: ignore[abstract]


def test_get_model_returns_id_and_info() -> None:
    provider = make(model_id="claude-sonnet-4-5-20250929")
    model = provider.get_model()
    assert model.id == "claude-sonnet-4-5-20250929"
    assert model.info == SONNET_45
    assert provider.get_model() == model


def test_get_model_info_is_the_configured_info_not_the_table() -> None:
    # A custom price list (e.g. a discounted gateway) must win over the built-in table.
    custom = ModelInfo(input_price=1.0, output_price=2.0)
    model = make(info=custom, model_id="claude-sonnet-4-5").get_model()
    assert model.info == custom
    assert model.info != MODELS["claude-sonnet-4-5"]


def test_repr_does_not_show_the_key() -> None:
    provider = make()
    assert "TESTONLY" not in repr(provider)
    assert "claude-sonnet-4-5" in repr(provider)


# ---------------------------------------------------------------------------------------------
# calculate_cost, figures computed by hand


def test_cost_without_cache() -> None:
    # 1000 x $3 + 500 x $15 = $10,500 per million
    cost = make().calculate_cost(1000, 500)
    assert isinstance(cost, float)
    assert cost == pytest.approx(0.0105, rel=REL)


def test_cost_with_five_minute_cache() -> None:
    # 1000 x 3 + 500 x 15 + 2000 x 3.75 + 3000 x 0.30 = 3000 + 7500 + 7500 + 900 = 18,900
    assert make().calculate_cost(1000, 500, 2000, 3000) == pytest.approx(0.0189, rel=REL)


def test_cost_keyword_arguments() -> None:
    cost = make().calculate_cost(
        input_tokens=1000, output_tokens=500, cache_write_tokens=2000, cache_read_tokens=3000
    )
    assert cost == pytest.approx(0.0189, rel=REL)


def test_cost_reads_and_writes_are_priced_separately() -> None:
    # Swapping the two would give 3000 x 3.75 + 2000 x 0.30 = 11,850 instead of 7,500 + 900.
    provider = make()
    assert provider.calculate_cost(0, 0, cache_write_tokens=2000) == pytest.approx(0.0075, rel=REL)
    assert provider.calculate_cost(0, 0, cache_read_tokens=3000) == pytest.approx(0.0009, rel=REL)


def test_cost_with_one_hour_writes() -> None:
    # 1000 in x 3          =  3,000
    #  500 out x 15        =  7,500
    # 1200 5m writes x 3.75 =  4,500   (2000 writes, 800 of them 1-hour)
    #  800 1h writes x 6    =  4,800
    # 3000 reads x 0.30     =    900
    #                         20,700 per million = $0.0207
    cost = make().calculate_cost(1000, 500, 2000, 3000, cache_write_1h_tokens=800)
    assert cost == pytest.approx(0.0207, rel=REL)


def test_cost_with_all_writes_one_hour() -> None:
    # 2000 x 6 = 12,000
    assert make().calculate_cost(0, 0, 2000, 0, 2000) == pytest.approx(0.012, rel=REL)


def test_one_hour_price_falls_back_to_twice_the_input_price() -> None:
    # Opus 4.1 with no 1h price: 1000 x 15 + 500 x 75 + 1200 x 18.75 + 800 x (2 x 15) + 3000 x 1.5
    #   = 15,000 + 37,500 + 22,500 + 24,000 + 4,500 = 103,500
    cost = make(OPUS_41_NO_1H).calculate_cost(1000, 500, 2000, 3000, cache_write_1h_tokens=800)
    assert cost == pytest.approx(0.1035, rel=REL)


def test_explicit_one_hour_price_is_used_over_the_fallback() -> None:
    info = ModelInfo(input_price=3.0, cache_writes_price=3.75, cache_writes_1h_price=5.0)
    # 1000 x 3 + 800 x 5 = 7,000 (the fallback would give 1000 x 3 + 800 x 6 = 7,800)
    cost = make(info).calculate_cost(1000, 0, 800, 0, 800)
    assert cost == pytest.approx(0.007, rel=REL)


@pytest.mark.parametrize(
    "args",
    [
        (1000, 500),
        (1000, 500, None, None),
        (1000, 500, None, None, None),
        (1000, 500, 0, 0, 0),
    ],
)
def test_none_cache_counts_are_zero(args: tuple[Any, ...]) -> None:
    assert make().calculate_cost(*args) == pytest.approx(0.0105, rel=REL)


def test_missing_prices_count_as_zero() -> None:
    # Only the output price is known: 500 x 15 = 7,500; the 1h fallback is 2 x 0.
    info = ModelInfo(output_price=15.0)
    assert make(info).calculate_cost(1000, 500, 2000, 3000, 800) == pytest.approx(0.0075, rel=REL)
    assert make(ModelInfo()).calculate_cost(1000, 500, 2000, 3000, 800) == 0.0


def test_missing_five_minute_price_with_known_input_price() -> None:
    # 1000 x 3 + 1200 x 0 (5m price unknown) + 800 x (2 x 3) = 3,000 + 4,800 = 7,800
    info = ModelInfo(input_price=3.0)
    assert make(info).calculate_cost(1000, 0, 2000, 0, 800) == pytest.approx(0.0078, rel=REL)


def test_zero_tokens_cost_nothing() -> None:
    assert make().calculate_cost(0, 0, 0, 0, 0) == 0.0


def test_large_counts_stay_exact() -> None:
    # A million input tokens at $3 is $3.
    assert make().calculate_cost(1_000_000, 0) == pytest.approx(3.0, rel=REL)
    # 150M output tokens at $15 is $2,250.
    assert make().calculate_cost(0, 150_000_000) == pytest.approx(2250.0, rel=REL)


def test_cost_of_the_table_model_matches_the_hand_figure() -> None:
    provider = Stub(ProviderConfig(model_id="m", model_info=MODELS["claude-sonnet-4-5"]))
    cost = provider.calculate_cost(1000, 500, 2000, 3000, cache_write_1h_tokens=800)
    assert cost == pytest.approx(0.0207, rel=REL)


def test_one_hour_writes_cannot_exceed_all_writes() -> None:
    with pytest.raises(ProviderError, match="cache_write_1h_tokens"):
        make().calculate_cost(1000, 500, 2000, 3000, cache_write_1h_tokens=2001)


def test_one_hour_writes_without_writes_is_an_error() -> None:
    with pytest.raises(ProviderError, match="cache_write_1h_tokens"):
        make().calculate_cost(1000, 500, None, None, cache_write_1h_tokens=1)


ARGS = [
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "cache_write_1h_tokens",
]


@pytest.mark.parametrize("name", ARGS)
@pytest.mark.parametrize("bad", [-1, -1000, 1.5, 10.0, "10", True, float("nan"), [1]])
def test_negative_or_non_int_counts_are_rejected(name: str, bad: Any) -> None:
    counts: dict[str, Any] = {
        "input_tokens": 10,
        "output_tokens": 10,
        "cache_write_tokens": 10,
        "cache_read_tokens": 10,
        "cache_write_1h_tokens": 0,
    }
    counts[name] = bad
    with pytest.raises(ProviderError) as info:
        make().calculate_cost(**counts)
    assert name in str(info.value)
