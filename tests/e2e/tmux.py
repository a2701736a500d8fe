"""`python -m ccm_tui ...` in a detached tmux session of a given size: keys pressed, the
screen read back, the exit status kept.

Everything it writes goes to a temporary HOME and XDG dirs, never the real ones. Each
session gets its own tmux server (`-L`), so a user's tmux is never touched.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def require_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("CCM_REQUIRE_E2E"):
            pytest.fail("tmux is required (CCM_REQUIRE_E2E is set) but not installed")
        pytest.skip("tmux not installed: the terminal end-to-end tests need it")
    return tmux


class Terminal:
    def __init__(
        self,
        tmux: str,
        root: Path,
        width: int,
        height: int,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        name: str = "ccm",
    ) -> None:
        self.tmux = tmux
        self.socket = f"ccm-e2e-{uuid.uuid4().hex[:8]}"
        self.home = root / "home"
        self.state = root / "state"
        self.exit_file = root / f"exit-status-{name}"
        self.exit_file.unlink(missing_ok=True)
        dirs = {
            "HOME": self.home,
            "XDG_CONFIG_HOME": root / "config",
            "XDG_STATE_HOME": self.state,
            "XDG_DATA_HOME": root / "data",
            "XDG_CACHE_HOME": root / "cache",
        }
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        assigned = {**{k: str(v) for k, v in dirs.items()}, **(env or {})}
        env_words = " ".join(f"{k}={shlex.quote(v)}" for k, v in assigned.items())
        program = shlex.join([sys.executable, "-m", "ccm_tui", *args])
        script = f"{program}; echo EXIT=$? > {shlex.quote(str(self.exit_file))}"
        # COLUMNS/LINES (pytest's own, 80x24) would override the size of the tmux window.
        unset = "-u COLUMNS -u LINES -u CLAUDE_CONFIG_DIR -u TMUX"
        command = f"env {unset} {env_words} sh -c {shlex.quote(script)}"
        self.run(
            "new-session", "-d", "-s", "ccm", "-x", str(width), "-y", str(height),
            "-c", str(REPO), command,
            # keep the last screen (a traceback, say) after the program ends
            ";", "set-option", "-g", "remain-on-exit", "on",
            # escape reaches the app at once, not after tmux's wait for a sequence
            ";", "set-option", "-s", "escape-time", "0",
        )  # fmt: skip
        size = "#{window_width}x#{window_height}"
        self.size = self.run("display-message", "-p", "-t", "ccm", size)
        self.socket_path = Path(self.run("display-message", "-p", "#{socket_path}").strip())

    @property
    def log(self) -> Path:
        return self.state / "ccm-tui" / "ccm-tui.log"

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.tmux, "-L", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "ccm")

    def scrollback(self) -> str:
        """The screen and what scrolled off it: what the program printed after the TUI."""
        return self.run("capture-pane", "-p", "-J", "-t", "ccm", "-S", "-200")

    def press(self, *keys: str) -> None:
        self.run("send-keys", "-t", "ccm", *keys)

    def hang_up(self) -> None:
        """Closes the terminal as a dropped SSH session does: SIGHUP to what runs in it."""
        self.run("kill-session", "-t", "ccm")

    def wait_for(self, condition: Callable[[str], object], what: str, timeout: float = 20) -> str:
        """Polls the screen until `condition(screen)` holds; fails showing what was there."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if self.exit_file.exists() or time.monotonic() > deadline:
                tail = self.log.read_text()[-2000:] if self.log.exists() else "(no log)"
                ended = self.exit_file.read_text() if self.exit_file.exists() else "running"
                raise AssertionError(
                    f"waited for {what}; program {ended.strip()}; {self.size.strip()} screen:\n"
                    f"{text}\nlog:\n{tail}"
                )
            time.sleep(0.2)

    def wait_exit(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while not self.exit_file.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not exit; screen:\n{self.screen()}")
            time.sleep(0.1)
        match = re.search(r"EXIT=(\d+)", self.exit_file.read_text())
        assert match, self.exit_file.read_text()
        return int(match.group(1))

    def quit(self, answer: str = "y") -> int:
        """q, and `answer` if it asks (requests may be in flight); the exit status."""
        self.press("q")
        deadline = time.monotonic() + 15
        while not self.exit_file.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"no exit after q; screen:\n{self.screen()}")
            if "Quit anyway?" in self.screen():
                self.press(answer)
                break
            time.sleep(0.1)
        return self.wait_exit()

    def close(self) -> None:
        self.run("kill-server")
        if self.socket_path.name == self.socket:  # tmux leaves its socket file behind
            self.socket_path.unlink(missing_ok=True)
