"""Config texts and helpers shared by the config tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.config import ConfigError, ConfigProblem, parse_config

# A minimal valid config to which single mistakes are added.
BASE = """\
[router]
default = "sonnet"

[[providers]]
name = "primary"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "sk-ant-api03-primary"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "primary"
actual_model = "claude-sonnet-4-5"
"""

PATH = Path("/etc/ccm-tui/config.toml")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the `occurrence`-th `needle`."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def problems_of(text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, PATH, env={} if env is None else env)
    return info.value.problems


def errors_of(text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    return [p for p in problems_of(text, env) if not p.warning]


def only(problems: list[ConfigProblem], where: str) -> ConfigProblem:
    matching = [p for p in problems if where in p.where]
    assert len(matching) == 1, [str(p) for p in problems]
    return matching[0]
