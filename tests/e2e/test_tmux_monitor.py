"""`ccm-tui` as a user runs it: the screen in tmux, its proxy a child process that
Claude Code's connections outlive the screen by, unless the user quits on purpose."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from e2e.procs import claude_print, config_for, free_port, sim_process
from e2e.tmux import Terminal, require_tmux

ENV = {"CCM_TEST_KEY": "sk-ant-api03-e2e-secret-key-abcdefghijklmnop"}
KEEPS = re.compile(r"the proxy keeps serving on (http://\S+) \(pid (\d+)\)")


class Setup:
    def __init__(self, tmux: str, root: Path, sim_url: str) -> None:
        self.tmux = tmux
        self.root = root
        self.sim_url = sim_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "config.toml"
        self.config.write_text(config_for(sim_url))
        self.terminals: list[Terminal] = []
        self.kept: list[int] = []  # proxies left serving, stopped at the end

    def ccm_tui(self, *extra: str, width: int = 80, height: int = 24, name: str = "a") -> Terminal:
        args = ["--config", str(self.config), "--port", str(self.port), *extra]
        terminal = Terminal(self.tmux, self.root, width, height, args, ENV, name)
        self.terminals.append(terminal)
        return terminal

    def serving(self) -> bool:
        try:
            return httpx.get(self.url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def proxy_pids(self) -> list[int]:
        """The `serve --monitored` children of this test's ccm-tui (its config names them)."""
        found = subprocess.run(
            ["pgrep", "-f", f"ccm_tui serve --monitored .*--config {self.config}"],
            capture_output=True,
            text=True,
        )
        return [int(pid) for pid in found.stdout.split()]

    def screen_pid(self, terminal: Terminal) -> int:
        shell = int(terminal.run("display-message", "-p", "-t", "ccm", "#{pane_pid}"))
        found = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True)
        return int(found.stdout.split()[0])

    def kept_serving(self, terminal: Terminal) -> tuple[str, int]:
        """What ccm-tui printed on leaving its proxy behind: the URL and pid it names."""
        said = " ".join(terminal.scrollback().split())
        match = KEEPS.search(said)
        assert match, said
        self.kept.append(int(match.group(2)))
        assert f"ccm-tui attach {match.group(1)}" in said and f"kill {match.group(2)}" in said
        return match.group(1), int(match.group(2))

    def close(self) -> None:
        for terminal in self.terminals:
            terminal.close()
        for pid in {*self.kept, *self.proxy_pids()}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    tmux = require_tmux()
    with sim_process() as sim_url:
        ready = Setup(tmux, tmp_path, sim_url)
        try:
            yield ready
        finally:
            ready.close()


def until(condition: Callable[[], object], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited for {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for the user; only its parent (tmux's shell) has yet to reap it.
    status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[-1][:1]
    return status != "Z"


def ask(url: str) -> str:
    client = anthropic.Anthropic(base_url=url, api_key="sk-ant-api03-client", max_retries=0)
    reply = client.messages.create(
        model="sonnet", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    return "".join(block.text for block in reply.content if block.type == "text")


@pytest.mark.timeout(60)
def test_q_stops_the_proxy_it_started(setup):
    t = setup.ccm_tui()
    t.wait_for(lambda s: f"serving {setup.url}" in s, "the status line")
    assert ask(setup.url) == "Hello from claude-max."
    t.wait_for(lambda s: "claude-max" in s and " 200 " in s, "the request on screen")
    assert len(setup.proxy_pids()) == 1  # the proxy is a process of its own
    assert t.quit() == 0
    until(lambda: not setup.serving() and not setup.proxy_pids(), "the proxy to stop")
    assert "keeps serving" not in t.scrollback()


@pytest.mark.timeout(90)
def test_d_leaves_the_proxy_serving_and_a_second_ccm_tui_watches_it(setup):
    t = setup.ccm_tui()
    t.wait_for(lambda s: "d Detach" in s or "…" in s, "the footer")
    t.press("d")
    assert t.wait_exit() == 0
    url, pid = setup.kept_serving(t)
    assert url == setup.url and setup.serving() and setup.proxy_pids() == [pid]
    assert ask(setup.url) == "Hello from claude-max."

    second = setup.ccm_tui(width=120, height=40, name="b")
    screen = second.wait_for(
        lambda s: "already serves" in s and "claude-max" in s, "the greeting and the request"
    )
    assert f"attached to {setup.url}" in screen
    assert "d Detach" not in screen  # not its proxy to leave behind
    assert second.quit() == 0
    assert setup.serving(), "quitting an attached screen must leave the proxy alone"


@pytest.mark.timeout(60)
def test_keep_serving_leaves_the_proxy_when_the_screen_quits(setup):
    t = setup.ccm_tui("--keep-serving")
    t.wait_for(lambda s: f"serving {setup.url}" in s, "the status line")
    assert t.quit() == 0
    setup.kept_serving(t)
    assert setup.serving()


def stream_slowly(url: str, into: list[str]) -> None:
    client = anthropic.Anthropic(base_url=url, api_key="sk-ant-api03-client", max_retries=0)
    with client.messages.stream(
        model="sonnet", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        into.extend(stream.text_stream)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ending", ["kill -9 of the screen", "the terminal closed"])
def test_a_stream_outlives_the_screen_however_it_ends(setup, ending):
    scenario = {"event_interval_ms": 400, "output_chunks": 8}
    httpx.put(f"{setup.sim_url}/_sim/scenario/claude-max", json=scenario).raise_for_status()
    t = setup.ccm_tui()
    t.wait_for(lambda s: f"serving {setup.url}" in s, "the status line")
    [proxy] = setup.proxy_pids()
    screen = setup.screen_pid(t)
    text: list[str] = []
    streaming = threading.Thread(target=stream_slowly, args=(setup.url, text))
    streaming.start()
    t.wait_for(lambda s: "1 live" in s, "the stream in flight")
    if ending == "kill -9 of the screen":
        os.kill(screen, signal.SIGKILL)
    else:
        t.hang_up()
    until(lambda: not alive(screen), "the screen to end")
    streaming.join(30)
    assert "".join(text) == "Hello from claude-max."
    assert setup.proxy_pids() == [proxy] and setup.serving()  # left for `ccm-tui attach`
    setup.kept.append(proxy)


@pytest.mark.timeout(60)
def test_an_idle_proxy_stops_with_its_closed_terminal(setup):
    t = setup.ccm_tui()
    t.wait_for(lambda s: f"serving {setup.url}" in s, "the status line")
    screen = setup.screen_pid(t)
    t.hang_up()
    until(lambda: not setup.serving() and not setup.proxy_pids(), "the proxy to stop")
    until(lambda: not alive(screen), "the screen to end")


@pytest.mark.timeout(60)
def test_a_port_held_by_something_else_is_one_clear_message(setup):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", setup.port))
        holder.listen()
        t = setup.ccm_tui()
        assert t.wait_exit() == 1
        said = t.scrollback()
    assert f"port {setup.port} on 127.0.0.1 is already in use" in " ".join(said.split())
    assert "(log: " in said and "Traceback" not in said


@pytest.mark.timeout(150)
def test_claude_code_prints_the_upstream_answer_through_ccm_tui_and_it_is_on_screen(setup):
    t = setup.ccm_tui(width=120, height=40)
    t.wait_for(lambda s: f"serving {setup.url}" in s, "the status line")
    result = claude_print(setup.url)
    assert result.returncode == 0, result.stderr
    assert "Hello from claude-max." in result.stdout
    t.wait_for(lambda s: "claude-max" in s and " 200 " in s, "Claude Code's request on screen")
    assert t.quit() == 0
