"""How a config key is declared: once, in the metadata of the dataclass field it fills.

`ServerConfig.port` says in one place that `[server] port` exists, what it must be and
how it is checked; the loader reads every table from these declarations, and a test holds
the README's reference to them. Adding a key is adding a field:

    allowed_hosts: tuple[str, ...] = field(default=(), metadata=key("a list of host names",
                                                                       list, check=...))
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

_METADATA = "ccm_tui.config"


class Invalid(ValueError):
    """A value of the right TOML type that is still wrong; the message says what was expected."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""What a check returns for "as if the key were not there": the field keeps its default."""

Check = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a table. `name` and `attr` are filled in by `keys_of`."""

    expected: str  # completes "expected …, found …"
    types: tuple[type, ...] = (str,)  # the TOML types accepted (bool is never an int here)
    check: Check | None = None  # converts a well-typed value, or raises Invalid
    required: bool = False
    env: bool = False  # "$VAR" and "${VAR}" come from the environment
    table: type | None = None  # a sub-table, read into this dataclass
    many: type | None = None  # an array of tables, each read into this dataclass
    name: str = ""  # as written in the file (default: the field's name)
    attr: str = ""  # the dataclass field


def key(
    expected: str,
    *types: type,
    name: str = "",
    check: Check | None = None,
    required: bool = False,
    env: bool = False,
) -> Mapping[str, Key]:
    """Field metadata declaring a key (`types` default to a string)."""
    return {_METADATA: Key(expected, types or (str,), check, required, env, None, None, name)}


def table(cls: type, name: str = "") -> Mapping[str, Key]:
    """Field metadata declaring a sub-table such as `[server.timeouts]`."""
    return {_METADATA: Key("a table", (dict,), table=cls, name=name)}


def tables(cls: type, name: str = "") -> Mapping[str, Key]:
    """Field metadata declaring an array of tables such as `[[providers]]`."""
    return {_METADATA: Key("an array of tables", (list,), many=cls, name=name)}


@functools.cache
def keys_of(cls: type) -> Mapping[str, Key]:
    """The keys `cls` is read from, by their name in the file, in declaration order."""
    found: dict[str, Key] = {}
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_METADATA)
        if declared is not None:
            name = declared.name or f.name
            found[name] = dataclasses.replace(declared, name=name, attr=f.name)
    return found


def ignored_keys(cls: type) -> frozenset[str]:
    """Keys claude-code-mux understands that ccm-tui accepts and ignores there."""
    ignored: frozenset[str] = getattr(cls, "IGNORED_KEYS", frozenset())
    return ignored
