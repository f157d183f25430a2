"""Exact cost of every billed dimension, each rule checked against a figure worked by hand.

Prices (USD per million tokens) from Anthropic's pricing page: Sonnet 4.5 $3 in / $15 out,
writes $3.75 (5 min) / $6 (1 h), reads $0.30; over 200K prompt tokens (Sonnet 4 / 4.5) every
token at $6 in / $22.50 out, cache prices scaled alike ($7.50 / $12 / $0.60); web search $10
per 1,000 searches.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from provider import MODELS, ModelInfo, ProviderError, Usage
from provider.base import calculate_cost

SONNET_45 = MODELS["claude-sonnet-4-5"]
SONNET_4 = MODELS["claude-sonnet-4-0"]
SONNET_46 = MODELS["claude-sonnet-4-6"]
OPUS_46 = MODELS["claude-opus-4-6"]


def test_the_table_carries_the_long_context_rates_of_sonnet_4_and_4_5_only() -> None:
    for info in (SONNET_45, SONNET_4):
        assert info.long_context_threshold == 200_000
        assert (info.long_context_input_price, info.long_context_output_price) == (6.0, 22.5)
    for info in (SONNET_46, OPUS_46, MODELS["claude-haiku-4-5"], MODELS["claude-opus-4-5"]):
        assert info.long_context_threshold is None
    assert {info.web_search_price for info in MODELS.values()} == {10.0}


def test_plain_tokens() -> None:
    # 1,000 x $3 + 500 x $15 per million = $0.003 + $0.0075
    assert calculate_cost(SONNET_45, 1_000, 500) == pytest.approx(0.0105, abs=1e-12)


def test_five_minute_and_one_hour_writes_are_priced_apart() -> None:
    # 6,000 x $3.75 + 4,000 x $6 + 20,000 x $0.30 per million = 0.0225 + 0.024 + 0.006
    cost = calculate_cost(
        SONNET_45,
        0,
        0,
        cache_write_tokens=10_000,
        cache_read_tokens=20_000,
        cache_write_1h_tokens=4_000,
    )
    assert cost == pytest.approx(0.0525, abs=1e-12)


def test_long_context_premium_bills_every_token_with_cache_multipliers_on_top() -> None:
    # Prompt 150,000 + 40,000 + 20,000 = 210,000 > 200,000: the premium rates.
    # in 150,000 x $6 = 0.9; writes 30,000 x $7.50 = 0.225 and 10,000 x $12 = 0.12;
    # reads 20,000 x $0.60 = 0.012; out 2,000 x $22.50 = 0.045. Total 1.302.
    usage = Usage(
        input_tokens=150_000,
        output_tokens=2_000,
        cache_write_tokens=40_000,
        cache_read_tokens=20_000,
        cache_write_1h_tokens=10_000,
    )
    assert calculate_cost(SONNET_45, usage) == pytest.approx(1.302, abs=1e-12)
    assert calculate_cost(SONNET_4, usage) == pytest.approx(1.302, abs=1e-12)
    # The same request on Sonnet 4.6: standard prices.
    # 0.45 + 30,000 x 3.75 (0.1125) + 10,000 x 6 (0.06) + 20,000 x 0.3 (0.006) + 0.03 = 0.6585
    assert calculate_cost(SONNET_46, usage) == pytest.approx(0.6585, abs=1e-12)


def test_the_threshold_is_exceeded_only_above_200k() -> None:
    # Exactly 200,000: standard. 200,000 x $3 + 1,000 x $15 = 0.6 + 0.015.
    assert calculate_cost(SONNET_45, 200_000, 1_000) == pytest.approx(0.615, abs=1e-12)
    # One more: premium for all. 200,001 x $6 + 1,000 x $22.50 = 1.200006 + 0.0225.
    assert calculate_cost(SONNET_45, 200_001, 1_000) == pytest.approx(1.222506, abs=1e-12)
    # Cache reads count towards the threshold: 100,000 in + 100,001 read.
    # 100,000 x $6 + 100,001 x $0.60 = 0.6 + 0.0600006
    cost = calculate_cost(SONNET_45, 100_000, 0, cache_read_tokens=100_001)
    assert cost == pytest.approx(0.6600006, abs=1e-12)


def test_web_search_is_ten_dollars_per_thousand() -> None:
    # 3 searches = $0.03, plus 100 x $3 per million = $0.0003
    usage = Usage(input_tokens=100, web_search_requests=3)
    assert calculate_cost(SONNET_45, usage) == pytest.approx(0.0303, abs=1e-12)
    assert calculate_cost(SONNET_45, 100, 0, web_search_requests=3) == pytest.approx(0.0303)


def test_web_search_price_unset_is_the_published_fee_and_can_be_set() -> None:
    assert calculate_cost(ModelInfo(), 0, 0, web_search_requests=1_000) == pytest.approx(10.0)
    free = ModelInfo(web_search_price=0.0)
    assert calculate_cost(free, 0, 0, web_search_requests=1_000) == 0.0
    own = ModelInfo(web_search_price=12.5)
    assert calculate_cost(own, 0, 0, web_search_requests=2) == pytest.approx(0.025)


def test_a_usage_costs_the_same_as_its_counts() -> None:
    usage = Usage(1_234, 567, 890, 12_345, 90, 2)
    counts = calculate_cost(SONNET_45, 1_234, 567, 890, 12_345, 90, 2)
    assert calculate_cost(SONNET_45, usage) == counts


def test_a_conversation_costs_the_sum_of_its_turns_not_the_cost_of_summed_usage() -> None:
    turn = Usage(input_tokens=150_000, output_tokens=1_000)
    # Each turn: 150,000 x $3 + 1,000 x $15 = 0.465; two turns 0.93.
    per_turn = calculate_cost(SONNET_45, turn) + calculate_cost(SONNET_45, turn)
    assert per_turn == pytest.approx(0.93, abs=1e-12)
    # Summed, the usage would look like one 300K request at the premium: 1.8 + 0.045.
    assert calculate_cost(SONNET_45, turn + turn) == pytest.approx(1.845, abs=1e-12)


@pytest.mark.parametrize(
    "extra", [{"output_tokens": 1}, {"cache_read_tokens": 0}, {"web_search_requests": 1}]
)
def test_a_usage_and_counts_together_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(ProviderError, match="a Usage or the token counts"):
        calculate_cost(SONNET_45, Usage(), **extra)


def test_a_usage_with_bad_counts_is_refused() -> None:
    with pytest.raises(ProviderError, match="cache_write_1h_tokens"):
        calculate_cost(SONNET_45, Usage(cache_write_tokens=1, cache_write_1h_tokens=2))
    with pytest.raises(ProviderError, match="web_search_requests"):
        calculate_cost(SONNET_45, Usage(web_search_requests=-1))


def test_the_premium_needs_the_model_to_have_one() -> None:
    info = ModelInfo(input_price=3.0, output_price=15.0, long_context_threshold=10)
    # A threshold with no premium prices changes nothing: 100 x $3 + 10 x $15.
    assert calculate_cost(info, 100, 10) == pytest.approx(0.00045, abs=1e-15)


def test_models_json_spells_the_new_fields_in_camel_case() -> None:
    data = (
        b'{"inputPrice": 3, "outputPrice": 15, "longContextThreshold": 200000,'
        b' "longContextInputPrice": 6, "longContextOutputPrice": 22.5, "webSearchPrice": 10}'
    )
    info = msgspec.json.decode(data, type=ModelInfo)
    assert info.long_context_threshold == 200_000
    assert (info.long_context_input_price, info.long_context_output_price) == (6, 22.5)
    assert info.web_search_price == 10
    assert msgspec.json.decode(msgspec.json.encode(info), type=ModelInfo) == info
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"longContextInputPrice": -1}', type=ModelInfo)
