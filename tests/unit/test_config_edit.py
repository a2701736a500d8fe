"""set_provider_option: one key of one provider changes; comments, layout and mode stay."""

from __future__ import annotations

import os
import stat

import pytest
import tomlkit

from ccm_tui import atomicfile
from ccm_tui.config import load_config, set_provider_option

EDITABLE = """\
# my providers, hand-written
[server]
host = "127.0.0.1"   # loopback

[[providers]]
name = "claude-max"        # my subscription
provider_type = "anthropic"
auth_type = "oauth"
use_derived_key = false    # flipped by the TUI
enabled = true

# The backup: an API key, used when the subscription is rate limited.
[[providers]]
name = "backup"
provider_type = "anthropic"
api_key = "$ANTHROPIC_API_KEY"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "claude-max"
actual_model = "claude-sonnet-4-5"
"""


def test_set_provider_option_changes_only_that_value_keeping_comments_and_layout(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")

    set_provider_option(path, "claude-max", "use_derived_key", True)

    expected = EDITABLE.replace(
        "use_derived_key = false    # flipped by the TUI",
        "use_derived_key = true    # flipped by the TUI",
    )
    assert path.read_bytes() == expected.encode()


def test_set_provider_option_adds_a_missing_key_to_that_provider_only(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")

    set_provider_option(path, "claude-max", "auto_derive_api_key", True)

    after = path.read_text(encoding="utf-8")
    added = [line for line in after.splitlines() if line not in EDITABLE.splitlines()]
    assert added == ["auto_derive_api_key = true"]
    # Every original byte is still there, in order: only that line was inserted.
    assert after.replace("auto_derive_api_key = true\n", "", 1) == EDITABLE
    providers = tomlkit.parse(after)["providers"]
    assert providers[0]["auto_derive_api_key"] is True
    assert "auto_derive_api_key" not in providers[1]


def test_set_provider_option_puts_an_added_key_with_the_providers_other_keys(tmp_path):
    # Not after the comment that introduces the next [[providers]] table.
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")

    set_provider_option(path, "claude-max", "auto_derive_api_key", True)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[lines.index("enabled = true") + 1] == "auto_derive_api_key = true"


def test_set_provider_option_result_still_loads(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")
    set_provider_option(path, "claude-max", "use_derived_key", True)
    config = load_config(path, env={"ANTHROPIC_API_KEY": "k"})
    provider = config.provider("claude-max")
    assert provider is not None
    assert provider.use_derived_key is True


def test_set_provider_option_replaces_the_file_by_rename_keeping_its_mode(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")
    path.chmod(0o640)
    inode_before = path.stat().st_ino

    set_provider_option(path, "backup", "enabled", False)

    assert path.stat().st_ino != inode_before  # a new file renamed over, not rewritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
    assert tomlkit.parse(path.read_text())["providers"][1]["enabled"] is False


def test_set_provider_option_that_fails_to_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomicfile.os, "replace", refuse)
    with pytest.raises(OSError):
        set_provider_option(path, "claude-max", "use_derived_key", True)

    assert path.read_text(encoding="utf-8") == EDITABLE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_set_provider_option_for_an_unknown_provider_raises_and_leaves_the_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EDITABLE, encoding="utf-8")
    mtime = os.stat(path).st_mtime_ns
    with pytest.raises(KeyError, match="nobody"):
        set_provider_option(path, "nobody", "enabled", False)
    assert path.read_text(encoding="utf-8") == EDITABLE
    assert os.stat(path).st_mtime_ns == mtime
