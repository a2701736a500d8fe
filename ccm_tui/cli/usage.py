"""`ccm-tui usage` and `ccm-tui statusline`: what the history and the running proxy say,
without a screen."""

from __future__ import annotations

import argparse
import sys

from ccm_tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, config_path
from ccm_tui.config import ConfigError, load_config


def cmd_usage(args: argparse.Namespace) -> int:
    """The per-day table from the history file, read-only (a running proxy may write it)."""
    from ccm_tui.history import HistoryError, HistoryReader
    from ccm_tui.paths import demo_dir, display, history_path
    from ccm_tui.usagereport import parse_since, render_usage

    try:
        since_s = parse_since(args.since)
    except ValueError as err:
        raise UsageError(str(err)) from None
    path = history_path()
    source = config_path(args)
    if source.exists():
        try:
            path = load_config(source).history.path
        except ConfigError as err:  # the table is still worth showing from the default file
            print(f"ccm-tui: {source} has problems ({len(err.problems)}); "
                  "reading the default history file", file=sys.stderr)  # fmt: skip
    reader = HistoryReader(path)
    try:
        print(render_usage(reader, since_s, as_json=args.json))
    except HistoryError as err:
        print(f"ccm-tui: {err}", file=sys.stderr)
        return EXIT_FAILED
    demo_config = demo_dir() / "config.toml"
    if not reader.exists and demo_config.exists():  # a new user's first try is the demo
        print(f"The demo keeps its own history: ccm-tui usage --config {display(demo_config)}",
              file=sys.stderr)  # fmt: skip
    return EXIT_OK


def cmd_statusline(args: argparse.Namespace) -> int:
    """Through argparse (`ccm-tui --config X statusline`); `ccm_tui.entry` takes the fast
    way for the usual `ccm-tui statusline`."""
    from ccm_tui.statusline import main

    config = getattr(args, "config", None)
    return main(["--config", config] if config else [])


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = sub.add_parser("usage", help="tokens and cost per day, from the history")
    usage.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    usage.add_argument("--since", default="7d", help="how far back: 24h, 7d, 2w (default 7d)")
    usage.add_argument("--json", action="store_true", help="the table as JSON")
    usage.set_defaults(func=cmd_usage)
    line = sub.add_parser(
        "statusline", help="one line for Claude Code's statusLine: the running proxy's state"
    )
    line.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    line.set_defaults(func=cmd_statusline)
