"""`ccm-tui demo` as a newcomer runs it: in tmux, keys pressed, the screen read back.

Everything the demo writes goes to a temporary HOME and XDG dirs, never the real ones.
Each run gets its own tmux server (`-L`), so a user's tmux is never touched.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN_ROW = re.compile(r"claude-max +claude-max ")  # the demo's token, used by that provider
COUNTDOWN = re.compile(r"\b(\d+h \d\dm \d\ds|\d+m \d\ds|\d+s)\b")


def require_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("CCM_REQUIRE_E2E"):
            pytest.fail("tmux is required (CCM_REQUIRE_E2E is set) but not installed")
        pytest.skip("tmux not installed: the terminal end-to-end tests need it")
    return tmux


class Demo:
    """`python -m ccm_tui demo` in a detached tmux session of a given size."""

    def __init__(self, tmux: str, root: Path, width: int, height: int) -> None:
        self.tmux = tmux
        self.socket = f"ccm-e2e-{uuid.uuid4().hex[:8]}"
        self.home = root / "home"
        self.state = root / "state"
        self.exit_file = root / "exit-status"
        dirs = {
            "HOME": self.home,
            "XDG_CONFIG_HOME": root / "config",
            "XDG_STATE_HOME": self.state,
            "XDG_DATA_HOME": root / "data",
            "XDG_CACHE_HOME": root / "cache",
        }
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        env = " ".join(f"{name}={shlex.quote(str(path))}" for name, path in dirs.items())
        demo = f"{shlex.quote(sys.executable)} -m ccm_tui demo"
        script = f"{demo}; echo EXIT=$? > {shlex.quote(str(self.exit_file))}"
        # COLUMNS/LINES (pytest's own, 80x24) would override the size of the tmux window.
        unset = "-u COLUMNS -u LINES -u CLAUDE_CONFIG_DIR -u TMUX"
        command = f"env {unset} {env} sh -c {shlex.quote(script)}"
        self.run(
            "new-session", "-d", "-s", "demo", "-x", str(width), "-y", str(height),
            "-c", str(REPO), command,
            # keep the last screen (a traceback, say) after the demo ends
            ";", "set-option", "-g", "remain-on-exit", "on",
            # escape reaches the app at once, not after tmux's wait for a sequence
            ";", "set-option", "-s", "escape-time", "0",
        )  # fmt: skip
        self.size = self.run(
            "display-message", "-p", "-t", "demo", "#{window_width}x#{window_height}"
        )
        self.socket_path = Path(self.run("display-message", "-p", "#{socket_path}").strip())

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.tmux, "-L", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return result.stdout

    @property
    def config(self) -> Path:
        return self.state / "ccm-tui" / "demo" / "config.toml"

    @property
    def token_store(self) -> Path:
        return self.state / "ccm-tui" / "demo" / "oauth_tokens.json"

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo")

    def press(self, *keys: str) -> None:
        self.run("send-keys", "-t", "demo", *keys)

    def wait_for(self, condition: Callable[[str], object], what: str, timeout: float = 20) -> str:
        """Polls the screen until `condition(screen)` holds; fails showing what was there."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if self.exit_file.exists() or time.monotonic() > deadline:
                log = self.state / "ccm-tui" / "ccm-tui.log"
                tail = log.read_text()[-2000:] if log.exists() else "(no log)"
                ended = self.exit_file.read_text() if self.exit_file.exists() else "running"
                raise AssertionError(
                    f"waited for {what}; demo {ended.strip()}; {self.size.strip()} screen:\n"
                    f"{text}\nlog:\n{tail}"
                )
            time.sleep(0.2)

    def quit(self) -> int:
        """q, and y if it asks (requests are nearly always in flight); the exit status."""
        self.press("q")
        deadline = time.monotonic() + 15
        answered = False
        while not self.exit_file.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"the demo did not exit after q; screen:\n{self.screen()}")
            if not answered and "Quit anyway?" in self.screen():
                self.press("y")
                answered = True
            time.sleep(0.1)
        match = re.search(r"EXIT=(\d+)", self.exit_file.read_text())
        assert match, self.exit_file.read_text()
        return int(match.group(1))

    def close(self) -> None:
        self.run("kill-server")
        if self.socket_path.name == self.socket:  # tmux leaves its socket file behind
            self.socket_path.unlink(missing_ok=True)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Callable[[int, int], Demo]]:
    tmux = require_tmux()
    started: list[Demo] = []

    def start(width: int, height: int) -> Demo:
        session = Demo(tmux, tmp_path, width, height)
        started.append(session)
        return session

    yield start
    for session in started:
        session.close()


def line_with(text: str, word: str | re.Pattern[str]) -> str:
    """The first line with `word` in it (or matching it), else ""."""
    for line in text.splitlines():
        if word.search(line) if isinstance(word, re.Pattern) else word in line:
            return line
    return ""


@pytest.mark.timeout(60)
def test_demo_at_80x24_runs_switches_a_key_and_quits_with_0(demo):
    d = demo(80, 24)
    # At 80 columns a failover chain is cut at its start: where it ended stays in sight.
    d.wait_for(lambda s: "max ✗400 → " in s, "rows with the Claude-Code-only refusal")

    d.press("2")
    d.wait_for(lambda s: "scope×" in line_with(s, "claude-max"), "claude-max's scope failures")

    before = d.config.read_text()
    d.press("k")
    d.wait_for(lambda s: "derived" in line_with(s, "claude-max"), "claude-max on its derived key")
    saved = d.config.read_text()
    assert tomllib.loads(saved)["providers"][0]["use_derived_key"] is True
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert comments and comments == [
        line for line in saved.splitlines() if line.lstrip().startswith("#")
    ]

    d.press("3")
    tokens = d.wait_for(
        lambda s: COUNTDOWN.search(line_with(s, TOKEN_ROW)) and "sk-ant-api03-…" in s,
        "a ticking countdown and the derived key, masked",
    )
    left = COUNTDOWN.search(line_with(tokens, TOKEN_ROW)).group(1)  # type: ignore[union-attr]
    d.wait_for(lambda s: left not in line_with(s, TOKEN_ROW), "the countdown to tick")
    store = json.loads(d.token_store.read_text())
    raw = [v["api_key"] for v in store.values() if v.get("api_key")]
    assert raw and not any(key in tokens for key in raw)

    d.press("?")
    d.wait_for(lambda s: "app.request_quit" in s and "Keys" in s, "the help")
    d.press("Escape")
    d.wait_for(lambda s: "app.request_quit" not in s and "Credential" in s, "help closed")

    assert d.quit() == 0


@pytest.mark.timeout(60)
def test_demo_at_200x60_shows_every_pane_at_once(demo):
    d = demo(200, 60)
    screen = d.wait_for(
        lambda s: "claude-max ✗400" in s and COUNTDOWN.search(line_with(s, TOKEN_ROW)),
        "requests and a token countdown",
    )
    for title in ("Requests", "Detail", "Providers", "Tokens"):
        assert f"─ {title} ─" in screen, title
    assert "scope×" in screen  # the providers pane, beside the requests
    assert "Req" in screen and "Credential" in screen
    assert d.quit() == 0


def cells_of(screen: str, label: str, after: str) -> list[str]:
    """The cells of the requests column `label` (up to column `after`) on each row."""
    lines = screen.splitlines()
    header = next((line for line in lines if f" {label} " in line and f" {after} " in line), "")
    if not header:
        return []
    start, end = header.index(f" {label} ") + 1, header.index(f" {after} ") + 1
    rows = lines[lines.index(header) + 1 :]
    return [line[start:end].strip() for line in rows if re.match(r"[│ ]+\d\d:\d\d:\d\d ", line)]


@pytest.mark.timeout(60)
def test_demo_at_200x60_shows_model_and_provider_whole(demo):
    d = demo(200, 60)
    screen = d.wait_for(
        lambda s: (
            "claude-max ✗400 → flaky ✗529 → zai" in s and len(cells_of(s, "Model", "St")) >= 10
        ),
        "ten rows, one of a request failed over twice",
    )
    models = cells_of(screen, "Model", "Provider")
    providers = cells_of(screen, "Provider", "St")
    assert len(models) >= 10 and len(providers) == len(models)
    assert not [m for m in models if "…" in m], models
    assert not [p for p in providers if "…" in p], providers
    assert "claude-sonnet-4-5→glm-4.6" in models
    assert "claude-max ✗400 → flaky ✗529 → zai" in providers
    assert d.quit() == 0
