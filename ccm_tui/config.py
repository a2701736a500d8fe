"""config.toml: load and validate (claude-code-mux's format loads unchanged), and edit in place.

Loading collects every problem before giving up, so `ccm-tui check` can list them all.
Each problem names the file, the line and the key, and says what was expected.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from ccm_tui.atomicfile import atomic_write_text
from ccm_tui.events import AuthMode
from ccm_tui.paths import display
from ccm_tui.providers.registry import PROVIDER_TYPES, KeyHeader, WireFormat, lookup

DEFAULT_PORT = 13456
LOOPBACK_NAMES = frozenset({"localhost", "::1", "ip6-localhost"})


# --- the model --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_ms: int = 10_000
    api_ms: int = 600_000
    first_byte_ms: int = 60_000
    stream_idle_ms: int = 120_000


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str | None = None
    log_level: str = "info"
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failures: int = 3
    cooldown_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RouterConfig:
    default: str | None = None
    think: str | None = None
    background: str | None = None
    websearch: str | None = None
    long_context: str | None = None
    subagent: str | None = None
    auto_map_regex: re.Pattern[str] = re.compile("^claude-")
    background_regex: re.Pattern[str] = re.compile("(?i)claude.*haiku")
    long_context_threshold: int = 60_000
    # Claude Code enables thinking on every request, so only a large enough budget
    # means "think hard"; unset, the think route never fires.
    think_budget_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    provider_type: str
    auth_type: AuthMode
    base_url: str
    format: WireFormat
    key_header: KeyHeader
    api_key: str | None = None
    oauth_provider: str | None = None
    enabled: bool = True
    models: tuple[str, ...] = ()
    use_derived_key: bool = False
    auto_derive_api_key: bool = False


@dataclass(frozen=True, slots=True)
class ModelMapping:
    priority: int
    provider: str
    actual_model: str


@dataclass(frozen=True, slots=True)
class ModelConfig:
    name: str
    mappings: tuple[ModelMapping, ...]


@dataclass(frozen=True, slots=True)
class TuiConfig:
    theme: str = "ccm-dark"
    history: int = 1000


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """Anthropic's OAuth endpoints (WIRE.md, reported): settings because they have moved before."""

    client_id: str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
    authorize_url: str = "https://claude.ai/oauth/authorize"
    console_authorize_url: str = "https://console.anthropic.com/oauth/authorize"
    token_url: str = "https://console.anthropic.com/v1/oauth/token"
    create_api_key_url: str = "https://api.anthropic.com/api/oauth/claude_cli/create_api_key"
    redirect_uri: str = "https://console.anthropic.com/oauth/code/callback"
    scopes: str = "org:create_api_key user:profile user:inference"
    token_store: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    server: ServerConfig = field(default_factory=ServerConfig)
    router: RouterConfig = field(default_factory=RouterConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    providers: tuple[ProviderConfig, ...] = ()
    models: tuple[ModelConfig, ...] = ()
    tui: TuiConfig = field(default_factory=TuiConfig)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    warnings: tuple[ConfigProblem, ...] = ()

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)


# --- problems -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: Path | None
    line: int | None
    where: str  # e.g. '[[models]] "sonnet" mapping 2: provider'
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "config warning" if self.warning else "config error"
        place = [display(self.path) if self.path else "<config>"]
        if self.line:
            place.append(f"line {self.line}")
        if self.where:
            place.append(self.where)
        return f"{kind}: {', '.join(place)}:\n  {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigNotFound(ConfigError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            [
                ConfigProblem(
                    path,
                    None,
                    "",
                    "no config file here. Create one with `ccm-tui init`, or try "
                    "`ccm-tui demo` to see ccm-tui at work without one.",
                )
            ]
        )


def _q(value: object) -> str:
    return f'"{value}"'


# --- where keys are -----------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")


class _Locator:
    """Line numbers for tables and keys; tomlkit keeps none for values."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        counters: dict[str, int] = {}
        table: tuple[Any, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                name = header.group(2).replace('"', "").replace("'", "").strip()
                parts = tuple(name.split("."))
                if header.group(1) == "[[":
                    if parts == ("models", "mappings"):
                        model = counters.get("models", 0) - 1
                        key = f"models.{model}.mappings"
                        counters[key] = counters.get(key, 0) + 1
                        table = ("models", model, "mappings", counters[key] - 1)
                    else:
                        counters[name] = counters.get(name, 0) + 1
                        table = (*parts, counters[name] - 1)
                else:
                    table = parts
                self.lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self.lines.setdefault((*table, key.group(1).strip("\"'")), number)

    def line(self, *path: Any) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


# --- loading ----------------------------------------------------------------------------

_ENV_REF = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")

# Keys claude-code-mux understands that ccm-tui accepts and ignores.
_CCM_IGNORED = {
    "providers": {
        "rate_limit_rpm",
        "rate_limit_max_wait_ms",
        "supported_beta_options",
        "project_id",
        "location",
        "headers",
    },
    "mappings": {"strip_beta_options", "strip_specific_beta", "strip_mid_conversation_system"},
}


class _Loader:
    def __init__(self, path: Path | None, text: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.text = text
        self.env = env
        self.locate = _Locator(text)
        self.problems: list[ConfigProblem] = []
        # Models named in the file, even those whose mappings are broken: one mistake,
        # one message (a bad mapping must not also make every route to it "undefined").
        self.declared_models: set[str] = set()

    def problem(self, where: str, message: str, *loc: Any, warning: bool = False) -> None:
        self.problems.append(
            ConfigProblem(self.path, self.locate.line(*loc), where, message, warning)
        )

    # typed getters -------------------------------------------------------------------

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        kind: type | tuple[type, ...],
        default: Any,
        where: str,
        loc: tuple[Any, ...],
        expected: str,
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        value = value.unwrap() if hasattr(value, "unwrap") else value
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            self.problem(f"{where} {key}", f"expected {expected}, found {_q(value)}", *loc, key)
            return default
        return value

    def table(
        self, parent: Mapping[str, Any], key: str, where: str, loc: tuple[Any, ...]
    ) -> Mapping[str, Any]:
        """A sub-table; a plain value where a table belongs is reported, not a crash."""
        value = parent.get(key, {})
        if isinstance(value, Mapping):
            return value
        self.problem(where, f"expected a table, found {value!r}", *loc)
        return {}

    def resolve_env(
        self, value: str | None, where: str, loc: tuple[Any, ...], required: bool = True
    ) -> str | None:
        if value is None:
            return None
        match = _ENV_REF.match(value.strip())
        if not match:
            return value
        var = match.group(1) or match.group(2)
        resolved = self.env.get(var)
        if resolved is None:
            if not required:
                return None
            self.problem(
                where,
                f"environment variable ${var} is not set (export it, or write the value here)",
                *loc,
            )
            return None
        return resolved

    def regex(self, table: Mapping[str, Any], key: str, default: str) -> re.Pattern[str]:
        source = self.get(table, key, str, default, "[router]", ("router",), "a regular expression")
        if not source.strip():
            source = default
        try:
            return re.compile(source)
        except re.error as err:
            self.problem(f"[router] {key}", f"not a valid regular expression: {err}", "router", key)
            return re.compile(default)

    def unknown_keys(
        self, table: Mapping[str, Any], known: set[str], where: str, loc: tuple[Any, ...]
    ) -> None:
        for key in table:
            if key not in known:
                self.problem(
                    f"{where} {key}",
                    f"unknown key (known: {', '.join(sorted(known))})",
                    *loc,
                    key,
                    warning=True,
                )

    # sections --------------------------------------------------------------------------

    def server(self, doc: Mapping[str, Any]) -> ServerConfig:
        table = self.table(doc, "server", "[server]", ("server",))
        loc = ("server",)
        self.unknown_keys(
            table, {"host", "port", "api_key", "log_level", "timeouts"}, "[server]", loc
        )
        host = self.get(table, "host", str, "127.0.0.1", "[server]", loc, "a host name or address")
        port = self.get(table, "port", int, DEFAULT_PORT, "[server]", loc, "a port number")
        if not 0 <= port < 65536:
            self.problem(
                "[server] port",
                f"expected a port from 0 (any free port) to 65535, found {port}",
                *loc,
                "port",
            )
            port = DEFAULT_PORT
        raw_key = self.get(table, "api_key", str, None, "[server]", loc, "a string")
        api_key = self.resolve_env(raw_key, "[server] api_key", (*loc, "api_key"))
        if api_key is not None and not api_key.strip():
            api_key = None
        t = self.table(table, "timeouts", "[server] timeouts", ("server", "timeouts"))
        tloc = ("server", "timeouts")
        known_t = {
            "connect_timeout_ms",
            "api_timeout_ms",
            "first_byte_timeout_ms",
            "stream_idle_timeout_ms",
        }
        self.unknown_keys(t, known_t, "[server.timeouts]", tloc)
        d = Timeouts()

        def ms(key: str, default: int) -> int:
            value = self.get(t, key, int, default, "[server.timeouts]", tloc, "milliseconds")
            if value <= 0:
                self.problem(
                    f"[server.timeouts] {key}",
                    "expected a positive number of milliseconds",
                    *tloc,
                    key,
                )
                return default
            return value

        timeouts = Timeouts(
            connect_ms=ms("connect_timeout_ms", d.connect_ms),
            api_ms=ms("api_timeout_ms", d.api_ms),
            first_byte_ms=ms("first_byte_timeout_ms", d.first_byte_ms),
            stream_idle_ms=ms("stream_idle_timeout_ms", d.stream_idle_ms),
        )
        log_level = self.get(table, "log_level", str, "info", "[server]", loc, "a log level")
        return ServerConfig(host, port, api_key, log_level, timeouts)

    def breaker(self, doc: Mapping[str, Any]) -> BreakerConfig:
        table = self.table(doc, "breaker", "[breaker]", ("breaker",))
        loc = ("breaker",)
        self.unknown_keys(table, {"failures", "cooldown_seconds"}, "[breaker]", loc)
        failures = self.get(table, "failures", int, 3, "[breaker]", loc, "a count of failures")
        cooldown = self.get(
            table, "cooldown_seconds", (int, float), 30, "[breaker]", loc, "seconds"
        )
        return BreakerConfig(max(1, failures), float(max(0, cooldown)))

    def router(self, doc: Mapping[str, Any]) -> RouterConfig:
        table = self.table(doc, "router", "[router]", ("router",))
        loc = ("router",)
        routes = ("default", "think", "background", "websearch", "long_context", "subagent")
        known = {
            *routes,
            "auto_map_regex",
            "background_regex",
            "long_context_threshold",
            "think_budget_tokens",
        }
        self.unknown_keys(table, known, "[router]", loc)
        names = {r: self.get(table, r, str, None, "[router]", loc, "a model name") for r in routes}
        threshold = self.get(
            table, "long_context_threshold", int, 60_000, "[router]", loc, "a token count"
        )
        budget = self.get(table, "think_budget_tokens", int, None, "[router]", loc, "a token count")
        return RouterConfig(
            **names,
            auto_map_regex=self.regex(table, "auto_map_regex", "^claude-"),
            background_regex=self.regex(table, "background_regex", "(?i)claude.*haiku"),
            long_context_threshold=threshold,
            think_budget_tokens=budget,
        )

    def providers(self, doc: Mapping[str, Any]) -> tuple[ProviderConfig, ...]:
        out: list[ProviderConfig] = []
        seen: dict[str, int] = {}
        raw = doc.get("providers", [])
        if not isinstance(raw, list):
            self.problem("providers", "expected [[providers]] tables", "providers")
            return ()
        known = {
            "name",
            "provider_type",
            "auth_type",
            "api_key",
            "base_url",
            "enabled",
            "models",
            "oauth_provider",
            "use_derived_key",
            "auto_derive_api_key",
            "key_header",
        } | _CCM_IGNORED["providers"]
        for index, table in enumerate(raw):
            loc = ("providers", index)
            where = f"[[providers]] #{index + 1}"
            name = self.get(table, "name", str, "", where, loc, "a name")
            if not name.strip():
                self.problem(where, "every provider needs a `name`", *loc)
                continue
            where = f"[[providers]] {_q(name)}"
            if name in seen:
                self.problem(
                    f"{where} name",
                    f"duplicate provider name (first defined as #{seen[name] + 1})",
                    *loc,
                    "name",
                )
                continue
            seen[name] = index
            self.unknown_keys(table, known, where, loc)
            enabled = self.get(table, "enabled", bool, True, where, loc, "true or false")
            ptype_name = self.get(table, "provider_type", str, "", where, loc, "a provider type")
            ptype = lookup(ptype_name)
            if ptype is None:
                self.problem(
                    f"{where} provider_type",
                    f"unknown provider type {_q(ptype_name)} (known: {', '.join(PROVIDER_TYPES)})",
                    *loc,
                    "provider_type",
                )
                continue
            auth_raw = self.get(
                table, "auth_type", str, "apikey", where, loc, "apikey, oauth or passthrough"
            )
            auth_name = {"api_key": "apikey", "bearer": "apikey"}.get(auth_raw, auth_raw)
            if auth_name not in ("apikey", "oauth", "passthrough"):
                self.problem(
                    f"{where} auth_type",
                    f"expected apikey, oauth or passthrough, found {_q(auth_raw)}",
                    *loc,
                    "auth_type",
                )
                continue
            auth = AuthMode(auth_name)
            raw_key = self.get(table, "api_key", str, None, where, loc, "a key or $VARIABLE")
            # A disabled provider may name a variable that is not set (yet).
            api_key = self.resolve_env(raw_key, f"{where} api_key", (*loc, "api_key"), enabled)
            if auth is AuthMode.APIKEY and enabled and raw_key is None:
                self.problem(
                    f"{where} api_key",
                    'auth_type "apikey" needs api_key (a key, or "$VARIABLE")',
                    *loc,
                    "api_key",
                )
            oauth_provider = self.get(
                table, "oauth_provider", str, None, where, loc, "a token store id"
            )
            if auth is AuthMode.OAUTH:
                if not ptype.supports_oauth:
                    self.problem(
                        f"{where} auth_type",
                        f'oauth works only with provider_type "anthropic", not {_q(ptype.name)}',
                        *loc,
                        "auth_type",
                    )
                oauth_provider = oauth_provider or name
            base_url = self.get(
                table, "base_url", str, ptype.base_url, where, loc, "an http(s) URL"
            )
            if not re.match(r"^https?://[^/\s]+", base_url):
                self.problem(
                    f"{where} base_url",
                    f"expected an http:// or https:// URL, found {_q(base_url)}",
                    *loc,
                    "base_url",
                )
            header_raw = self.get(
                table, "key_header", str, ptype.key_header.value, where, loc, "x-api-key or bearer"
            )
            try:
                key_header = KeyHeader(header_raw)
            except ValueError:
                self.problem(
                    f"{where} key_header",
                    f"expected x-api-key or bearer, found {_q(header_raw)}",
                    *loc,
                    "key_header",
                )
                key_header = ptype.key_header
            models = self.get(table, "models", list, [], where, loc, "a list of model names")
            out.append(
                ProviderConfig(
                    name=name,
                    provider_type=ptype.name,
                    auth_type=auth,
                    base_url=base_url.rstrip("/"),
                    format=ptype.format,
                    key_header=key_header,
                    api_key=api_key,
                    oauth_provider=oauth_provider,
                    enabled=enabled,
                    models=tuple(str(m) for m in models),
                    use_derived_key=self.get(
                        table, "use_derived_key", bool, False, where, loc, "true or false"
                    ),
                    auto_derive_api_key=self.get(
                        table, "auto_derive_api_key", bool, False, where, loc, "true or false"
                    ),
                )
            )
        return tuple(out)

    def models(self, doc: Mapping[str, Any], provider_names: list[str]) -> tuple[ModelConfig, ...]:
        out: list[ModelConfig] = []
        seen: set[str] = set()
        raw = doc.get("models", [])
        if not isinstance(raw, list):
            self.problem("models", "expected [[models]] tables", "models")
            return ()
        defined = ", ".join(provider_names) or "none"
        for index, table in enumerate(raw):
            loc = ("models", index)
            name = self.get(table, "name", str, "", f"[[models]] #{index + 1}", loc, "a model name")
            where = f"[[models]] {_q(name)}" if name else f"[[models]] #{index + 1}"
            if not name.strip():
                self.problem(where, "every model needs a `name`", *loc)
                continue
            if name in seen:
                self.problem(f"{where} name", "duplicate model name", *loc, "name")
                continue
            seen.add(name)
            self.declared_models.add(name)
            self.unknown_keys(table, {"name", "mappings"}, where, loc)
            mappings: list[ModelMapping] = []
            for m_index, m in enumerate(table.get("mappings", [])):
                mloc = (*loc, "mappings", m_index)
                mwhere = f"{where} mapping {m_index + 1}"
                if not isinstance(m, Mapping):
                    self.problem(
                        mwhere, f"expected a [[models.mappings]] table, found {m!r}", *mloc
                    )
                    continue
                self.unknown_keys(
                    m,
                    {"priority", "provider", "actual_model"} | _CCM_IGNORED["mappings"],
                    mwhere,
                    mloc,
                )
                priority = self.get(
                    m,
                    "priority",
                    int,
                    m_index + 1,
                    mwhere,
                    mloc,
                    "a whole number (1 is tried first)",
                )
                provider = self.get(m, "provider", str, "", mwhere, mloc, "a provider name")
                actual = self.get(
                    m, "actual_model", str, None, mwhere, mloc, "the upstream model name"
                )
                if actual is None and "actual_model" in m:
                    continue  # wrongly typed: already reported
                if provider not in provider_names:
                    self.problem(
                        mwhere,
                        f"provider {_q(provider)} is not defined (defined: {defined})",
                        *mloc,
                        "provider",
                    )
                    continue
                if not actual or not actual.strip():
                    self.problem(
                        f"{mwhere} actual_model",
                        "expected the model name to send upstream",
                        *mloc,
                        "actual_model",
                    )
                    continue
                mappings.append(ModelMapping(priority, provider, actual))
            if not table.get("mappings"):
                self.problem(
                    where,
                    "no [[models.mappings]]: a model needs at least one provider to try",
                    *loc,
                )
            if not mappings:
                continue
            mappings.sort(key=lambda m: m.priority)
            out.append(ModelConfig(name, tuple(mappings)))
        return tuple(out)

    def tui(self, doc: Mapping[str, Any]) -> TuiConfig:
        table = self.table(doc, "tui", "[tui]", ("tui",))
        loc = ("tui",)
        self.unknown_keys(table, {"theme", "history"}, "[tui]", loc)
        theme = self.get(table, "theme", str, "ccm-dark", "[tui]", loc, "a theme name")
        history = self.get(table, "history", int, 1000, "[tui]", loc, "a number of requests")
        if history < 1:
            self.problem("[tui] history", "expected at least 1", *loc, "history")
            history = 1000
        return TuiConfig(theme, history)

    def oauth(self, doc: Mapping[str, Any]) -> OAuthSettings:
        table = self.table(doc, "oauth", "[oauth]", ("oauth",))
        loc = ("oauth",)
        d = OAuthSettings()
        keys = [k for k in OAuthSettings.__slots__ if k != "token_store"]
        self.unknown_keys(table, {*keys, "token_store"}, "[oauth]", loc)
        values = {
            k: self.get(table, k, str, getattr(d, k), "[oauth]", loc, "a string") for k in keys
        }
        store = self.get(table, "token_store", str, None, "[oauth]", loc, "a file path")
        return OAuthSettings(**values, token_store=Path(store).expanduser() if store else None)

    def check_routes(
        self,
        router: RouterConfig,
        models: tuple[ModelConfig, ...],
        providers: tuple[ProviderConfig, ...],
    ) -> None:
        names = self.declared_models | {n for p in providers for n in p.models}
        listed = ", ".join(sorted(names)) or "none"
        for route in ("default", "think", "background", "websearch", "long_context", "subagent"):
            value = getattr(router, route)
            if value is not None and value not in names:
                self.problem(
                    f"[router] {route}",
                    f"model {_q(value)} is not defined (defined: {listed})",
                    "router",
                    route,
                )
        if router.think and router.think_budget_tokens is None:
            self.problem(
                "[router] think",
                "never used: Claude Code enables thinking on every request, so set "
                "think_budget_tokens (route to `think` when the budget is at least that)",
                "router",
                "think",
                warning=True,
            )
        if not self.declared_models and not any(p.models for p in providers):
            self.problem("[[models]]", "no models defined: requests would have nowhere to go")

    def load(self) -> Config:
        try:
            doc = tomlkit.parse(self.text).unwrap()
        except tomlkit.exceptions.ParseError as err:
            message = str(err).split(" at line ")[0]
            self.problems.append(
                ConfigProblem(
                    self.path, err.line, f"column {err.col + 1}", f"not valid TOML: {message}"
                )
            )
            raise ConfigError(self.problems) from None
        server = self.server(doc)
        router = self.router(doc)
        breaker = self.breaker(doc)
        providers = self.providers(doc)
        models = self.models(doc, [p.name for p in providers])
        self.check_routes(router, models, providers)
        config = Config(
            path=self.path,
            server=server,
            router=router,
            breaker=breaker,
            providers=providers,
            models=models,
            tui=self.tui(doc),
            oauth=self.oauth(doc),
            warnings=tuple(p for p in self.problems if p.warning),
        )
        errors = [p for p in self.problems if not p.warning]
        if errors:
            raise ConfigError(self.problems)
        return config


def parse_config(
    text: str, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    return _Loader(path, text, os.environ if env is None else env).load()


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigNotFound(path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([ConfigProblem(path, None, "", f"cannot read the file: {err}")]) from None
    return parse_config(text, path, env)


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name: it may resolve anywhere


# --- editing in place -------------------------------------------------------------------


def set_provider_option(path: Path, provider: str, key: str, value: Any) -> None:
    """Sets one key of one [[providers]] table, keeping every comment and the layout."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for table in doc.get("providers", []):
        if table.get("name") == provider:
            if key in table:
                table[key] = value
            else:
                _add_before_trailing_comments(table, key, value)
            break
    else:
        raise KeyError(f"provider {_q(provider)} is not in {display(path)}")
    atomic_write_text(path, tomlkit.dumps(doc))


def _add_before_trailing_comments(table: Any, key: str, value: Any) -> None:
    """tomlkit appends after the comments that introduce the next table; keep them there."""
    body = table.value.body
    trailing = []
    while body and body[-1][0] is None:
        trailing.append(body.pop())
    table[key] = value
    body.extend(reversed(trailing))


STARTER_CONFIG = """\
# ccm-tui configuration. Reference: the README's "Configuration" section.
# claude-code-mux's config.toml loads unchanged; ccm-tui's own keys are marked.

[server]
host = "127.0.0.1"        # loopback only; any other address needs api_key
port = 13456
# api_key = "$CCM_KEY"    # if set, clients must send it (x-api-key, Bearer or x-ccm-key)

[server.timeouts]
connect_timeout_ms = 10000
api_timeout_ms = 600000
# first_byte_timeout_ms = 60000      # ccm-tui: a stream that sends nothing this long fails over
# stream_idle_timeout_ms = 120000   # ccm-tui: a stalled stream is ended with an error

[router]
default = "sonnet"        # where claude-* model names go (auto_map_regex)
background = "haiku"      # Claude Code's haiku requests (background_regex)
# think = "opus"
# think_budget_tokens = 50000   # ccm-tui: route to `think` only when thinking asks for this many
# websearch = "sonnet"
# long_context = "sonnet"
# long_context_threshold = 60000

# Your Claude Code login, forwarded as it came (no key needed here).
[[providers]]
name = "claude"
provider_type = "anthropic"
auth_type = "passthrough"

# An Anthropic API key, used when the login is rate limited or down.
[[providers]]
name = "anthropic-api"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "$ANTHROPIC_API_KEY"
enabled = false           # set true once ANTHROPIC_API_KEY is exported

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "claude"
actual_model = "claude-sonnet-4-5"
[[models.mappings]]
priority = 2
provider = "anthropic-api"
actual_model = "claude-sonnet-4-5"

[[models]]
name = "haiku"
[[models.mappings]]
priority = 1
provider = "claude"
actual_model = "claude-haiku-4-5"

[tui]
theme = "ccm-dark"
history = 1000
"""
