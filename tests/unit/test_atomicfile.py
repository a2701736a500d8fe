"""atomic_write_bytes: whole or nothing, through symlinks, and no descriptor left open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccm_tui.atomicfile import atomic_write_bytes, atomic_write_text


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_writing_through_a_symlink_updates_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text("old = 1\n")
    real.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(Path("dotfiles") / "config.toml")  # relative, as dotfile managers make them

    atomic_write_text(link, "new = 2\n")

    assert link.is_symlink()
    assert os.readlink(link) == str(Path("dotfiles") / "config.toml")
    assert real.read_text() == "new = 2\n"
    assert real.stat().st_mode & 0o777 == 0o640  # the target's mode is kept
    assert sorted(p.name for p in real.parent.iterdir()) == ["config.toml"]  # no temp left


def test_a_dangling_symlink_gets_its_target_created(tmp_path: Path) -> None:
    link = tmp_path / "oauth_tokens.json"
    link.symlink_to(tmp_path / "elsewhere.json")

    atomic_write_bytes(link, b"{}\n", mode=0o600)

    assert link.is_symlink()
    assert (tmp_path / "elsewhere.json").read_bytes() == b"{}\n"
    assert (tmp_path / "elsewhere.json").stat().st_mode & 0o777 == 0o600


def test_a_failed_chmod_closes_the_temp_file_and_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("old = 1\n")
    before = open_fds()

    with pytest.raises(OverflowError):
        atomic_write_bytes(path, b"new = 2\n", mode=1 << 40)  # fchmod refuses this mode

    assert open_fds() == before
    assert path.read_text() == "old = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
