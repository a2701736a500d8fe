"""The declared keys are the documented keys, and problems find their lines in any layout."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.config import Config
from ccm_tui.config.locate import Locator
from ccm_tui.config.schema import keys_of

README = Path(__file__).resolve().parents[2] / "README.md"


def reference_block() -> dict[str, Any]:
    """The TOML block of README's "Configuration reference" section."""
    section = README.read_text(encoding="utf-8").split("## Configuration reference", 1)[1]
    return tomllib.loads(section.split("```toml\n", 1)[1].split("```", 1)[0])


def schema_tables(cls: type = Config, path: tuple[str, ...] = ()) -> Iterator[tuple[str, type]]:
    yield ".".join(path) or "top level", cls
    for key in keys_of(cls).values():
        inner = key.table or key.many
        if inner is not None:
            yield from schema_tables(inner, (*path, key.name))


def documented(table_path: str) -> set[str]:
    """Keys the reference shows for a table, over every entry of an array of tables."""
    tables = [reference_block()]
    for part in [] if table_path == "top level" else table_path.split("."):
        found = [t.get(part, {}) for t in tables]
        tables = [
            entry for value in found for entry in (value if isinstance(value, list) else [value])
        ]
    return {key for table in tables for key in table}


TABLES = list(schema_tables())


def test_the_schema_has_every_table_the_loader_reads():
    assert [name for name, _ in TABLES] == [
        "top level", "server", "server.timeouts", "router", "breaker", "providers", "models",
        "models.mappings", "tui", "oauth", "history",
    ]  # fmt: skip


@pytest.mark.parametrize(("table", "cls"), TABLES, ids=[name for name, _ in TABLES])
def test_the_readme_reference_shows_every_declared_key(table, cls):
    assert set(keys_of(cls)) - documented(table) == set()


@pytest.mark.parametrize(("table", "cls"), TABLES, ids=[name for name, _ in TABLES])
def test_the_readme_reference_shows_only_declared_keys(table, cls):
    assert documented(table) - set(keys_of(cls)) == set()


LAYOUT = '''\
[server]
"host" = "127.0.0.1"
note = """
port = 1
[router]
"""
models = [
  "a = b",
  [1],
]
timeouts.api_timeout_ms = 5

[[providers]]
name = "a"

[[providers]]
'name' = "b"
"api\\u005fkey" = "x"  # the escape spells api_key

[[models]]
name = "m"
[[models.mappings]]
provider = "a"
[[models.mappings]]
provider = "b"
[ models . "extra" ]
x = 1
'''


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("server", "host"), 2),
        (("server", "note"), 3),
        (("server", "port"), 1),  # inside a string: not a key, so its table's line
        (("router",), None),  # inside a string: not a table
        (("server", "models"), 7),
        (("server", "timeouts", "api_timeout_ms"), 11),
        (("providers",), 13),
        (("providers", 1, "name"), 17),
        (("providers", 1, "api_key"), 18),
        (("providers", 1, "models"), 16),
        (("models", 0, "mappings", 1, "provider"), 25),
        (("models", 0, "extra", "x"), 27),
    ],
)
def test_the_locator_finds_keys_whatever_their_quoting_and_skips_values(path, line):
    assert Locator(LAYOUT).line(*path) == line
