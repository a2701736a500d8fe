"""The gateway's history: written as requests finish, read back at start, and a bad file
never stopping the proxy; `ccm-tui usage` reading it while the gateway writes."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import anthropic
import orjson

from ccm_tui.config import parse_config
from ccm_tui.events import Notice, RequestFinished
from ccm_tui.gateway import Gateway

from support import HELLO, EventLog, two_provider_config


def config_text(sim, directory: Path) -> str:
    return two_provider_config(sim) + f'\n[history]\npath = "{directory / "history.sqlite3"}"\n'


async def started(sim, directory: Path) -> tuple[Gateway, EventLog]:
    path = directory / "config.toml"
    path.write_text(config_text(sim, directory))
    gateway = Gateway(
        parse_config(path.read_text(), path, env={}),
        tokens_path=directory / "tokens.json",
        claude_code_path=directory / "no-claude-code-login.json",
    )
    log = EventLog()
    gateway.bus.add_listener(log)
    await gateway.start("127.0.0.1", 0)
    return gateway, log


async def send(gateway: Gateway, log: EventLog, count: int) -> None:
    client = anthropic.AsyncAnthropic(base_url=gateway.proxy.url, api_key="k", max_retries=0)
    total = len(log.of(RequestFinished)) + count
    for _ in range(count):
        await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
    await log.wait_for(lambda _: len(log.of(RequestFinished)) == total)


async def written(gateway: Gateway, count: int) -> None:
    """The writer thread has committed `count` rows (it reports no event: polled)."""
    assert gateway.history is not None
    deadline = time.monotonic() + 10
    while gateway.history.written < count:
        assert time.monotonic() < deadline, "the history was not written"
        await asyncio.sleep(0.02)


async def test_a_restarted_gateway_starts_with_its_requests_and_totals(sim, tmp_path):
    gateway, log = await started(sim, tmp_path)
    await send(gateway, log, 3)
    now = time.time()
    before = gateway.state.usage.today(now)
    ids = list(gateway.state.requests)
    await gateway.stop()

    again, _ = await started(sim, tmp_path)
    try:
        assert again.state.usage.today(now) == before
        assert again.state.usage.last(3600, now) == gateway.state.usage.last(3600, now)
        assert list(again.state.requests) == ids
        assert again.state.snapshot()["usage"]["days"]  # what an attached monitor gets
    finally:
        await again.stop()


async def test_a_corrupt_history_file_is_reported_and_the_proxy_serves(sim, tmp_path):
    (tmp_path / "history.sqlite3").write_bytes(b"this is not a database" * 100)
    gateway, log = await started(sim, tmp_path)
    try:
        await send(gateway, log, 1)
        notices = [e.message for e in log.of(Notice)]
        assert any("history.sqlite3" in m for m in notices), notices
    finally:
        await gateway.stop()


async def test_the_usage_command_reads_while_the_gateway_writes(sim, tmp_path):
    gateway, log = await started(sim, tmp_path)
    try:
        await send(gateway, log, 2)
        await written(gateway, 2)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ccm_tui", "--config", str(tmp_path / "config.toml"),
            "usage", "--json", "--since", "1d",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        send_more = asyncio.create_task(send(gateway, log, 3))  # writing on meanwhile
        out, err = await process.communicate()
        await send_more
        assert process.returncode == 0, err.decode()
        table = orjson.loads(out)
        assert table["total"]["requests"] >= 2
        assert {row["provider"] for row in table["days"]} == {"primary"}
    finally:
        await gateway.stop()
