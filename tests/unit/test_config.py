"""ccm_tui.config: claude-code-mux's format loads unchanged; problems name file, line and key."""

from __future__ import annotations

import pytest

from ccm_tui.config import (
    STARTER_CONFIG,
    ConfigError,
    ConfigNotFound,
    is_loopback,
    load_config,
    parse_config,
)
from ccm_tui.events import AuthMode
from ccm_tui.providers.registry import KeyHeader, WireFormat

from config_texts import BASE, PATH, errors_of, line_of, only, problems_of

# A config as a claude-code-mux user has it: ccm's own keys (rate limits, beta stripping),
# both `$VAR` spellings, the `api_key` auth alias, a disabled provider whose variable is
# not exported, mappings listed out of priority order.
CCM_CONFIG = """\
# claude-code-mux configuration
[server]
port = 13456
host = "127.0.0.1"
log_level = "debug"
api_key = "${CCM_PROXY_KEY}"

[server.timeouts]
api_timeout_ms = 300000      # 5 minutes
connect_timeout_ms = 5000

[router]
default = "glm-4.6"
background = "glm-4.5-air"
websearch = "glm-4.6"
subagent = "glm-4.5-air"
auto_map_regex = "^(claude-|gpt-)"
background_regex = "(?i)haiku"

[[providers]]
name = "zai coding plan"
provider_type = "z.ai"
auth_type = "api_key"
api_key = "$ZAI_API_KEY"
enabled = true
models = []

[[providers]]
name = "openrouter"
provider_type = "openrouter"
auth_type = "apikey"
api_key = "${OPENROUTER_API_KEY}"
base_url = "https://openrouter.ai/api/"
enabled = true
models = ["z-ai/glm-4.6"]
rate_limit_rpm = 40
rate_limit_max_wait_ms = 2000

[[providers]]
name = "claude-max"
provider_type = "anthropic"
auth_type = "oauth"
oauth_provider = "claude-max-token"
enabled = true
models = []

[[providers]]
name = "nvidia-nim"
provider_type = "nvidia-nim"
api_key = "$NVIDIA_API_KEY"     # not exported: fine while disabled
base_url = "https://integrate.api.nvidia.com/v1"
enabled = false
models = []

[[models]]
name = "glm-4.6"

[[models.mappings]]
priority = 2
provider = "openrouter"
actual_model = "z-ai/glm-4.6"
strip_beta_options = true

[[models.mappings]]
priority = 1
provider = "zai coding plan"
actual_model = "glm-4.6"

[[models]]
name = "glm-4.5-air"

[[models.mappings]]
priority = 1
provider = "zai coding plan"
actual_model = "glm-4.5-air"
strip_specific_beta = ["context-management-2025-06-27"]

[[models.mappings]]
priority = 2
provider = "claude-max"
actual_model = "claude-haiku-4-5"
"""

CCM_ENV = {
    "CCM_PROXY_KEY": "proxy-key-value",
    "ZAI_API_KEY": "zai-secret-value",
    "OPENROUTER_API_KEY": "sk-or-v1-openrouter-secret",
}

# --- claude-code-mux's format ---------------------------------------------------------


def test_claude_code_mux_config_loads_with_every_section_read():
    config = parse_config(CCM_CONFIG, PATH, env=CCM_ENV)

    assert config.path == PATH
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 13456
    assert config.server.log_level == "debug"
    assert config.server.api_key == "proxy-key-value"
    assert config.server.timeouts.api_ms == 300_000
    assert config.server.timeouts.connect_ms == 5000
    assert config.server.timeouts.first_byte_ms == 60_000  # ccm-tui's default

    router = config.router
    assert (router.default, router.background, router.websearch, router.subagent) == (
        "glm-4.6",
        "glm-4.5-air",
        "glm-4.6",
        "glm-4.5-air",
    )
    assert router.think is None
    assert router.auto_map_regex.pattern == "^(claude-|gpt-)"
    assert router.background_regex.pattern == "(?i)haiku"

    assert [p.name for p in config.providers] == [
        "zai coding plan",
        "openrouter",
        "claude-max",
        "nvidia-nim",
    ]
    zai = config.provider("zai coding plan")
    assert zai is not None
    assert zai.provider_type == "z.ai"
    assert zai.auth_type is AuthMode.APIKEY
    assert zai.api_key == "zai-secret-value"
    assert zai.base_url == "https://api.z.ai/api/anthropic"
    assert zai.format is WireFormat.ANTHROPIC
    assert zai.enabled is True
    assert zai.models == ()

    openrouter = config.provider("openrouter")
    assert openrouter is not None
    assert openrouter.api_key == "sk-or-v1-openrouter-secret"
    assert openrouter.base_url == "https://openrouter.ai/api"  # trailing slash dropped
    assert openrouter.models == ("z-ai/glm-4.6",)

    claude = config.provider("claude-max")
    assert claude is not None
    assert claude.auth_type is AuthMode.OAUTH
    assert claude.oauth_provider == "claude-max-token"
    assert claude.key_header is KeyHeader.X_API_KEY
    assert claude.api_key is None

    nim = config.provider("nvidia-nim")
    assert nim is not None
    assert nim.enabled is False
    assert nim.api_key is None
    assert nim.format is WireFormat.OPENAI

    glm = config.model("glm-4.6")
    assert glm is not None
    assert [(m.priority, m.provider, m.actual_model) for m in glm.mappings] == [
        (1, "zai coding plan", "glm-4.6"),
        (2, "openrouter", "z-ai/glm-4.6"),
    ]
    air = config.model("glm-4.5-air")
    assert air is not None
    assert [m.provider for m in air.mappings] == ["zai coding plan", "claude-max"]
    # ccm's own keys (rate_limit_rpm, strip_beta_options, ...) are accepted silently.
    assert config.warnings == ()


def test_config_written_by_claude_code_mux_web_ui_loads():
    # Keys sorted, [[models]] before [[providers]], [router] and [server] last, no auth_type.
    text = """\
[[models]]
name = "kimi-for-coding"

[[models.mappings]]
actual_model = "claude-sonnet-4-5-20250929"
priority = 1
provider = "kimi-for-coding"

[[providers]]
api_key = "your-kimi-api-key-here"
base_url = "https://api.kimi.com/coding/"
enabled = true
models = []
name = "kimi-for-coding"
provider_type = "anthropic"

[router]
default = "kimi-for-coding"

[server]
host = "127.0.0.1"
log_level = "info"
port = 13456

[server.timeouts]
api_timeout_ms = 600000
connect_timeout_ms = 10000
"""
    config = parse_config(text, PATH, env={})

    provider = config.provider("kimi-for-coding")
    assert provider is not None
    assert provider.auth_type is AuthMode.APIKEY
    assert provider.api_key == "your-kimi-api-key-here"
    assert provider.base_url == "https://api.kimi.com/coding"
    assert config.router.default == "kimi-for-coding"
    assert config.server.timeouts.connect_ms == 10_000


@pytest.mark.parametrize("reference", ["$MY_KEY", "${MY_KEY}", "  $MY_KEY  "])
def test_both_variable_spellings_resolve_from_the_environment(reference):
    text = BASE.replace('"sk-ant-api03-primary"', f'"{reference}"')
    config = parse_config(text, PATH, env={"MY_KEY": "resolved-secret"})
    provider = config.provider("primary")
    assert provider is not None
    assert provider.api_key == "resolved-secret"


def test_value_that_only_contains_a_dollar_is_kept_literally():
    text = BASE.replace('"sk-ant-api03-primary"', '"pa$$word-$X-y"')
    config = parse_config(text, PATH, env={})
    provider = config.provider("primary")
    assert provider is not None
    assert provider.api_key == "pa$$word-$X-y"


def test_auth_type_api_key_is_an_alias_of_apikey():
    text = BASE.replace('auth_type = "apikey"', 'auth_type = "api_key"')
    provider = parse_config(text, PATH, env={}).provider("primary")
    assert provider is not None
    assert provider.auth_type is AuthMode.APIKEY


def test_missing_auth_type_means_apikey():
    text = BASE.replace('auth_type = "apikey"\n', "")
    provider = parse_config(text, PATH, env={}).provider("primary")
    assert provider is not None
    assert provider.auth_type is AuthMode.APIKEY


def test_disabled_provider_with_unset_variable_loads_without_a_key():
    text = BASE + (
        '\n[[providers]]\nname = "spare"\nprovider_type = "z.ai"\n'
        'api_key = "$SPARE_KEY"\nenabled = false\n'
    )
    config = parse_config(text, PATH, env={})
    spare = config.provider("spare")
    assert spare is not None
    assert spare.enabled is False
    assert spare.api_key is None


def test_starter_config_parses_with_an_empty_environment():
    config = parse_config(STARTER_CONFIG, PATH, env={})

    assert config.warnings == ()
    assert config.server.host == "127.0.0.1"
    assert config.server.api_key is None
    assert config.router.default == "sonnet"
    assert config.router.background == "haiku"
    sonnet = config.model("sonnet")
    assert sonnet is not None
    assert [m.provider for m in sonnet.mappings] == ["claude", "anthropic-api"]
    claude = config.provider("claude")
    assert claude is not None
    assert claude.auth_type is AuthMode.PASSTHROUGH
    api = config.provider("anthropic-api")
    assert api is not None
    assert (api.enabled, api.api_key) == (False, None)


def test_load_config_reads_the_file_and_keeps_its_path(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BASE, encoding="utf-8")
    config = load_config(path, env={})
    assert config.path == path
    assert config.model("sonnet") is not None


def test_load_config_of_a_missing_file_raises_not_found_naming_it(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigNotFound) as info:
        load_config(path, env={})
    assert info.value.path == path
    assert str(path) in str(info.value)
    assert "ccm-tui init" in str(info.value)


# --- errors: file, line, key, what was expected ------------------------------------------


def test_unset_variable_is_an_error_naming_the_key_the_variable_and_the_line():
    text = BASE.replace('"sk-ant-api03-primary"', '"$PRIMARY_KEY"')
    problems = errors_of(text)

    unset = [p for p in problems if "PRIMARY_KEY" in p.message]
    assert len(unset) == 1
    problem = unset[0]
    assert problem.where == '[[providers]] "primary" api_key'
    assert problem.line == line_of(text, 'api_key = "$PRIMARY_KEY"')
    assert "$PRIMARY_KEY is not set" in problem.message
    assert problem.path == PATH
    rendered = str(problem)
    assert str(PATH) in rendered
    assert f"line {problem.line}" in rendered
    assert "api_key" in rendered


def test_unset_variable_is_the_only_error_reported_for_that_key():
    # One mistake, one message: "auth_type apikey needs api_key" would be misleading when
    # the file does name a key (through a variable that is not exported).
    text = BASE.replace('"sk-ant-api03-primary"', '"${PRIMARY_KEY}"')
    problems = errors_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    assert "$PRIMARY_KEY" in problems[0].message


def test_unset_server_api_key_variable_is_an_error_naming_it():
    text = '[server]\napi_key = "$CCM_KEY"\n\n' + BASE
    problem = only(errors_of(text), "[server] api_key")
    assert problem.line == 2
    assert "$CCM_KEY" in problem.message


def test_unknown_provider_in_a_mapping_names_the_mapping_line_and_defined_providers():
    text = BASE.replace('provider = "primary"', 'provider = "secondary"')
    problem = only(errors_of(text), '[[models]] "sonnet" mapping 1')
    assert problem.line == line_of(text, 'provider = "secondary"')
    assert '"secondary" is not defined' in problem.message
    assert "primary" in problem.message


def test_a_mapping_to_an_unknown_provider_is_the_only_error_reported():
    # The model is declared; saying "no models defined" as well would send the user looking
    # for a second mistake that is not there.
    text = BASE.replace('provider = "primary"', 'provider = "secondary"')
    problems = errors_of(text)
    assert len(problems) == 1, [str(p) for p in problems]


def test_duplicate_provider_name_is_an_error_at_the_second_name():
    text = BASE + ('\n[[providers]]\nname = "primary"\nprovider_type = "z.ai"\napi_key = "other"\n')
    problem = only(errors_of(text), '[[providers]] "primary" name')
    assert problem.line == line_of(text, 'name = "primary"', occurrence=2)
    assert "duplicate provider name" in problem.message


def test_duplicate_model_name_is_an_error_at_the_second_name():
    text = BASE + (
        '\n[[models]]\nname = "sonnet"\n[[models.mappings]]\npriority = 1\n'
        'provider = "primary"\nactual_model = "other"\n'
    )
    problem = only(errors_of(text), '[[models]] "sonnet" name')
    assert problem.line == line_of(text, 'name = "sonnet"', occurrence=2)
    assert "duplicate model name" in problem.message


def test_model_without_mappings_is_an_empty_chain_error_at_its_table():
    text = BASE + '\n[[models]]\nname = "opus"\n'
    problem = only(errors_of(text), '[[models]] "opus"')
    assert problem.line == line_of(text, "[[models]]", occurrence=2)
    assert "no [[models.mappings]]" in problem.message


@pytest.mark.parametrize(
    ("original", "replacement", "where", "expected"),
    [
        ('default = "sonnet"', 'default = "sonnet"\nlong_context_threshold = "big"',
         "[router] long_context_threshold", 'expected a token count, found "big"'),
        ('auth_type = "apikey"', 'auth_type = "apikey"\nenabled = "yes"',
         '[[providers]] "primary" enabled', 'expected true or false, found "yes"'),
        ('auth_type = "apikey"', 'auth_type = "apikey"\nmodels = "sonnet"',
         '[[providers]] "primary" models', "expected a list of model names"),
        ("priority = 1", 'priority = "1"',
         '[[models]] "sonnet" mapping 1 priority', "expected a whole number"),
        ('actual_model = "claude-sonnet-4-5"', "actual_model = 45",
         '[[models]] "sonnet" mapping 1 actual_model', "expected the upstream model name"),
    ],
)  # fmt: skip
def test_bad_type_names_the_key_its_line_and_what_was_expected(
    original, replacement, where, expected
):
    text = BASE.replace(original, replacement, 1)
    bad_line = replacement.splitlines()[-1]
    problems = [p for p in errors_of(text) if p.where == where]
    assert problems, "no problem reported for " + where
    assert problems[0].line == line_of(text, bad_line)
    assert expected in problems[0].message


def test_a_wrongly_typed_actual_model_is_reported_once():
    text = BASE.replace('actual_model = "claude-sonnet-4-5"', "actual_model = 45")
    problems = errors_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    assert problems[0].message == "expected the upstream model name, found 45"


def test_bad_types_in_server_tables_name_their_lines():
    text = (
        '[server]\nport = "13456"\n\n[server.timeouts]\nconnect_timeout_ms = "10s"\n'
        "api_timeout_ms = -5\n\n" + BASE
    )
    problems = errors_of(text)
    port = only(problems, "[server] port")
    assert (port.line, port.message) == (2, 'expected a port number, found "13456"')
    connect = only(problems, "[server.timeouts] connect_timeout_ms")
    assert connect.line == 5
    assert 'expected milliseconds, found "10s"' in connect.message
    api = only(problems, "[server.timeouts] api_timeout_ms")
    assert api.line == 6
    assert "positive" in api.message


def test_port_out_of_range_is_an_error():
    problem = only(errors_of("[server]\nport = 70000\n\n" + BASE), "[server] port")
    assert problem.line == 2
    assert "65535" in problem.message


def test_boolean_is_not_accepted_where_a_number_is_expected():
    problem = only(errors_of("[server]\nport = true\n\n" + BASE), "[server] port")
    assert "expected a port number" in problem.message


def test_a_value_where_a_table_belongs_is_a_config_error_not_a_crash():
    # `[server] timeouts = 30000` (a guess at the key) must be reported, not raise TypeError.
    text = "[server]\ntimeouts = 30000\n\n" + BASE
    problem = only(errors_of(text), "[server] timeouts")
    assert problem.line == 2


@pytest.mark.parametrize("key", ["auto_map_regex", "background_regex"])
def test_bad_regex_is_an_error_naming_the_key_and_line(key):
    text = BASE.replace('default = "sonnet"', f'default = "sonnet"\n{key} = "claude-(4"')
    problem = only(errors_of(text), f"[router] {key}")
    assert problem.line == line_of(text, f"{key} =")
    assert "not a valid regular expression" in problem.message


def test_router_naming_an_undefined_model_is_an_error_listing_defined_ones():
    text = BASE.replace('default = "sonnet"', 'default = "sonnet"\nbackground = "haiku"')
    problem = only(errors_of(text), "[router] background")
    assert problem.line == line_of(text, 'background = "haiku"')
    assert '"haiku" is not defined' in problem.message
    assert "sonnet" in problem.message


def test_router_may_name_a_model_listed_by_a_provider():
    text = BASE.replace(
        'default = "sonnet"', 'default = "sonnet"\nbackground = "glm-4.5-air"'
    ).replace('auth_type = "apikey"', 'auth_type = "apikey"\nmodels = ["glm-4.5-air"]')
    assert parse_config(text, PATH, env={}).router.background == "glm-4.5-air"


def test_mapping_in_an_inline_table_is_located_at_its_mappings_line():
    text = """\
[router]
default = "sonnet"

[[providers]]
name = "primary"
provider_type = "anthropic"
api_key = "k"

[[models]]
name = "sonnet"
mappings = [{ priority = 1, provider = "ghost", actual_model = "m" }]
"""
    problem = only(errors_of(text), '[[models]] "sonnet" mapping 1')
    assert problem.line == 11


@pytest.mark.parametrize(
    ("text", "line", "column", "what"),
    [
        ('[server]\nhost = "127.0.0.1"\nport = = 3\n', 3, 8, "Unexpected character"),
        ('[server]\nhost = "127.0.0.1\n', 2, 18, "not allowed in strings"),
    ],
)
def test_invalid_toml_is_reported_with_file_line_and_1_based_column(text, line, column, what):
    problems = problems_of(text)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.path == PATH
    assert problem.line == line
    assert problem.where == f"column {column}"
    assert problem.message.startswith("not valid TOML: ")
    assert what in problem.message
    assert f"line {line}, column {column}" in str(problem)


def test_every_problem_in_a_file_is_reported_at_once():
    text = """\
[server]
port = "13456"

[router]
default = "sonnet"
background_regex = "(unclosed"

[[providers]]
name = "zai"
provider_type = "z.ai"
api_key = "$ZAI_KEY"
enabled = "yes"

[[providers]]
name = "zai"
provider_type = "anthropic"
api_key = "x"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "nowhere"
actual_model = "m"

[[models]]
name = "empty"

[[models]]
name = "empty"
"""
    found = {(p.line, p.where) for p in errors_of(text)}
    expected = {
        (2, "[server] port"),
        (6, "[router] background_regex"),
        (11, '[[providers]] "zai" api_key'),
        (12, '[[providers]] "zai" enabled'),
        (15, '[[providers]] "zai" name'),
        (23, '[[models]] "sonnet" mapping 1'),
        (26, '[[models]] "empty"'),
        (30, '[[models]] "empty" name'),
    }
    assert expected <= found, sorted(found, key=str)


def test_config_error_message_lists_every_problem():
    text = BASE.replace("priority = 1", 'priority = "1"').replace(
        '"sk-ant-api03-primary"', '"$UNSET_ONE"'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, PATH, env={})
    rendered = str(info.value)
    assert "priority" in rendered
    assert "$UNSET_ONE" in rendered
    assert rendered.count("config error:") == len([p for p in info.value.problems if not p.warning])


# --- warnings ---------------------------------------------------------------------------


def test_unknown_keys_are_warnings_with_their_line_and_the_config_still_loads():
    text = BASE.replace('auth_type = "apikey"', 'auth_type = "apikey"\nweight = 3').replace(
        'default = "sonnet"', 'default = "sonnet"\nmystery = true'
    )
    config = parse_config(text, PATH, env={})

    assert config.provider("primary") is not None
    by_where = {w.where: w for w in config.warnings}
    assert set(by_where) == {'[[providers]] "primary" weight', "[router] mystery"}
    assert all(w.warning for w in config.warnings)
    assert by_where['[[providers]] "primary" weight'].line == line_of(text, "weight = 3")
    assert by_where["[router] mystery"].line == line_of(text, "mystery = true")
    assert "unknown key" in by_where["[router] mystery"].message
    assert str(by_where["[router] mystery"]).startswith("config warning:")


def test_think_without_a_budget_is_a_warning_not_an_error():
    text = BASE.replace('default = "sonnet"', 'default = "sonnet"\nthink = "sonnet"')
    config = parse_config(text, PATH, env={})
    assert config.router.think == "sonnet"
    assert [w.where for w in config.warnings] == ["[router] think"]
    assert "think_budget_tokens" in config.warnings[0].message


# --- loopback ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.53", "127.255.255.254", "::1", "[::1]", "localhost",
             "LOCALHOST", " 127.0.0.1 "],
)  # fmt: skip
def test_loopback_hosts_are_recognised(host):
    assert is_loopback(host) is True


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1",
             "127.evil.example", "localhost.example.com", ""],
)  # fmt: skip
def test_other_hosts_are_not_loopback(host):
    assert is_loopback(host) is False


# --- the hardening keys (issue 9) -------------------------------------------------------------


def test_the_hardening_keys_load_with_their_defaults_and_as_written():
    config = parse_config(BASE, PATH, env={})
    assert config.server.allowed_hosts == ()
    assert config.server.max_connections == 256
    assert (config.server.timeouts.header_ms, config.server.timeouts.body_ms) == (10_000, 30_000)
    text = (
        '[server]\nallowed_hosts = ["CCM.lan.", "[::1]"]\nmax_connections = 8\n'
        "[server.timeouts]\nheader_timeout_ms = 500\nbody_timeout_ms = 700\n" + BASE
    )
    config = parse_config(text, PATH, env={})
    assert config.server.allowed_hosts == ("ccm.lan", "::1")
    assert config.server.max_connections == 8
    assert (config.server.timeouts.header_ms, config.server.timeouts.body_ms) == (500, 700)


@pytest.mark.parametrize(
    "line, key",
    [
        ('allowed_hosts = ["ccm.lan:13456"]', "allowed_hosts"),
        ('allowed_hosts = "ccm.lan"', "allowed_hosts"),
        ("max_connections = 0", "max_connections"),
    ],
)
def test_a_wrong_hardening_key_is_an_error_naming_its_line(line, key):
    problem = only(errors_of(f"[server]\n{line}\n" + BASE), key)
    assert problem.line == 2


def test_pricing_overrides_the_shipped_prices_and_adds_models():
    text = BASE + '\n[pricing]\n"glm-4.6" = { input = 0.6, output = 2.2 }\n'
    text += '"claude-sonnet-4-5" = { input = 1, output = 2 }\n'
    prices = parse_config(text, PATH, env={}).pricing
    assert prices.price("glm-4.6").rates.output == 2.2
    assert prices.price("claude-sonnet-4-5-20250929").rates.input == 1.0
    assert prices.price("claude-opus-4-1") is not None  # the rest still shipped


def test_a_bad_price_is_an_error_naming_the_model_and_field():
    text = BASE + '\n[pricing]\n"glm-4.6" = { input = "cheap", output = 2.2 }\n'
    (problem,) = errors_of(text)
    assert "pricing" in problem.where and "glm-4.6" in str(problem) and "input" in str(problem)


def test_prefer_below_is_off_by_default_and_a_fraction_when_set():
    assert parse_config(BASE, PATH, env={}).provider("primary").prefer_below is None
    text = BASE.replace('api_key = "sk-ant-api03-primary"\n', 'api_key = "x"\nprefer_below = 0.9\n')
    assert parse_config(text, PATH, env={}).provider("primary").prefer_below == 0.9
    (problem,) = errors_of(text.replace("0.9", "90"))
    assert "prefer_below" in problem.where and "fraction" in str(problem)


def test_history_defaults_under_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    history = parse_config(BASE, PATH, env={}).history
    assert history.enabled and history.path == tmp_path / "ccm-tui" / "history.sqlite3"
    assert (history.max_age_days, history.max_mb) == (30.0, 64.0)
