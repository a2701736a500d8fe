"""One mistake, one message: a misspelt key is one error saying which key it means."""

from __future__ import annotations

import pytest

from ccm_tui.config import ConfigError, parse_config

from config_texts import BASE, PATH


def rendered_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, PATH, env={})
    return str(info.value)


@pytest.mark.parametrize(
    ("original", "typo", "expected"),
    [
        ("[router]", "[routr]",
         f"config error: {PATH}, line 1, [routr]:\n  unknown key; did you mean `router`?"),
        ("[[providers]]", "[[provider]]",
         f"config error: {PATH}, line 4, [[provider]]:\n  unknown key; did you mean `providers`?"),
        ('provider_type = "anthropic"', 'provder_type = "anthropic"',
         f'config error: {PATH}, line 6, [[providers]] "primary" provder_type:\n'
         "  unknown key; did you mean `provider_type`?"),
        ('name = "primary"', 'nmae = "primary"',
         f'config error: {PATH}, line 5, [[providers]] "primary" nmae:\n'
         "  unknown key; did you mean `name`?"),
        ('provider = "primary"', 'Provider = "primary"',
         f'config error: {PATH}, line 14, [[models]] "sonnet" mapping 1 Provider:\n'
         "  unknown key; did you mean `provider`?"),
        ("actual_model =", "actual_modle =",
         f'config error: {PATH}, line 15, [[models]] "sonnet" mapping 1 actual_modle:\n'
         "  unknown key; did you mean `actual_model`?"),
    ],
    ids=["table", "array-of-tables", "provider-key", "letters-swapped", "case", "mapping-key"],
)  # fmt: skip
def test_a_misspelt_key_is_the_one_error_and_names_the_key_it_means(original, typo, expected):
    assert rendered_error(BASE.replace(original, typo, 1)) == expected


def test_a_misspelt_sub_table_is_read_as_the_one_it_means():
    text = "[server]\nport = 8080\n[server.timeout]\napi_timeout_ms = -1\n\n" + BASE
    assert rendered_error(text) == (
        f"config error: {PATH}, line 3, [server] timeout:\n"
        "  unknown key; did you mean `timeouts`?\n"
        f"config error: {PATH}, line 4, [server.timeout] api_timeout_ms:\n"
        "  expected a positive number of milliseconds"
    )


def test_a_misspelt_provider_type_value_is_one_error_with_a_suggestion():
    # The mapping to the broken provider says nothing more: the provider is in the file.
    text = BASE.replace('provider_type = "anthropic"', 'provider_type = "antropic"')
    message = rendered_error(text)
    assert message.startswith(
        f'config error: {PATH}, line 6, [[providers]] "primary" provider_type:\n'
        '  unknown provider type "antropic"; did you mean `anthropic`? (known: anthropic, z.ai,'
    )
    assert message.count("config error") == 1


def test_a_key_close_to_one_already_set_stays_an_unknown_key_warning():
    text = BASE.replace(
        'provider_type = "anthropic"', 'provider_type = "anthropic"\nprovder_type = 1'
    )
    config = parse_config(text, PATH, env={})
    assert [(w.where, w.message.split(" (")[0]) for w in config.warnings] == [
        ('[[providers]] "primary" provder_type', "unknown key")
    ]


def test_an_unrelated_unknown_key_stays_a_warning_and_the_config_loads():
    text = BASE.replace("[router]", "[mystery]\nweight = 3\n\n[router]")
    config = parse_config(text, PATH, env={})
    assert [(w.line, w.where) for w in config.warnings] == [(1, "[mystery]")]
    assert config.warnings[0].message.startswith("unknown key (known: server, router, breaker,")
