"""Real processes for end-to-end tests: the simulator and `ccm-tui serve`, on loopback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CCM = [sys.executable, "-m", "ccm_tui"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sim_process() -> Iterator[str]:
    """`python -m ccm_tui.sim --port 0`; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui.sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"(http://\S+)", line)
        assert match, (
            f"simulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"ccm-tui exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("ccm-tui serve did not answer /health in time")


@contextmanager
def serve_process(
    config: Path, port: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [*CCM, "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)


def claude_print(base_url: str, prompt: str = "say hi") -> subprocess.CompletedProcess[str]:
    """`claude -p PROMPT` against `base_url`, as a new user runs it: a fresh HOME, no
    telemetry. The CLI is $CCM_CLAUDE_BIN (set by .ci/run), else `claude` on PATH; without
    it the test is skipped, or fails where CCM_REQUIRE_E2E says it must run."""
    import pytest

    binary = os.environ.get("CCM_CLAUDE_BIN") or shutil.which("claude")
    if binary is None:
        if os.environ.get("CCM_REQUIRE_E2E"):
            pytest.fail("the Claude Code CLI is required (CCM_CLAUDE_BIN) but missing")
        pytest.skip("Claude Code CLI not installed (.ci/run installs it)")
    with tempfile.TemporaryDirectory() as home:
        return subprocess.run(
            [binary, "-p", prompt],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=home,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": home,
                "ANTHROPIC_BASE_URL": base_url,
                "ANTHROPIC_API_KEY": "sk-ant-api03-client-placeholder",
                "DISABLE_TELEMETRY": "1",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_AUTOUPDATER": "1",
            },
        )


def config_for(sim_url: str, first_fault: str = "") -> str:
    return f"""
[server]
host = "127.0.0.1"

[router]
default = "sonnet"

[[providers]]
name = "claude-max"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "$CCM_TEST_KEY"
base_url = "{sim_url}/p/claude-max"

[[providers]]
name = "zai"
provider_type = "z.ai"
auth_type = "apikey"
api_key = "zai-key-0123456789"
base_url = "{sim_url}/p/zai"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "claude-max"
actual_model = "claude-sonnet-4-5-20250929"
[[models.mappings]]
priority = 2
provider = "zai"
actual_model = "glm-4.6"
"""
