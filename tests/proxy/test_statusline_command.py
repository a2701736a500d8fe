"""The statusline command as Claude Code runs it: a process, against a real proxy's state."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator

import anthropic
import pytest

from support import HELLO, two_provider_config


async def run_statusline(url: str, **env: str) -> tuple[str, float]:
    """Runs `python -m ccm_tui.statusline` with stdin as Claude Code gives it; its line and
    how long it took."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccm_tui.statusline",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CCM_TUI_URL": url, **env},
    )  # fmt: skip
    out, err = await process.communicate(b'{"session_id":"s","model":{"display_name":"Opus"}}')
    assert process.returncode == 0 and err == b""
    return out.decode(), time.perf_counter() - started


@pytest.fixture
async def status_url(sim, make_proxy) -> AsyncIterator[tuple[str, object]]:
    """A real proxy with a key; the command asks its `/_ccm/status`."""
    proxy = await make_proxy(two_provider_config(sim, api_key='"the-key"'))
    yield proxy.url, proxy


async def test_the_command_prints_the_provider_that_answered(status_url, sim):
    url, proxy = status_url
    sim.scenario("primary", status=529)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="the-key", max_retries=0)
    await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    line, _ = await run_statusline(url, CCM_TUI_KEY="the-key")
    assert line.endswith("\n") and line.count("\n") == 1
    assert line.strip() == "ccm secondary │ 1 of 2 failed/1m"


async def test_the_command_says_the_proxy_wants_its_key(status_url):
    url, _ = status_url
    line, _ = await run_statusline(url)
    assert line.strip() == "ccm-tui: the proxy wants its key (CCM_TUI_KEY, or [server] api_key)"


async def test_with_no_proxy_running_it_says_so_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line, elapsed = await run_statusline(f"http://127.0.0.1:{port}")
    assert line.strip() == f"ccm-tui: not running on 127.0.0.1:{port}"
    assert elapsed < 5  # a process start; it did not wait out a timeout


async def test_a_proxy_that_never_answers_does_not_hang_it():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts connections (the kernel does), never answers
        port = listener.getsockname()[1]
        line, elapsed = await run_statusline(f"http://127.0.0.1:{port}")
    assert line.strip() == f"ccm-tui: no answer from 127.0.0.1:{port}"
    assert elapsed < 5


async def test_something_else_on_the_port_gets_a_short_line_not_a_traceback():
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # (closing before it is read would reset it)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        line, _ = await run_statusline(f"http://127.0.0.1:{port}")
    assert line.strip() == f"ccm-tui: 127.0.0.1:{port} answered nothing"
