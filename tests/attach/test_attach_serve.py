"""Attaching to a real `ccm-tui serve` process: it goes away, comes back, or wants a key."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anthropic
import pytest
from attach_helpers import PROXY_KEY

from ccm_tui.events import ConnectionChanged, Level, Notice, RequestFinished, SnapshotLoaded
from ccm_tui.sim import Simulator

from e2e.procs import config_for, free_port, serve_process
from support import HELLO

ENV = {"CCM_TEST_KEY": "sk-ant-api03-attach-secret-key-abcdefghijkl"}


@pytest.fixture
def config(sim: Simulator, tmp_path: Path) -> Path:
    """A serve config that wants PROXY_KEY, with both providers on the in-process simulator;
    without history, so a restarted serve starts empty (tests/proxy/test_history_gateway.py
    has the restart that keeps it)."""
    text = (
        config_for(sim.base_url).replace(
            'host = "127.0.0.1"\n', f'host = "127.0.0.1"\napi_key = "{PROXY_KEY}"\n', 1
        )
        + "\n[history]\nenabled = false\n"
    )
    assert PROXY_KEY in text
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


async def start_serve(
    stack: contextlib.ExitStack, config: Path, port: int
) -> tuple[str, subprocess.Popen[str]]:
    """Starts `ccm-tui serve` off the loop (its health wait blocks); stopped when stack closes."""
    return await asyncio.to_thread(stack.enter_context, serve_process(config, port, ENV))


async def ask(client: anthropic.AsyncAnthropic) -> None:
    await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)


def of_kind(kind: type) -> Callable[[object], bool]:
    return lambda e: isinstance(e, kind)


def is_lost(e: object) -> bool:
    return isinstance(e, ConnectionChanged) and not e.connected


async def test_attach_reconnects_to_a_restarted_serve_loads_its_snapshot_and_says_it_restarted(
    config, attach
):
    port = free_port()
    with contextlib.ExitStack() as stack:
        url, proc = await start_serve(stack, config, port)
        attached = await attach(url, key=PROXY_KEY)
        await attached.log.wait_for(of_kind(SnapshotLoaded))
        first_run = attached.state.instance
        assert attached.log.of(Notice) == []  # the first connect is no restart
        client = anthropic.AsyncAnthropic(base_url=url, api_key=PROXY_KEY, max_retries=0)
        await ask(client)
        await attached.log.wait_for(of_kind(RequestFinished))
        assert len(attached.state.requests) == 1

        mark = attached.log.mark()
        proc.kill()  # the hard way: no goodbye on the stream
        await asyncio.to_thread(proc.wait, 10)
        lost = await attached.log.wait_for(is_lost, after=mark)
        assert lost.message.startswith(f"lost the connection to {url}")
        assert lost.retry_in_s is not None and lost.retry_in_s > 0
        assert not attached.monitor.connected

        mark = attached.log.mark()
        await start_serve(stack, config, port)  # same port, a new process with a new state
        back = await attached.log.wait_for(
            lambda e: isinstance(e, ConnectionChanged) and e.connected, after=mark
        )
        assert back.url == url and back.retry_in_s is None
        await attached.log.wait_for(of_kind(SnapshotLoaded), after=mark)
        assert attached.state.requests == {}  # the old process's request is gone with it
        second_run = attached.state.instance
        assert second_run.id != first_run.id
        at = datetime.fromtimestamp(second_run.started_at).strftime("%H:%M")
        [notice] = attached.log.of(Notice)
        assert attached.log.events.index(notice) > mark  # after the new snapshot, not before
        assert notice.level is Level.WARNING
        assert notice.message == (
            f"{url} restarted at {at}: "
            "it keeps no history (see [history]): requests and counters started again"
        )

        mark = attached.log.mark()
        await ask(client)
        await attached.log.wait_for(of_kind(RequestFinished), after=mark)
        assert len(attached.state.requests) == 1
        await client.close()
        await attached.monitor.close()  # before serve's SIGINT, see the report on shutdown


async def test_attach_reconnected_to_the_same_serve_run_says_nothing_of_a_restart(config, attach):
    with contextlib.ExitStack() as stack:
        url, _ = await start_serve(stack, config, free_port())
        # Silence longer than this (the proxy's keepalive comes every 15 s) drops the link.
        attached = await attach(url, key=PROXY_KEY, idle_timeout_s=0.5)
        await attached.log.wait_for(of_kind(SnapshotLoaded))
        first_run = attached.state.instance
        lost = await attached.log.wait_for(is_lost)
        await attached.log.wait_for(of_kind(SnapshotLoaded), after=attached.log.events.index(lost))
        await attached.monitor.close()
    assert attached.state.instance == first_run
    assert attached.log.of(Notice) == []


@pytest.mark.parametrize("key", ["wrong-key-abcdefghijklmnop", None], ids=["wrong", "missing"])
async def test_attach_with_a_wrong_key_says_401_and_how_to_pass_the_key(config, attach, key):
    with contextlib.ExitStack() as stack:
        url, _ = await start_serve(stack, config, free_port())
        attached = await attach(url, key=key)
        lost = await attached.log.wait_for(is_lost)
        await attached.monitor.close()
    assert lost.message.startswith(url)
    assert "401" in lost.message and "--key" in lost.message
    assert PROXY_KEY not in lost.message and "wrong-key" not in lost.message
    assert not attached.log.of(SnapshotLoaded)
