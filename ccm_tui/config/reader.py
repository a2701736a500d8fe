"""Reads TOML tables by their declared keys, collecting every problem instead of stopping.

One mistake, one message: a misspelt key (`provder_type`) is reported once, as an error
with the key it most likely means, and then read as that key, so nothing that depends on
it ("provider_type is missing", "unknown provider type") follows from the same typo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccm_tui.config.checks import did_you_mean
from ccm_tui.config.locate import Locator
from ccm_tui.config.problems import ConfigProblem, shown, shown_key
from ccm_tui.config.schema import UNSET, Invalid, Key, ignored_keys, keys_of

_ENV_REF = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


@dataclass(slots=True)
class Entries:
    """A table's keys, typos renamed to the key they misspell, and the keys nobody knows."""

    cls: type
    table: dict[str, Any]
    loc: tuple[Any, ...]
    typos: list[tuple[str, str]] = field(default_factory=list)  # (as written, meant)
    unknown: list[tuple[str, Any]] = field(default_factory=list)


class Reader:
    def __init__(self, path: Path | None, text: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.text = text
        self.env = env
        self.problems: list[ConfigProblem] = []
        self._locator: Locator | None = None  # built for the first problem, if any
        self._written: dict[tuple[Any, ...], str] = {}  # path of a renamed typo → as written

    def problem(self, where: str, message: str, *loc: Any, warning: bool = False) -> None:
        self.problems.append(ConfigProblem(self.path, self._line(loc), where, message, warning))

    def _line(self, loc: tuple[Any, ...]) -> int | None:
        if self._locator is None:
            self._locator = Locator(self.text)
        return self._locator.line(*self._as_written(loc))

    def _as_written(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        """`loc` with each key a typo was read as spelt as in the file."""
        path: tuple[Any, ...] = ()
        written: tuple[Any, ...] = ()
        for part in loc:
            path = (*path, part)
            written = (*written, self._written.get(path, part))
        return written

    # -- tables ------------------------------------------------------------------------------

    def entries(self, cls: type, raw: object, loc: tuple[Any, ...], where: str) -> Entries | None:
        """`raw` as a table of `cls`'s keys; None (reported) when it is not a table."""
        if not isinstance(raw, Mapping):
            self.problem(where, f"expected a table, found {shown(raw)}", *loc)
            return None
        known = keys_of(cls)
        ignored = ignored_keys(cls)
        absent = [name for name in known if name not in raw]
        entries = Entries(cls, {}, loc)
        for name, value in raw.items():
            if name in known or name in ignored:
                entries.table[name] = value
                continue
            meant = did_you_mean(name, absent)
            if meant is None:
                entries.unknown.append((name, value))
                continue
            absent.remove(meant)
            entries.table[meant] = value
            entries.typos.append((name, meant))
            self._written[(*loc, meant)] = name
        return entries

    def read(self, entries: Entries, where: str, *, env_required: bool = True) -> dict[str, Any]:
        """The fields `entries` fill, by attribute; a wrong value is reported and left out."""
        loc = entries.loc
        for written, meant in entries.typos:
            label = _label(where, written, entries.table[meant])
            self.problem(label, f"unknown key; did you mean `{meant}`?", *loc, written)
        known = ", ".join(keys_of(entries.cls))
        for name, value in entries.unknown:
            label = _label(where, name, value)
            self.problem(label, f"unknown key (known: {known})", *loc, name, warning=True)
        values: dict[str, Any] = {}
        for name, spec in keys_of(entries.cls).items():
            if name not in entries.table:
                if spec.required:
                    self.problem(where, f"missing `{name}`: expected {spec.expected}", *loc)
                continue
            label = _at(where, self._as_written((*loc, name))[-1])
            value = self._value(spec, entries.table[name], label, (*loc, name))
            if spec.env and value is not UNSET:
                value = self._resolve_env(value, label, (*loc, name), env_required)
            if spec.check is not None and value is not UNSET:
                try:
                    value = spec.check(value)
                except Invalid as err:
                    self.problem(label, str(err), *loc, name)
                    value = UNSET
            if value is not UNSET:
                values[spec.attr] = value
        return values

    def _value(self, spec: Key, value: Any, where: str, loc: tuple[Any, ...]) -> Any:
        if (isinstance(value, bool) and bool not in spec.types) or not isinstance(
            value, spec.types
        ):
            self.problem(where, f"expected {spec.expected}, found {shown(value)}", *loc)
            return UNSET
        if spec.table is not None:
            return self.section(spec.table, value, loc)
        return value  # an array of tables stays raw: its items are read by the loader

    def section(self, cls: type, raw: object, loc: tuple[Any, ...]) -> Any:
        """A plain table such as `[server.timeouts]`: every key read, defaults for the rest."""
        where = "[" + ".".join(shown_key(part) for part in self._as_written(loc)) + "]"
        entries = self.entries(cls, raw, loc, where)
        return UNSET if entries is None else cls(**self.read(entries, where))

    def _resolve_env(
        self, value: str, where: str, loc: tuple[Any, ...], required: bool
    ) -> str | object:
        """`$VAR` and `${VAR}` from the environment; unset is an error only where required."""
        match = _ENV_REF.match(value.strip())
        if not match:
            return value
        var = match.group(1) or match.group(2)
        resolved = self.env.get(var)
        if resolved is not None:
            return resolved
        if required:
            self.problem(
                where,
                f"environment variable ${var} is not set (export it, or write the value here)",
                *loc,
            )
        return UNSET


def _at(where: str, name: str) -> str:
    return f"{where} {shown_key(name)}" if where else shown_key(name)


def _label(where: str, name: str, value: object) -> str:
    """A key as the file shows it; at the top level a table is `[name]` or `[[name]]`."""
    if where:
        return _at(where, name)
    if isinstance(value, Mapping):
        return f"[{shown_key(name)}]"
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return f"[[{shown_key(name)}]]"
    return shown_key(name)
