"""config.toml → Config: the rules that span keys (providers, models, routes), and the entry
points. Loading collects every problem before giving up, so `ccm-tui check` can list them
all; each names the file, the line and the key, and says what was expected.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from ccm_tui.config.checks import names
from ccm_tui.config.model import (
    Config,
    ModelConfig,
    ModelMapping,
    ProviderConfig,
    RouterConfig,
)
from ccm_tui.config.problems import ConfigError, ConfigNotFound, ConfigProblem, quoted
from ccm_tui.config.reader import Reader
from ccm_tui.events import AuthMode
from ccm_tui.providers.registry import lookup


class _Loader(Reader):
    def __init__(self, path: Path | None, text: str, env: Mapping[str, str]) -> None:
        super().__init__(path, text, env)
        # Names in the file, even of a provider or model that is broken: one mistake, one
        # message (a broken provider must not also make every mapping to it "undefined").
        self.declared_providers: dict[str, int] = {}  # name → index in [[providers]]
        self.declared_models: set[str] = set()

    def load(self) -> Config:
        try:
            doc = tomlkit.parse(self.text).unwrap()
        except tomlkit.exceptions.ParseError as err:
            message = str(err).split(" at line ")[0]
            line, col = self._toml_position(err.line, err.col)
            self.problems.append(
                ConfigProblem(self.path, line, f"column {col + 1}", f"not valid TOML: {message}")
            )
            raise ConfigError(self.problems) from None
        root = self.entries(Config, doc, (), "")
        assert root is not None  # a document is a table
        values = self.read(root, "")
        providers = self.providers(values.pop("providers", []))
        models = self.models(values.pop("models", []), {p.name for p in providers})
        config = Config(path=self.path, **values, providers=providers, models=models)
        self.check_routes(config)
        errors = [p for p in self.problems if not p.warning]
        if errors:
            raise ConfigError(self.problems)
        return dataclasses.replace(config, warnings=tuple(p for p in self.problems if p.warning))

    def _toml_position(self, line: int, col: int) -> tuple[int, int]:
        """tomlkit counts lines as `str.splitlines` does (a lone CR or a form feed breaks
        one); TOML and every editor break only at LF, so the user's line is recounted."""
        offset = sum(len(ln) for ln in self.text.splitlines(keepends=True)[: line - 1]) + col
        before = self.text[:offset]
        return before.count("\n") + 1, offset - (before.rfind("\n") + 1)

    # -- [[providers]] -----------------------------------------------------------------------

    def providers(self, raw: list[Any]) -> tuple[ProviderConfig, ...]:
        built = (self.provider(item, index) for index, item in enumerate(raw))
        return tuple(p for p in built if p is not None)

    def provider(self, raw: object, index: int) -> ProviderConfig | None:
        loc = ("providers", index)
        entries = self.entries(ProviderConfig, raw, loc, f"[[providers]] #{index + 1}")
        if entries is None:
            return None
        where = _named("[[providers]]", index, entries.table.get("name"))
        # A disabled provider may name a variable that is not set (yet).
        enabled = entries.table.get("enabled", True) is not False
        values = self.read(entries, where, env_required=enabled)
        name = values.get("name")
        if name is None:
            return None
        if name in self.declared_providers:
            first = self.declared_providers[name] + 1
            self.problem(
                f"{where} name",
                f"duplicate provider name (first defined as #{first})",
                *loc,
                "name",
            )
            return None
        self.declared_providers[name] = index
        ptype = lookup(values.get("provider_type", ""))
        if ptype is None or ("auth_type" in entries.table and "auth_type" not in values):
            return None  # reported
        auth = values.setdefault("auth_type", AuthMode.APIKEY)
        if auth is AuthMode.APIKEY and enabled and "api_key" not in entries.table:
            self.problem(where, 'auth_type "apikey" needs api_key (a key, or "$VARIABLE")', *loc)
        if auth is AuthMode.OAUTH:
            if not ptype.supports_oauth:
                self.problem(
                    f"{where} auth_type",
                    f'oauth works only with provider_type "anthropic", not {quoted(ptype.name)}',
                    *loc,
                    "auth_type",
                )
            values["oauth_provider"] = values.get("oauth_provider") or name
        values.setdefault("base_url", ptype.base_url.rstrip("/"))
        values.setdefault("key_header", ptype.key_header)
        return ProviderConfig(format=ptype.format, **values)

    # -- [[models]] --------------------------------------------------------------------------

    def models(self, raw: list[Any], providers: set[str]) -> tuple[ModelConfig, ...]:
        built = (self.model(item, index, providers) for index, item in enumerate(raw))
        return tuple(m for m in built if m is not None)

    def model(self, raw: object, index: int, providers: set[str]) -> ModelConfig | None:
        loc = ("models", index)
        entries = self.entries(ModelConfig, raw, loc, f"[[models]] #{index + 1}")
        if entries is None:
            return None
        where = _named("[[models]]", index, entries.table.get("name"))
        values = self.read(entries, where)
        name = values.get("name")
        if name is None:
            return None
        if name in self.declared_models:
            self.problem(f"{where} name", "duplicate model name", *loc, "name")
            return None
        self.declared_models.add(name)
        if not entries.table.get("mappings"):
            self.problem(
                where, "no [[models.mappings]]: a model needs at least one provider to try", *loc
            )
            return None
        raw_mappings = values.get("mappings", [])  # absent: wrongly typed, reported
        mappings = [
            m
            for m_index, item in enumerate(raw_mappings)
            if (m := self.mapping(item, (*loc, "mappings", m_index), where, providers))
        ]
        if not mappings:
            return None
        return ModelConfig(name, tuple(sorted(mappings, key=lambda m: m.priority)))

    def mapping(
        self, raw: object, loc: tuple[Any, ...], model_where: str, providers: set[str]
    ) -> ModelMapping | None:
        where = f"{model_where} mapping {loc[-1] + 1}"
        entries = self.entries(ModelMapping, raw, loc, where)
        if entries is None:
            return None
        values = self.read(entries, where)
        provider = values.get("provider")
        if provider is None or "actual_model" not in values:
            return None  # reported
        if provider not in providers:
            if provider not in self.declared_providers:
                self.problem(
                    where,
                    f"provider {quoted(provider)} is not defined "
                    f"(defined: {names(list(self.declared_providers))})",
                    *loc,
                    "provider",
                )
            return None
        values.setdefault("priority", loc[-1] + 1)
        return ModelMapping(**values)

    # -- [router] ----------------------------------------------------------------------------

    def check_routes(self, config: Config) -> None:
        router = config.router
        known = self.declared_models | {n for p in config.providers for n in p.models}
        listed = names(sorted(known))
        for route in RouterConfig.ROUTES:
            value = getattr(router, route)
            if value is not None and value not in known:
                self.problem(
                    f"[router] {route}",
                    f"model {quoted(value)} is not defined (defined: {listed})",
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
        if not known:
            self.problem("[[models]]", "no models defined: requests would have nowhere to go")


def _named(kind: str, index: int, name: object) -> str:
    """`[[providers]] "zai"`, or `[[providers]] #2` while it has no usable name."""
    if isinstance(name, str) and name.strip():
        return f"{kind} {quoted(name)}"
    return f"{kind} #{index + 1}"


def parse_config(
    text: str, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    return _Loader(path, text, os.environ if env is None else env).load()


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigNotFound(path) from None
    except OSError as err:
        raise ConfigError([ConfigProblem(path, None, "", f"cannot read the file: {err}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        message = f"not UTF-8 text (byte 0x{data[err.start]:02x}): save the file as UTF-8"
        raise ConfigError([ConfigProblem(path, line, "", message)]) from None
    return parse_config(text, path, env)
