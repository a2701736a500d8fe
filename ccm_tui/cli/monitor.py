"""The subcommands with a screen: the proxy and its monitor, the demo, attach."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import Any

from ccm_tui.cli.common import EXIT_FAILED, UsageError, load, log_to_file, tokens_override
from ccm_tui.paths import display


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


async def _show(
    state: Any, bus: Any, control: Any, source: str, look: _Look, simulated: bool = False
) -> int:
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
        simulated=simulated,
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, app.exit)
    await app.run_async()
    return int(app.return_code or 0)


def cmd_run(args: argparse.Namespace) -> int:
    from ccm_tui.control import LocalControl
    from ccm_tui.gateway import Gateway
    from ccm_tui.proxy.app import StartupError
    from ccm_tui.requestlog import RequestLogger

    config = load(args)
    look = _look(args, config.tui.theme)
    log_file = log_to_file()
    gateway = Gateway(config, tokens_path=tokens_override(args))
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
            control = LocalControl(gateway.proxy.actions)
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
    log_to_file()
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
                control = LocalControl(gateway.proxy.actions)
                state, bus, source = gateway.state, gateway.bus, f"demo · proxy {url}"
                return await _show(state, bus, control, source, look, simulated=True)
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
    log_to_file()

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
