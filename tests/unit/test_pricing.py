"""pricing.py: the price table, model-name matching, costs, and `[pricing]` overrides."""

from __future__ import annotations

import pytest

from ccm_tui.pricing import (
    DEFAULT_TABLE,
    Price,
    Usage,
    canonical_model,
    cost,
    prices_from_mapping,
    rates,
)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-opus-4-1", "claude-opus-4-1"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
        ("claude-sonnet-4-0", "claude-sonnet-4-0"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-3-5-haiku-20241022", "claude-haiku-3-5"),
        ("claude-3-7-sonnet-latest", "claude-sonnet-3-7"),
        ("claude-3-opus-20240229", "claude-opus-3-0"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
        ("Claude-Sonnet-4-5", "claude-sonnet-4-5"),
        ("glm-4.6", "glm-4.6"),
        ("z-ai/GLM-4.6", "z-ai/glm-4.6"),
    ],
)
def test_every_spelling_of_a_model_finds_one_key(name, canonical):
    assert canonical_model(name) == canonical


def test_dated_ids_and_aliases_cost_the_same():
    usage = Usage(input_tokens=1200, output_tokens=300)
    assert cost(usage, "claude-sonnet-4-5-20250929") == cost(usage, "claude-sonnet-4-5")
    assert cost(usage, "claude-3-5-haiku-20241022") == cost(usage, "claude-haiku-3-5")


def test_each_kind_of_token_is_priced_at_its_own_rate():
    # Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 and $6 cache writes (5m, 1h).
    usage = Usage(10_000, 10_000, 10_000, 10_000, 10_000)
    assert cost(usage, "claude-sonnet-4-5") == pytest.approx((3 + 15 + 0.30 + 3.75 + 6) / 100)


def test_opus_4_1_is_priced_at_the_old_tier_and_opus_4_5_at_the_new():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost(usage, "claude-opus-4-1") == pytest.approx(90)
    assert cost(usage, "claude-opus-4-5") == pytest.approx(30)


def test_a_long_prompt_switches_the_whole_request_to_long_context_rates():
    short = Usage(input_tokens=200_000, output_tokens=1000)
    long = Usage(input_tokens=150_000, cache_read_tokens=50_001, output_tokens=1000)
    assert cost(short, "claude-sonnet-4-5") == pytest.approx((200_000 * 3 + 1000 * 15) / 1e6)
    assert cost(long, "claude-sonnet-4-5") == pytest.approx(
        (150_000 * 6 + 50_001 * 0.60 + 1000 * 22.5) / 1e6
    )


def test_an_unknown_model_has_no_cost_rather_than_a_neighbours():
    usage = Usage(input_tokens=1000)
    assert cost(usage, "claude-opus-4-9") is None
    assert cost(usage, "glm-4.6") is None
    assert cost(usage, "") is None


def test_rates_default_to_the_prompt_caching_multipliers():
    assert rates(4, 20) == rates(4, 20, 5, 8, 0.4)


def test_pricing_adds_a_model_the_defaults_do_not_know():
    table, problems = prices_from_mapping({"glm-4.6": {"input": 0.6, "output": 2.2}})
    assert problems == []
    assert table.cost(Usage(1_000_000, 1_000_000), "GLM-4.6") == pytest.approx(2.8)
    assert table.cost(Usage(100_000), "claude-sonnet-4-5") == pytest.approx(0.3)


def test_pricing_replaces_a_default_under_any_spelling_of_its_name():
    table, problems = prices_from_mapping(
        {"claude-sonnet-4-5-20250929": {"input": 1, "output": 2, "cache_read": 0}}
    )
    assert problems == []
    price = table.price("claude-sonnet-4-5")
    assert price == Price(rates(1, 2, 1.25, 2, 0))


def test_pricing_takes_a_long_context_tier():
    table, problems = prices_from_mapping(
        {"big": {"input": 1, "output": 2, "long_context": {"above": 10, "input": 5, "output": 9}}}
    )
    assert problems == []
    assert table.cost(Usage(input_tokens=11), "big") == pytest.approx(11 * 5 / 1e6)
    assert table.cost(Usage(input_tokens=10), "big") == pytest.approx(10 * 1 / 1e6)


def test_bad_entries_are_reported_by_key_and_left_out_while_good_ones_apply():
    table, problems = prices_from_mapping(
        {
            "good": {"input": 1, "output": 1},
            "typo": {"input": 1, "output": 1, "ouptut": 2},
            "text": {"input": "3", "output": 1},
            "negative": {"input": -1, "output": 1},
            "missing": {"input": 1},
            "flag": {"input": True, "output": 1},
            "claude-sonnet-4-5": {"input": 1, "output": 1, "long_context": {"input": 2}},
            "scalar": 3,
        }
    )
    assert dict(problems) == {
        "pricing.typo.ouptut": (
            "unknown field (known: input, output, cache_write_5m, cache_write_1h, cache_read)"
        ),
        "pricing.text.input": "expected USD per million tokens, a number, not '3'",
        "pricing.negative.input": (
            "expected USD per million tokens: a finite number, zero or more, not -1"
        ),
        "pricing.missing.output": "required: USD per million tokens",
        "pricing.flag.input": "expected USD per million tokens, a number, not True",
        "pricing.claude-sonnet-4-5.long_context.above": "required: a whole number of tokens",
        "pricing.claude-sonnet-4-5.long_context.output": "required: USD per million tokens",
        "pricing.scalar": "expected a table of USD per million tokens, like "
        "{ input = 3.0, output = 15.0 }",
    }
    assert table.price("good") is not None
    for left_out in ("typo", "text", "negative", "missing", "flag", "scalar"):
        assert table.price(left_out) is None
    # The broken override did not replace the shipped price.
    assert table.price("claude-sonnet-4-5") == DEFAULT_TABLE.price("claude-sonnet-4-5")


def test_names_with_dots_are_quoted_in_problem_keys():
    _, problems = prices_from_mapping({"glm-4.6": {"input": 1}})
    assert problems == [('pricing."glm-4.6".output', "required: USD per million tokens")]


def test_pricing_that_is_not_a_table_is_one_problem_and_the_defaults_stay():
    table, problems = prices_from_mapping(["sonnet"])  # type: ignore[arg-type]
    assert [key for key, _ in problems] == ["pricing"]
    assert table is DEFAULT_TABLE
