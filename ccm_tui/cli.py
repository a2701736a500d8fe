"""`ccm-tui` and its subcommands. Errors a person can act on, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from ccm_tui import __version__
from ccm_tui.config import STARTER_CONFIG, Config, ConfigError, load_config
from ccm_tui.paths import default_config_path, display

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config).expanduser() if args.config else default_config_path()


def _load(args: argparse.Namespace) -> Config:
    config = load_config(_config_path(args))
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


# -- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from ccm_tui.proxy.app import Proxy, StartupError, serve_forever
    from ccm_tui.requestlog import RequestLogger

    config = _load(args)
    logging.basicConfig(
        level=getattr(logging, config.server.log_level.upper(), logging.INFO),
        format="%(message)s",
        stream=sys.stderr,
    )
    proxy = Proxy(config)
    proxy.bus.add_listener(RequestLogger(proxy.state))
    failure: list[str] = []

    def ready(url: str) -> None:
        print(f"ccm-tui {__version__} serving on {url} (config {display(_config_path(args))})",
              file=sys.stderr, flush=True)  # fmt: skip

    async def main() -> None:
        try:
            await serve_forever(proxy, args.host, args.port, ready)
        except StartupError as err:
            failure.append(str(err))

    run_until_signal(main)
    if failure:
        print(f"ccm-tui: {failure[0]}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# -- init / check ----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from ccm_tui.atomicfile import atomic_write_text

    path = _config_path(args)
    if path.exists() and not args.force:
        print(
            f"ccm-tui: {display(path)} already exists; not overwriting it "
            "(use --force to replace it)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, STARTER_CONFIG, mode=0o600)
    print(f"wrote {display(path)}")
    print("next: edit it, then `ccm-tui check` and `ccm-tui serve` (or just `ccm-tui`)")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    path = _config_path(args)
    try:
        config = load_config(path)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        errors = sum(not p.warning for p in err.problems)
        print(f"{display(path)}: {errors} error(s)", file=sys.stderr)
        return EXIT_FAILED
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    enabled = [p.name for p in config.providers if p.enabled]
    print(
        f"{display(path)}: ok — {len(config.providers)} provider(s) "
        f"({len(enabled)} enabled), {len(config.models)} model(s)"
    )
    for model in config.models:
        chain = " → ".join(f"{m.provider}:{m.actual_model}" for m in model.mappings)
        print(f"  {model.name}: {chain}")
    return EXIT_OK


# -- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccm-tui",
        description="A gateway and live monitor for Claude Code.",
    )
    parser.add_argument("--version", action="version", version=f"ccm-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            metavar="PATH",
            help=f"config file (default {display(default_config_path())})",
        )

    serve = sub.add_parser("serve", help="run the proxy without a screen, one log line per request")
    config_arg(serve)
    serve.add_argument("--host", help="address to listen on (overrides [server] host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides [server] port)")
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", help="write a commented starter config")
    config_arg(init)
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(func=cmd_init)

    check = sub.add_parser("check", help="validate a config and print every problem")
    config_arg(check)
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
