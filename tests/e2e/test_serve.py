"""`ccm-tui serve` as a user runs it: a real process, real clients, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import anthropic
import httpx
import pytest

from e2e.procs import CCM, claude_print, config_for, free_port, serve_process, sim_process

ENV = {"CCM_TEST_KEY": "sk-ant-api03-e2e-secret-key-abcdefghijklmnop"}


@pytest.fixture
def stack(tmp_path: Path):
    with sim_process() as sim_url:
        config = tmp_path / "config.toml"
        config.write_text(config_for(sim_url))
        with serve_process(config, free_port(), ENV) as (url, proc):
            yield sim_url, url, proc


def test_serve_answers_through_a_failing_first_provider(stack):
    sim_url, url, proc = stack
    httpx.put(f"{sim_url}/_sim/scenario/claude-max", json={"status": 529}).raise_for_status()
    client = anthropic.Anthropic(base_url=url, api_key="anything", max_retries=0)
    reply = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.content[0].text == "Hello from zai."
    state = httpx.get(url + "/_ccm/state").json()
    assert state["providers"]["claude-max"]["counts"] == {"overloaded": 1}
    assert state["providers"]["zai"]["counts"] == {"ok": 1}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    log = proc.stderr.read()
    assert "claude-max ✗529 → zai" in log
    assert ENV["CCM_TEST_KEY"] not in log


def test_serve_exits_nonzero_with_a_readable_message_on_a_bad_config(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[server]\nport = 'nope'\n")
    result = subprocess.run(
        [*CCM, "serve", "--config", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "line 2" in result.stderr and "[server] port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_public_address_without_a_key(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(config_for("http://127.0.0.1:9"))
    result = subprocess.run(
        [*CCM, "serve", "--config", str(config), "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True, text=True, timeout=30, env={**os.environ, **ENV},
    )  # fmt: skip
    assert result.returncode == 1
    assert "server.api_key" in result.stderr


def test_claude_code_cli_prints_the_upstream_answer_through_ccm(stack):
    sim_url, url, _ = stack
    httpx.put(f"{sim_url}/_sim/scenario/claude-max", json={"status": 529}).raise_for_status()
    result = claude_print(url)
    assert result.returncode == 0, result.stderr
    assert "Hello from zai." in result.stdout
    state = httpx.get(url + "/_ccm/state").json()
    assert state["providers"]["claude-max"]["counts"].get("overloaded", 0) >= 1
    request = next(r for r in state["requests"] if r["path"] == "/v1/messages")
    assert request["user_agent"].startswith("claude-cli/")
