"""Edits config.toml in place: one key of one provider, every comment and the layout kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from ccm_tui.atomicfile import atomic_write_text
from ccm_tui.config.problems import quoted
from ccm_tui.paths import display


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
        raise KeyError(f"provider {quoted(provider)} is not in {display(path)}")
    atomic_write_text(path, tomlkit.dumps(doc))


def _add_before_trailing_comments(table: Any, key: str, value: Any) -> None:
    """tomlkit appends after the comments that introduce the next table; keep them there."""
    body = table.value.body
    trailing = []
    while body and body[-1][0] is None:
        trailing.append(body.pop())
    table[key] = value
    body.extend(reversed(trailing))
