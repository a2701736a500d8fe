"""`ccm-tui` and its subcommands. Errors a person can act on, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from ccm_tui import __version__
from ccm_tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    config_path,
    load,
    log_to_file,
    quiet_logging_records,
    run_until_signal,
    tokens_override,
)
from ccm_tui.cli.monitor import cmd_attach, cmd_demo, cmd_run, demo_backend
from ccm_tui.cli.oauth import cmd_derive_key, cmd_import, cmd_login, cmd_use_oauth
from ccm_tui.cli.usage import add_parsers as add_usage_parsers
from ccm_tui.config import (
    STARTER_CONFIG,
    ConfigError,
    ConfigNotFound,
    Invalid,
    listen_problem,
    load_config,
    port_number,
)
from ccm_tui.heap import settle_heap
from ccm_tui.paths import default_config_path, display
from ccm_tui.proxy_process import announce_ready

# -- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from ccm_tui.gateway import Gateway
    from ccm_tui.proxy.app import StartupError
    from ccm_tui.requestlog import RequestLogger

    config = load(args)
    monitored = getattr(args, "monitored", False)  # the child of a `ccm-tui` with a screen
    log_file = log_to_file(config.server.log_level) if monitored else None
    if log_file is None:
        logging.basicConfig(
            level=getattr(logging, config.server.log_level.upper(), logging.INFO),
            format="%(message)s",
            stream=sys.stderr,
        )
    quiet_logging_records()
    gateway = Gateway(config, tokens_path=tokens_override(args))
    gateway.bus.add_listener(RequestLogger(gateway.state))
    failure: list[str] = []

    async def main() -> None:
        try:
            url = await gateway.start(args.host, args.port)
        except StartupError as err:
            failure.append(str(err))
            await gateway.stop()
            return
        serving = f"ccm-tui {__version__} serving on {url} (config {display(config_path(args))})"
        if log_file is None:
            print(serving, file=sys.stderr, flush=True)
        else:
            logging.getLogger(__name__).info("%s", serving)
            announce_ready(url, log_file)
        settle_heap()
        try:
            await asyncio.Event().wait()
        finally:
            await gateway.stop()

    run_until_signal(main)
    if failure:
        print(f"ccm-tui: {failure[0]}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# -- init / check ----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from ccm_tui.atomicfile import atomic_write_text

    path = config_path(args)
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
    path = config_path(args)
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
    refused = listen_problem(config, getattr(args, "host", None))
    if refused is not None:  # what `serve` would refuse to start with
        print(refused, file=sys.stderr)
        print(f"{display(path)}: 1 error(s)", file=sys.stderr)
        return EXIT_FAILED
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


def _port(text: str) -> int:
    """--port: out of range or not a number is a usage error (exit 2), not a traceback."""
    try:
        return port_number(text)
    except Invalid as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccm-tui",
        description="A gateway and live monitor for Claude Code.",
    )
    parser.add_argument("--version", action="version", version=f"ccm-tui {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help=f"config file (default {display(default_config_path())})"
    )
    parser.add_argument("--host", help="address to listen on (overrides [server] host)")
    parser.add_argument("--port", type=_port, help="port to listen on (overrides [server] port)")
    parser.add_argument("--theme", help="theme name (overrides [tui] theme)")
    parser.add_argument("--tokens", metavar="PATH", help="token store path")
    parser.add_argument(
        "--keep-serving",
        action="store_true",
        help="when the screen quits, leave the proxy serving (ccm-tui attach picks it up)",
    )
    parser.set_defaults(func=cmd_run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def config_arg(p: argparse.ArgumentParser) -> None:
        # SUPPRESS: a subcommand's unset option must not hide the same global one.
        p.add_argument(
            "--config",
            metavar="PATH",
            default=argparse.SUPPRESS,
            help=f"config file (default {display(default_config_path())})",
        )

    def tokens_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--tokens",
            metavar="PATH",
            default=argparse.SUPPRESS,
            help="token store (default [oauth] token_store, else the XDG data dir; "
            "claude-code-mux's ~/.claude-code-mux/oauth_tokens.json works too)",
        )

    serve = sub.add_parser("serve", help="run the proxy without a screen, one log line per request")
    config_arg(serve)
    serve.add_argument(
        "--host", default=argparse.SUPPRESS, help="address to listen on (overrides [server] host)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=argparse.SUPPRESS,
        help="port to listen on (overrides [server] port)",
    )
    tokens_arg(serve)
    # ccm-tui's own child: logs to the file, says when it serves (ccm_tui.proxy_process).
    serve.add_argument("--monitored", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    demo_cmd = sub.add_parser(
        "demo", help="see ccm-tui at work: simulated providers, traffic and tokens, no setup"
    )
    demo_cmd.add_argument("--theme", default=argparse.SUPPRESS, help="theme name")
    demo_cmd.add_argument("--port", type=_port, default=0, help="proxy port (default: any free)")
    demo_cmd.add_argument("--monitored", action="store_true", help=argparse.SUPPRESS)
    demo_cmd.set_defaults(func=lambda a: demo_backend(a) if a.monitored else cmd_demo(a))

    attach = sub.add_parser("attach", help="watch a proxy started elsewhere (ccm-tui serve)")
    attach.add_argument("url", help="the proxy's address, e.g. http://127.0.0.1:13456")
    attach.add_argument("--key", help="the proxy's server.api_key, if it has one")
    attach.add_argument("--theme", default=argparse.SUPPRESS, help="theme name")
    attach.add_argument("--history", type=int, default=1000, help="requests kept on screen")
    attach.set_defaults(func=cmd_attach)

    init = sub.add_parser("init", help="write a commented starter config")
    config_arg(init)
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(func=cmd_init)

    check = sub.add_parser("check", help="validate a config and print every problem")
    config_arg(check)
    check.set_defaults(func=cmd_check)

    login = sub.add_parser("login", help="log an oauth provider in (PKCE, paste the code)")
    login.add_argument("name", help='the [[providers]] name (auth_type = "oauth")')
    login.add_argument("--console", action="store_true", help="Console login (can create API keys)")
    config_arg(login)
    tokens_arg(login)
    login.set_defaults(func=cmd_login)

    importer = sub.add_parser("import", help="copy Claude Code's own login into the token store")
    importer.add_argument("source", choices=["claude-code"], help="where the login comes from")
    importer.add_argument("name", help="the oauth provider to store it for")
    config_arg(importer)
    tokens_arg(importer)
    importer.set_defaults(func=cmd_import)

    derive = sub.add_parser(
        "derive-key", help="switch an oauth provider to an API key derived from its token"
    )
    derive.add_argument("name", help="the oauth provider")
    config_arg(derive)
    tokens_arg(derive)
    derive.set_defaults(func=cmd_derive_key)

    use_oauth = sub.add_parser("use-oauth", help="switch a provider back to its OAuth token")
    use_oauth.add_argument("name", help="the oauth provider")
    config_arg(use_oauth)
    tokens_arg(use_oauth)
    use_oauth.set_defaults(func=cmd_use_oauth)
    add_usage_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigNotFound as err:
        print(
            f"ccm-tui: no config file at {display(err.path)}.\n"
            "  Create one with `ccm-tui init` (then edit it and run `ccm-tui check`),\n"
            "  or run `ccm-tui demo` to see ccm-tui at work without one.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    except UsageError as err:
        print(f"ccm-tui: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
