"""What a loaded config.toml is, and, in each field's metadata, the key that fills it.

A field with `key(...)`, `table(...)` or `tables(...)` metadata is read from the file (see
schema.py); the others are derived. The README's configuration reference lists every key
declared here (a test holds it to that).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ccm_tui.config import checks
from ccm_tui.config.problems import ConfigProblem
from ccm_tui.config.schema import Key, key, table, tables
from ccm_tui.events import AuthMode
from ccm_tui.paths import history_path
from ccm_tui.pricing import DEFAULT_TABLE, PriceTable
from ccm_tui.providers.registry import KeyHeader, WireFormat

DEFAULT_PORT = 13456

_BOOL = key("true or false", bool)
_MODEL = key("a model name")
_TOKENS = key("a token count", int)


def _ms(name: str) -> Mapping[str, Key]:
    return key("milliseconds", int, name=name, check=checks.positive_ms)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """[server.timeouts]"""

    connect_ms: int = field(default=10_000, metadata=_ms("connect_timeout_ms"))
    api_ms: int = field(default=600_000, metadata=_ms("api_timeout_ms"))
    first_byte_ms: int = field(default=60_000, metadata=_ms("first_byte_timeout_ms"))
    stream_idle_ms: int = field(default=120_000, metadata=_ms("stream_idle_timeout_ms"))
    # A client's side: the request line and headers must arrive within header_ms of their
    # first byte, and a body may pause at most body_ms between two chunks (a slow upload
    # that keeps coming is never cut; the response side has no such limit).
    header_ms: int = field(default=10_000, metadata=_ms("header_timeout_ms"))
    body_ms: int = field(default=30_000, metadata=_ms("body_timeout_ms"))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """[server]"""

    host: str = field(default="127.0.0.1", metadata=key("a host name or address"))
    port: int = field(
        default=DEFAULT_PORT, metadata=key("a port number", int, check=checks.port_number)
    )
    api_key: str | None = field(
        default=None, metadata=key("a string", env=True, check=checks.blank_is_none)
    )
    log_level: str = field(default="info", metadata=key("a log level"))
    # Host names (beyond loopback and the bound address) a request's Host may carry.
    allowed_hosts: tuple[str, ...] = field(
        default=(), metadata=key("a list of host names", list, check=checks.host_names)
    )
    max_connections: int = field(
        default=256, metadata=key("a number of connections", int, check=checks.at_least_one)
    )

    metrics: bool = field(default=True, metadata=_BOOL)  # GET /metrics, for Prometheus
    timeouts: Timeouts = field(default_factory=Timeouts, metadata=table(Timeouts))


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """[breaker]"""

    failures: int = field(
        default=3, metadata=key("a count of failures", int, check=checks.failure_count)
    )
    cooldown_s: float = field(
        default=30.0,
        metadata=key("seconds", int, float, name="cooldown_seconds", check=checks.seconds),
    )


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """[router]"""

    ROUTES: ClassVar[tuple[str, ...]] = (
        "default",
        "think",
        "background",
        "websearch",
        "long_context",
        "subagent",
    )

    default: str | None = field(default=None, metadata=_MODEL)
    think: str | None = field(default=None, metadata=_MODEL)
    background: str | None = field(default=None, metadata=_MODEL)
    websearch: str | None = field(default=None, metadata=_MODEL)
    long_context: str | None = field(default=None, metadata=_MODEL)
    subagent: str | None = field(default=None, metadata=_MODEL)
    auto_map_regex: re.Pattern[str] = field(
        default=re.compile("^claude-"), metadata=key("a regular expression", check=checks.regex)
    )
    background_regex: re.Pattern[str] = field(
        default=re.compile("(?i)claude.*haiku"),
        metadata=key("a regular expression", check=checks.regex),
    )
    long_context_threshold: int = field(default=60_000, metadata=_TOKENS)
    # Claude Code enables thinking on every request, so only a large enough budget
    # means "think hard"; unset, the think route never fires.
    think_budget_tokens: int | None = field(default=None, metadata=_TOKENS)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """[[providers]]: auth_type, base_url and key_header default by provider_type."""

    IGNORED_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "rate_limit_rpm",
            "rate_limit_max_wait_ms",
            "supported_beta_options",
            "project_id",
            "location",
            "headers",
        }
    )

    name: str = field(metadata=key("a name", required=True, check=checks.non_blank("a name")))
    provider_type: str = field(
        metadata=key("a provider type", required=True, check=checks.provider_type)
    )
    auth_type: AuthMode = field(
        metadata=key("apikey, oauth or passthrough", check=checks.auth_mode)
    )
    base_url: str = field(metadata=key("an http(s) URL", check=checks.http_url))
    format: WireFormat  # the provider type's
    key_header: KeyHeader = field(metadata=key("x-api-key or bearer", check=checks.key_header))
    api_key: str | None = field(default=None, metadata=key("a key or $VARIABLE", env=True))
    oauth_provider: str | None = field(default=None, metadata=key("a token store id"))
    enabled: bool = field(default=True, metadata=_BOOL)
    models: tuple[str, ...] = field(
        default=(), metadata=key("a list of model names", list, check=checks.model_names)
    )
    use_derived_key: bool = field(default=False, metadata=_BOOL)
    auto_derive_api_key: bool = field(default=False, metadata=_BOOL)
    # Limit-aware routing, off unless set: past this utilisation of a window (or on a
    # warning), the provider is tried after the others.
    prefer_below: float | None = field(
        default=None, metadata=key("a fraction from 0 to 1", float, int, check=checks.fraction)
    )


@dataclass(frozen=True, slots=True)
class ModelMapping:
    """[[models.mappings]]: priority defaults to the mapping's place in the list."""

    IGNORED_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"strip_beta_options", "strip_specific_beta", "strip_mid_conversation_system"}
    )

    priority: int = field(metadata=key("a whole number (1 is tried first)", int))
    provider: str = field(metadata=key("a provider name", required=True))
    actual_model: str = field(
        metadata=key(
            "the upstream model name",
            required=True,
            check=checks.non_blank("the model name to send upstream"),
        )
    )


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """[[models]]"""

    name: str = field(
        metadata=key("a model name", required=True, check=checks.non_blank("a model name"))
    )
    mappings: tuple[ModelMapping, ...] = field(metadata=tables(ModelMapping))


@dataclass(frozen=True, slots=True)
class TuiConfig:
    """[tui]"""

    theme: str = field(default="ccm-dark", metadata=key("a theme name"))
    history: int = field(
        default=1000, metadata=key("a number of requests", int, check=checks.at_least_one)
    )


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """[history]: finished requests and usage kept in SQLite across restarts."""

    enabled: bool = field(default=True, metadata=_BOOL)
    path: Path = field(
        default_factory=history_path, metadata=key("a file path", check=checks.file_path)
    )
    max_age_days: float = field(
        default=30.0, metadata=key("a number of days", int, float, check=checks.positive)
    )
    max_mb: float = field(
        default=64.0, metadata=key("megabytes", int, float, check=checks.positive)
    )


_URL = key("a URL")


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """[oauth]: Anthropic's OAuth endpoints (WIRE.md, reported), settings because they have
    moved before."""

    client_id: str = field(
        default="9d1c250a-e61b-44d9-88ed-5944d1962f5e", metadata=key("a client id")
    )
    authorize_url: str = field(default="https://claude.ai/oauth/authorize", metadata=_URL)
    console_authorize_url: str = field(
        default="https://console.anthropic.com/oauth/authorize", metadata=_URL
    )
    token_url: str = field(default="https://console.anthropic.com/v1/oauth/token", metadata=_URL)
    create_api_key_url: str = field(
        default="https://api.anthropic.com/api/oauth/claude_cli/create_api_key", metadata=_URL
    )
    redirect_uri: str = field(
        default="https://console.anthropic.com/oauth/code/callback", metadata=_URL
    )
    scopes: str = field(
        default="org:create_api_key user:profile user:inference",
        metadata=key("scopes separated by spaces"),
    )
    token_store: Path | None = field(
        default=None, metadata=key("a file path", check=checks.file_path)
    )


@dataclass(frozen=True, slots=True)
class Config:
    """The whole file; `path` and `warnings` are not keys."""

    path: Path | None
    server: ServerConfig = field(default_factory=ServerConfig, metadata=table(ServerConfig))
    router: RouterConfig = field(default_factory=RouterConfig, metadata=table(RouterConfig))
    breaker: BreakerConfig = field(default_factory=BreakerConfig, metadata=table(BreakerConfig))
    providers: tuple[ProviderConfig, ...] = field(default=(), metadata=tables(ProviderConfig))
    models: tuple[ModelConfig, ...] = field(default=(), metadata=tables(ModelConfig))
    tui: TuiConfig = field(default_factory=TuiConfig, metadata=table(TuiConfig))
    oauth: OAuthSettings = field(default_factory=OAuthSettings, metadata=table(OAuthSettings))
    history: HistoryConfig = field(default_factory=HistoryConfig, metadata=table(HistoryConfig))
    pricing: PriceTable = field(
        default=DEFAULT_TABLE,
        metadata=key("a table of models and their USD per million tokens", dict,
                     check=checks.prices),
    )  # fmt: skip
    warnings: tuple[ConfigProblem, ...] = ()

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)
