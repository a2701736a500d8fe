"""config.toml: load and validate (claude-code-mux's format loads unchanged), and edit in place.

model.py     the dataclasses a loaded config is; each key declared on the field it fills
schema.py    how a key is declared (`key`, `table`, `tables`)
checks.py    the value checks keys name
reader.py    reading tables by their declared keys (types, typos, `$VAR`)
loader.py    the rules spanning keys, `parse_config` and `load_config`
locate.py    line numbers, for problems that name file, line and key
problems.py  ConfigProblem and ConfigError
listen.py    which addresses the proxy may listen on
edit.py      `set_provider_option`, comments and layout kept
starter.py   the config `ccm-tui init` writes
"""

from __future__ import annotations

from ccm_tui.config.checks import port_number
from ccm_tui.config.edit import set_provider_option
from ccm_tui.config.listen import LOOPBACK_NAMES, is_loopback, listen_problem, listen_refusal
from ccm_tui.config.loader import load_config, parse_config
from ccm_tui.config.model import (
    DEFAULT_PORT,
    BreakerConfig,
    Config,
    HistoryConfig,
    ModelConfig,
    ModelMapping,
    OAuthSettings,
    ProviderConfig,
    RouterConfig,
    ServerConfig,
    Timeouts,
    TuiConfig,
)
from ccm_tui.config.problems import ConfigError, ConfigNotFound, ConfigProblem
from ccm_tui.config.schema import Invalid
from ccm_tui.config.starter import STARTER_CONFIG

__all__ = [
    "DEFAULT_PORT",
    "LOOPBACK_NAMES",
    "STARTER_CONFIG",
    "BreakerConfig",
    "Config",
    "ConfigError",
    "ConfigNotFound",
    "ConfigProblem",
    "HistoryConfig",
    "Invalid",
    "ModelConfig",
    "ModelMapping",
    "OAuthSettings",
    "ProviderConfig",
    "RouterConfig",
    "ServerConfig",
    "Timeouts",
    "TuiConfig",
    "is_loopback",
    "listen_problem",
    "listen_refusal",
    "load_config",
    "parse_config",
    "port_number",
    "set_provider_option",
]
