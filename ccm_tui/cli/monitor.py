"""The subcommands with a screen: `ccm-tui`, the demo, attach.

Each screen is an attach client: `ccm-tui` and the demo start their proxy as a child
process (ccm_tui.proxy_process) and watch it as `attach` watches one started elsewhere,
so there is one way to feed a monitor, and the screen never runs in the proxy's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ccm_tui.cli.common import EXIT_FAILED, UsageError, load, log_to_file
from ccm_tui.paths import demo_dir, display
from ccm_tui.proxy_process import Ownership, ProxyProcess, ProxyStartFailed

log = logging.getLogger(__name__)
HANG_UP_EXIT_S = 5.0


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


@dataclass(frozen=True)
class _Watched:
    """How the screen ended: its exit code, whether the proxy is to keep serving, and
    whether the screen itself failed (then the proxy keeps serving: it was not asked)."""

    code: int
    keep_serving: bool
    crashed: bool


async def _watch(
    url: str,
    key: str | None,
    source: str,
    look: _Look,
    ownership: Ownership,
    *,
    history: int = 1000,
    greeting: str | None = None,
    keep_serving: bool = False,
    child: ProxyProcess | None = None,
) -> _Watched:
    """The screen as the attach client of the proxy at `url`, until it quits. SIGTERM
    quits it as ctrl+q does; SIGHUP (the terminal closed) as `CcmApp.hang_up` says."""
    from ccm_tui.attach import RemoteMonitor
    from ccm_tui.control import RemoteControl
    from ccm_tui.events import EventBus, Level, Notice
    from ccm_tui.monitor import MonitorState
    from ccm_tui.tui.app import CcmApp

    state = MonitorState(history=history)
    bus = EventBus()
    monitor = RemoteMonitor(url, key, state, bus, greeting=greeting)
    control = RemoteControl(url, key)
    app = CcmApp(
        state,
        bus,
        control,
        themes=look.themes,
        theme=look.theme,
        source=source,
        ansi_color=True if look.no_color else None,
        owns_process=True,
        ownership=ownership,
        keep_serving=keep_serving,
    )
    hung_up: list[bool] = []

    def hang_up() -> None:
        """Decided here, not after the screen's shutdown: that writes to a terminal that
        is gone, and Textual's writer thread can wedge on it (seen in tmux). So the proxy
        is stopped (or kept) now, and the process ends within HANG_UP_EXIT_S whatever."""
        hung_up.append(True)  # what fails after it is the lost terminal's, not a crash
        app.hang_up()
        if child is not None and app.keep_serving:
            log.warning("the terminal closed; requests in flight: pid %d keeps serving", child.pid)
        elif child is not None:
            child.terminate()
        deadline = threading.Timer(HANG_UP_EXIT_S, os._exit, (0,))
        deadline.daemon = True
        deadline.start()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, app.exit)
    loop.add_signal_handler(signal.SIGHUP, hang_up)
    tasks = [asyncio.create_task(monitor.run())]
    if child is not None:

        async def tell_if_it_ends() -> None:
            code = await child.wait()
            bus.publish(
                Notice(
                    Level.ERROR,
                    f"the proxy (pid {child.pid}) exited with code {code}: "
                    "see the log for why; quit and start ccm-tui again",
                    time.time(),
                )
            )

        tasks.append(asyncio.create_task(tell_if_it_ends()))
    try:
        await app.run_async()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await monitor.close()
        await control.aclose()
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGHUP)
    code = int(app.return_code or 0)
    return _Watched(code, app.keep_serving, crashed=code != 0 and not hung_up)


def _keeps_serving(child: ProxyProcess, why: str) -> None:
    message = (
        f"ccm-tui: {why}; the proxy keeps serving on {child.url} (pid {child.pid}).\n"
        f"  Watch it with `ccm-tui attach {child.url}`; stop it with `kill {child.pid}`."
    )
    log.warning("%s", message)
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        print(message, file=sys.stderr)


async def _own(
    argv: Sequence[str],
    key: str | None,
    look: _Look,
    ownership: Ownership,
    source: str,
    keep_serving: bool,
) -> int:
    """Starts the proxy as a child, watches it, and stops it when the screen quits,
    unless the user asked to keep it serving or the screen failed."""
    log_file = log_to_file()
    child = ProxyProcess(argv)
    try:
        url = await child.start()
    except ProxyStartFailed as err:
        print(str(err), file=sys.stderr)
        print(f"(log: {display(log_file)})", file=sys.stderr)
        return EXIT_FAILED
    log.info("proxy pid %d serves on %s", child.pid, url)
    watched: _Watched | None = None
    try:
        watched = await _watch(
            url,
            key,
            source.format(url=url),
            look,
            ownership,
            keep_serving=keep_serving,
            child=child,
        )
    finally:
        if watched is None:  # the screen failed to even start: never leave it unseen
            _keeps_serving(child, "the screen failed")
        elif not child.running:
            pass
        elif watched.crashed and ownership is Ownership.OWNED:
            _keeps_serving(child, "the screen failed")
        elif watched.keep_serving and ownership is Ownership.OWNED:
            _keeps_serving(child, "detached")
        else:
            await child.stop()
    return watched.code if watched is not None else EXIT_FAILED


def _loopback(host: str) -> str:
    """Where to reach a proxy that listens on `host` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _ccm_tui_at(url: str, key: str | None) -> bool:
    """Whether a ccm-tui proxy already answers at `url` (its admin API says so, even
    when it refuses our key)."""
    from ccm_tui.control import KEY_HEADER

    headers = {KEY_HEADER: key} if key else {}
    try:
        response = httpx.get(url + "/_ccm/state", headers=headers, timeout=2.0)
    except httpx.HTTPError:
        return False
    kind = response.headers.get("content-type", "")
    return response.status_code in (200, 401) and kind.startswith("application/json")


def cmd_run(args: argparse.Namespace) -> int:
    config = load(args)
    look = _look(args, config.tui.theme)
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    key = config.server.api_key
    if port:
        running = f"http://{_loopback(host)}:{port}"
        if _ccm_tui_at(running, key):
            log_to_file()
            greeting = (
                f"a ccm-tui proxy already serves {running}: watching it (q leaves it running)"
            )
            source = f"attached to {running}"
            attached = _watch(running, key, source, look, Ownership.ATTACHED, greeting=greeting)
            return asyncio.run(attached).code
    argv = ["serve", "--monitored", "--host", host, "--port", str(port)]
    if args.config:
        argv += ["--config", args.config]
    if args.tokens:
        argv += ["--tokens", args.tokens]
    return asyncio.run(_own(argv, key, look, Ownership.OWNED, "serving {url}", args.keep_serving))


def cmd_demo(args: argparse.Namespace) -> int:
    look = _look(args, "ccm-dark")
    argv = ["demo", "--monitored", "--port", str(args.port)]
    return asyncio.run(
        _own(argv, None, look, Ownership.SIMULATED, "demo · proxy {url}", keep_serving=False)
    )


def demo_backend(args: argparse.Namespace) -> int:
    """`demo --monitored`: the demo's simulator, proxy and traffic, without a screen."""
    from ccm_tui import demo
    from ccm_tui.cli.common import run_until_signal
    from ccm_tui.config import load_config
    from ccm_tui.gateway import Gateway
    from ccm_tui.proxy_process import announce_ready
    from ccm_tui.requestlog import RequestLogger
    from ccm_tui.sim import Simulator
    from ccm_tui.sim.traffic import DemoTraffic

    log_file = log_to_file()
    directory = demo_dir()

    async def main() -> None:
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
            announce_ready(url, log_file)
            try:
                await asyncio.Event().wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await gateway.stop()

    run_until_signal(main)
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    from ccm_tui.control import display_url, normalize_url

    try:
        url = normalize_url(args.url)
    except ValueError as err:
        raise UsageError(str(err)) from None
    look = _look(args, "ccm-dark")
    log_to_file()
    source = f"attached to {display_url(url)}"
    watched = asyncio.run(
        _watch(url, args.key, source, look, Ownership.ATTACHED, history=args.history)
    )
    return watched.code
