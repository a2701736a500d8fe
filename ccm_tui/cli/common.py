"""What every subcommand shares: exit codes, the config it names, logging, signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ccm_tui.config import Config, load_config
from ccm_tui.paths import default_config_path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad arguments: printed, exit 2."""


def config_path(args: argparse.Namespace) -> Path:
    return Path(args.config).expanduser() if args.config else default_config_path()


def load(args: argparse.Namespace) -> Config:
    config = load_config(config_path(args))
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    return config


def run_until_signal(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs `main` until it ends or SIGINT/SIGTERM arrives, then lets it clean up."""

    async def runner() -> None:
        task = asyncio.create_task(main())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(runner())


def quiet_logging_records() -> None:
    """Log records without what the request lines never show: the caller's file and line
    (a stack walk per record), thread and process names."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the logging HOWTO's "Optimization" section


def tokens_override(args: argparse.Namespace) -> Path | None:
    tokens = getattr(args, "tokens", None)
    return Path(tokens).expanduser() if tokens else None


def log_to_file(level: str = "info") -> Path:
    """The screen belongs to the TUI: every log line goes to a file instead (the proxy's
    child process too: its terminal is the screen's)."""
    from ccm_tui.paths import log_path

    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    logging.captureWarnings(True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per OAuth call is noise
    return path
