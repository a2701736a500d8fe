"""`ccm-tui` and its subcommands. Errors a person can act on, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccm_tui import __version__
from ccm_tui.config import (
    STARTER_CONFIG,
    Config,
    ConfigError,
    ConfigNotFound,
    Invalid,
    listen_problem,
    load_config,
    port_number,
)
from ccm_tui.heap import settle_heap
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


def _quiet_logging_records() -> None:
    """Log records without what the request lines never show: the caller's file and line
    (a stack walk per record), thread and process names."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the logging HOWTO's "Optimization" section


# -- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from ccm_tui.gateway import Gateway
    from ccm_tui.proxy.app import StartupError
    from ccm_tui.requestlog import RequestLogger

    config = _load(args)
    logging.basicConfig(
        level=getattr(logging, config.server.log_level.upper(), logging.INFO),
        format="%(message)s",
        stream=sys.stderr,
    )
    _quiet_logging_records()
    gateway = Gateway(config, tokens_path=_tokens_override(args))
    gateway.bus.add_listener(RequestLogger(gateway.state))
    failure: list[str] = []

    async def main() -> None:
        try:
            url = await gateway.start(args.host, args.port)
        except StartupError as err:
            failure.append(str(err))
            await gateway.stop()
            return
        print(
            f"ccm-tui {__version__} serving on {url} (config {display(_config_path(args))})",
            file=sys.stderr,
            flush=True,
        )
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


# -- OAuth: login, import, derive-key, use-oauth -------------------------------------------


def _tokens_override(args: argparse.Namespace) -> Path | None:
    tokens = getattr(args, "tokens", None)
    return Path(tokens).expanduser() if tokens else None


def _token_store_path(args: argparse.Namespace, config: Config) -> Path:
    from ccm_tui.paths import default_token_store_path

    return _tokens_override(args) or config.oauth.token_store or default_token_store_path()


def _oauth_command(
    args: argparse.Namespace,
    body: Callable[[Config, Any], Coroutine[Any, Any, int]],
) -> int:
    """Runs `body(config, token_manager)` with an HTTP client; OAuth errors, an unusable
    Claude Code login and an unusable token store become messages."""
    import httpx

    from ccm_tui.auth import (
        ClaudeCodeCredentialsError,
        OAuthError,
        TokenManager,
        TokenStore,
        TokenStoreError,
    )
    from ccm_tui.keyswitch import SwitchError
    from ccm_tui.masking import mask_text

    config = _load(args)

    async def main() -> int:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0)) as client:
            store = TokenStore(_token_store_path(args, config))
            manager = TokenManager(store, config.oauth, None, config.providers, client)
            try:
                return await body(config, manager)
            except (OAuthError, SwitchError, ClaudeCodeCredentialsError, TokenStoreError) as err:
                print(f"ccm-tui: {mask_text(str(err))}", file=sys.stderr)
                return EXIT_FAILED

    return asyncio.run(main())


def _notify_running_proxy(config: Config, done: str = "switched at once") -> str:
    """Asks a proxy already serving this config to reload it (and so re-read the token
    store), so a switch or a new login applies at once."""
    import httpx

    host = config.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{config.server.port}/_ccm/reload"
    headers = {"x-ccm-key": config.server.api_key} if config.server.api_key else {}
    try:
        response = httpx.post(url, headers=headers, timeout=3.0)
    except httpx.HTTPError:
        return "no proxy is running on that config now; it takes effect when one starts"
    if response.status_code == 200:
        return f"the proxy at {url.removesuffix('/_ccm/reload')} {done}"
    return f"the running proxy did not reload (HTTP {response.status_code}); restart it"


def cmd_login(args: argparse.Namespace) -> int:
    from ccm_tui.auth import Pkce, authorize_url
    from ccm_tui.humanize import countdown
    from ccm_tui.keyswitch import oauth_provider
    from ccm_tui.masking import mask

    async def body(config: Config, manager: Any) -> int:
        provider = oauth_provider(config, args.name)
        token_id = provider.oauth_provider or provider.name
        pkce = Pkce.new()
        kind = "Console" if args.console else "Claude Pro/Max"
        print(f"Log in to {kind} for provider {provider.name} (token id {token_id}):")
        print(f"\n  {authorize_url(config.oauth, pkce, args.console)}\n")
        print("Open the link, approve, then paste the code shown (CODE#STATE) here.")
        try:
            pasted = await asyncio.to_thread(input, "code: ")
        except EOFError:
            print("ccm-tui: no code given; nothing stored", file=sys.stderr)
            return EXIT_FAILED
        entry = await manager.complete_login(token_id, pasted, pkce)
        left = countdown(entry.expires_at_epoch - time.time())
        print(
            f"logged in: token {mask(entry.access_token)} stored as {token_id}, expires in {left}"
        )
        print(await asyncio.to_thread(_notify_running_proxy, config, "uses it at once"))
        return EXIT_OK

    return _oauth_command(args, body)


def cmd_import(args: argparse.Namespace) -> int:
    from ccm_tui.auth import import_into_store, read_claude_code_login
    from ccm_tui.keyswitch import oauth_provider
    from ccm_tui.masking import mask
    from ccm_tui.paths import claude_code_credentials_path

    async def body(config: Config, manager: Any) -> int:
        provider = oauth_provider(config, args.name)
        token_id = provider.oauth_provider or provider.name
        path = claude_code_credentials_path()
        login = read_claude_code_login(path)
        if login is None:
            print(
                f"ccm-tui: no Claude Code login at {display(path)} (log in with `claude` first, "
                "or set CLAUDE_CONFIG_DIR)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        entry = import_into_store(manager.store, token_id, login)
        print(f"imported Claude Code's login {mask(entry.access_token)} as {token_id}")
        print(
            "note: ccm-tui and Claude Code now share one refresh token; whichever refreshes "
            "first rotates it and the other must log in again. `ccm-tui login` avoids that."
        )
        print(await asyncio.to_thread(_notify_running_proxy, config, "uses it at once"))
        return EXIT_OK

    return _oauth_command(args, body)


def cmd_derive_key(args: argparse.Namespace) -> int:
    from ccm_tui.keyswitch import switch_to_derived

    async def body(config: Config, manager: Any) -> int:
        _, message = await switch_to_derived(config, manager, args.name)
        print(message)
        print(await asyncio.to_thread(_notify_running_proxy, config))
        return EXIT_OK

    return _oauth_command(args, body)


def cmd_use_oauth(args: argparse.Namespace) -> int:
    from ccm_tui.keyswitch import switch_to_oauth

    async def body(config: Config, manager: Any) -> int:
        _, message = switch_to_oauth(config, manager, args.name)
        print(message)
        print(await asyncio.to_thread(_notify_running_proxy, config))
        return EXIT_OK

    return _oauth_command(args, body)


# -- the monitor: run, demo, attach ----------------------------------------------------------


def _log_to_file() -> Path:
    """The screen belongs to the TUI: every log line goes to a file instead."""
    from ccm_tui.paths import log_path

    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per OAuth call is noise
    return path


@dataclass(frozen=True)
class _Look:
    themes: Any  # ThemeSet; typed loosely so the core CLI does not import Textual
    theme: str
    no_color: bool


def _look(args: argparse.Namespace, configured: str) -> _Look:
    """The themes, the one to start with, and whether to keep the terminal's own colours."""
    from ccm_tui.tui.theming import ThemeError, load_themes, no_color_requested, resolve_theme_name

    themes = load_themes()
    no_color = no_color_requested()
    requested = getattr(args, "theme", None) or ("ccm-ansi" if no_color else configured)
    try:
        return _Look(themes, resolve_theme_name(requested, themes.themes), no_color)
    except ThemeError as err:
        raise UsageError(str(err)) from None


class UsageError(Exception):
    """Bad arguments: printed, exit 2."""


async def _show(state: Any, bus: Any, control: Any, source: str, look: _Look) -> int:
    """Runs the monitor until it quits; SIGTERM quits it as ctrl+q does."""
    from ccm_tui.tui.app import CcmApp

    app = CcmApp(
        state,
        bus,
        control,
        themes=look.themes,
        theme=look.theme,
        source=source,
        ansi_color=True if look.no_color else None,
        owns_process=True,
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, app.exit)
    await app.run_async()
    return int(app.return_code or 0)


def cmd_run(args: argparse.Namespace) -> int:
    from ccm_tui.control import LocalControl
    from ccm_tui.gateway import Gateway
    from ccm_tui.proxy.app import StartupError
    from ccm_tui.requestlog import RequestLogger

    config = _load(args)
    look = _look(args, config.tui.theme)
    log_file = _log_to_file()
    gateway = Gateway(config, tokens_path=_tokens_override(args))
    gateway.bus.add_listener(RequestLogger(gateway.state))
    failure: list[str] = []

    async def main() -> int:
        try:
            url = await gateway.start(args.host, args.port)
        except StartupError as err:
            failure.append(str(err))
            await gateway.stop()
            return EXIT_FAILED
        try:
            control = LocalControl(gateway.proxy)
            return await _show(gateway.state, gateway.bus, control, f"serving {url}", look)
        finally:
            await gateway.stop()

    code = asyncio.run(main())
    if failure:
        print(f"ccm-tui: {failure[0]}", file=sys.stderr)
        print(f"(log: {display(log_file)})", file=sys.stderr)
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from ccm_tui import demo
    from ccm_tui.config import load_config
    from ccm_tui.control import LocalControl
    from ccm_tui.gateway import Gateway
    from ccm_tui.requestlog import RequestLogger
    from ccm_tui.sim import Simulator
    from ccm_tui.sim.traffic import DemoTraffic

    look = _look(args, "ccm-dark")
    _log_to_file()
    directory = demo.demo_dir()

    async def main() -> int:
        sim = Simulator(token_lifetime_s=demo.TOKEN_LIFETIME_S, seed=None)
        async with sim.serve("127.0.0.1", 0):
            config = load_config(demo.prepare(directory, sim))
            demo.set_scenarios(sim)
            gateway = Gateway(config, claude_code_path=directory / "no-claude-code-login.json")
            gateway.bus.add_listener(RequestLogger(gateway.state))
            url = await gateway.start("127.0.0.1", args.port)
            tasks = [
                asyncio.create_task(DemoTraffic(url).run()),
                asyncio.create_task(demo.vary_flaky(sim)),
            ]
            try:
                control = LocalControl(gateway.proxy)
                return await _show(gateway.state, gateway.bus, control, f"demo · proxy {url}", look)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await gateway.stop()

    return asyncio.run(main())


def cmd_attach(args: argparse.Namespace) -> int:
    from ccm_tui.attach import RemoteMonitor
    from ccm_tui.control import RemoteControl, display_url, normalize_url
    from ccm_tui.events import EventBus
    from ccm_tui.monitor import MonitorState

    try:
        url = normalize_url(args.url)
    except ValueError as err:
        raise UsageError(str(err)) from None
    look = _look(args, "ccm-dark")
    _log_to_file()

    async def main() -> int:
        state = MonitorState(history=args.history)
        bus = EventBus()
        monitor = RemoteMonitor(url, args.key, state, bus)
        control = RemoteControl(url, args.key)
        watcher = asyncio.create_task(monitor.run())
        try:
            return await _show(state, bus, control, f"attached to {display_url(url)}", look)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await monitor.close()
            await control.aclose()

    return asyncio.run(main())


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
    serve.set_defaults(func=cmd_serve)

    demo_cmd = sub.add_parser(
        "demo", help="see ccm-tui at work: simulated providers, traffic and tokens, no setup"
    )
    demo_cmd.add_argument("--theme", default=argparse.SUPPRESS, help="theme name")
    demo_cmd.add_argument("--port", type=_port, default=0, help="proxy port (default: any free)")
    demo_cmd.set_defaults(func=cmd_demo)

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
