"""`ccm-tui demo` as a newcomer runs it: in tmux, keys pressed, the screen read back."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.tmux import Terminal, require_tmux

TOKEN_ROW = re.compile(r"claude-max +claude-max ")  # the demo's token, used by that provider
COUNTDOWN = re.compile(r"\b(\d+h \d\dm \d\ds|\d+m \d\ds|\d+s)\b")


class Demo(Terminal):
    """`python -m ccm_tui demo` in a detached tmux session of a given size."""

    def __init__(self, tmux: str, root: Path, width: int, height: int) -> None:
        super().__init__(tmux, root, width, height, ["demo"])

    @property
    def config(self) -> Path:
        return self.state / "ccm-tui" / "demo" / "config.toml"

    @property
    def token_store(self) -> Path:
        return self.state / "ccm-tui" / "demo" / "oauth_tokens.json"


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
        lambda s: (
            "claude-max ✗400" in s
            and COUNTDOWN.search(line_with(s, TOKEN_ROW))
            and "scope×" in s  # the providers pane, beside the requests, once it failed
        ),
        "requests, a token countdown and claude-max's scope failures",
    )
    for title in ("Requests", "Detail", "Providers", "Tokens"):
        assert f"─ {title} ─" in screen, title
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
