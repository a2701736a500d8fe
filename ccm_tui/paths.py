"""XDG locations, resolved at call time so tests can point HOME/XDG_* elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

APP = "ccm-tui"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "").strip()
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / APP


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / APP


def demo_dir() -> Path:
    """The demo's own config, tokens and history: never the user's."""
    return state_dir() / "demo"


def default_config_path() -> Path:
    return config_dir() / "config.toml"


def default_token_store_path() -> Path:
    return data_dir() / "oauth_tokens.json"


def user_themes_dir() -> Path:
    return data_dir() / "themes"


def log_path() -> Path:
    return state_dir() / "ccm-tui.log"


def history_path() -> Path:
    return state_dir() / "history.sqlite3"


def claude_code_credentials_path() -> Path:
    """Claude Code's own login file; `$CLAUDE_CONFIG_DIR` moves it."""
    base = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    root = Path(base).expanduser() if base else Path.home() / ".claude"
    return root / ".credentials.json"


def display(path: Path) -> str:
    """A path as a person would type it: `~` for the home directory."""
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)
