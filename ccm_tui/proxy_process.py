"""The proxy in a child process, the screen its attach client.

Measured (bench/isolation.py): with the screen in the proxy's process, a table redraw
delays stream chunks (one GIL, or one loop); in a process of its own the proxy's SSE
inter-arrival stays that of `serve` alone. The child runs in its own session, so a
closed terminal, ctrl+c or a crashed screen never reaches Claude Code's connections:
only the screen's owner stops it, on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

READY = "ccm-tui proxy ready on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 6.0  # the proxy's own graceful shutdown takes up to 3 s


class Ownership(enum.Enum):
    """Whose proxy the screen watches, which decides what quitting does."""

    OWNED = "owned"  # this ccm-tui started it: quitting stops it, unless kept serving
    ATTACHED = "attached"  # started elsewhere: quitting leaves it alone
    SIMULATED = "simulated"  # the demo's: its traffic is simulated, quitting cuts off nothing


class ProxyStartFailed(Exception):
    """The child ended before it served; the message is what it said (or its exit code)."""


def announce_ready(url: str, log_file: Path) -> None:
    """The child's last words on its pipes: the ready line, then stdout and stderr go to
    the log file, so nothing written later can block on, or die of, a closed pipe."""
    print(f"{READY}{url} pid {os.getpid()}", flush=True)
    sys.stderr.flush()
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)


class ProxyProcess:
    """`python -m ccm_tui ARGV` (a `serve --monitored` or `demo --monitored`), started
    and waited for until it says it serves."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """The URL it serves on; ProxyStartFailed with what it printed if it ended first."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ccm_tui",
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # the terminal's signals are the screen's, not its
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        said = asyncio.create_task(process.stderr.read())  # read as it comes: never blocks it
        try:
            async with asyncio.timeout(timeout_s):
                while line := await process.stdout.readline():
                    text = line.decode("utf-8", "replace").strip()
                    if text.startswith(READY):
                        self.url = text.removeprefix(READY).split(" pid ")[0]
                        return self.url
                code = await process.wait()
        except TimeoutError:
            await self.stop()
            said.cancel()
            raise ProxyStartFailed(f"the proxy did not start within {timeout_s:g} s") from None
        finally:
            if self.url:
                said.cancel()
        message = (await said).decode("utf-8", "replace").strip()
        raise ProxyStartFailed(message or f"the proxy exited with code {code} before serving")

    async def wait(self) -> int:
        assert self._process is not None, "not started"
        return await self._process.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting: it finishes what it can, as `serve` does."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL if it lingers."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            self.terminate()
            try:
                async with asyncio.timeout(timeout_s):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        return process.returncode
