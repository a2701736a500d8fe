"""Where the screen may run without slowing the proxy: measured, one arrangement at a time.

python bench/isolation.py [--modes process,thread,loop] [--smoke] [--rounds 3]
    [--duration 15] [--rate 200] [--interval 0.25] [--out FILE]

Each mode runs a proxy watched by a headless `CcmApp` at 120×40 (the screen redrawing
live) beside `ccm-tui serve` alone (no screen), against the same simulator, in one run:
  process  the proxy is `ccm-tui serve`, the screen its attach client in another process
           (how `ccm-tui` runs since issue 11: ccm_tui/proxy_process.py)
  thread   the proxy on its own thread and loop, the screen attached to it, one process
  loop     the proxy and the screen in one process and one asyncio loop (before issue 11)
and reports, as ratios against `serve` alone: the added latency (small and Claude Code
bodies, concurrency 1 and 16), time to first byte and SSE inter-arrival p99 (c1, c16);
then key press → action and → repainted under `--rate` streaming requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h
from textual import events

from ccm_tui.attach import RemoteMonitor
from ccm_tui.config import load_config
from ccm_tui.control import LocalControl, RemoteControl
from ccm_tui.events import EventBus
from ccm_tui.gateway import Gateway
from ccm_tui.monitor import MonitorState
from ccm_tui.requestlog import RequestLogger
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.theming import load_themes

SIZE = (120, 40)
KEYS = ("2", "4", "1")  # providers, detail (the selected request's live text), requests
MODES = ("process", "thread", "loop")


async def press_keys(
    app: CcmApp, duration: float, interval: float, timeout: float = 5.0
) -> dict[str, Any]:
    """Presses pane keys as a terminal would send them, one every `interval` seconds:
    the time from the key to its action, and to the next screen refresh."""
    perf = time.perf_counter
    original = app.action_pane
    current: dict[str, Any] = {}

    def timed(pane: str) -> None:
        record = current
        record.setdefault("action", perf() - record["t0"])
        original(pane)

        def painted() -> None:
            record.setdefault("painted", perf() - record["t0"])
            record["done"].set()

        app.call_after_refresh(painted)

    app.action_pane = timed  # type: ignore[method-assign]
    driver = app._driver
    assert driver is not None
    samples: list[dict[str, Any]] = []
    end = perf() + duration
    i = 0
    try:
        while perf() < end:
            key = KEYS[i % len(KEYS)]
            i += 1
            current = {"key": key, "done": asyncio.Event(), "t0": perf()}
            event = events.Key(key, key)
            event.set_sender(app)
            driver.send_message(event)
            try:
                await asyncio.wait_for(current["done"].wait(), timeout)
            except TimeoutError:
                current["timeout"] = True
            samples.append(current)
            await asyncio.sleep(interval)
    finally:
        app.action_pane = original  # type: ignore[method-assign]
    # A press still waiting at the timeout counts as the timeout (a lower bound).
    action = [s.get("action", timeout) for s in samples]
    painted = [s.get("painted", timeout) for s in samples]
    return {
        "presses": len(samples),
        "timeouts": sum(1 for s in samples if s.get("timeout")),
        "action_ms": {"p50": h.ms(h.pct(action, 50)), "p99": h.ms(h.pct(action, 99))},
        "painted_ms": {"p50": h.ms(h.pct(painted, 50)), "p99": h.ms(h.pct(painted, 99))},
        "under_100ms": sum(1 for p in painted if p < 0.1),
    }


class ThreadedGateway:
    """A Gateway on its own thread and loop: the proxy beside the screen, one GIL."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._url: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._url.set_result(await self.gateway.start("127.0.0.1", 0))
        await self._stop.wait()
        await self.gateway.stop()

    def start(self) -> str:
        self._thread.start()
        return self._url.result(30)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _gateway(procs: h.Procs, sim_url: str, name: str) -> Gateway:
    config = load_config(h.write_config(procs.dir / f"{name}.toml", sim_url, 0))
    gateway = Gateway(
        config,
        tokens_path=procs.dir / f"{name}-tokens.json",
        claude_code_path=procs.dir / "no-claude-code-login.json",
    )
    gateway.bus.add_listener(RequestLogger(gateway.state))
    return gateway


def _screen(state: MonitorState, bus: EventBus, control: Any, url: str) -> CcmApp:
    return CcmApp(
        state,
        bus,
        control,
        themes=load_themes(),
        theme="ccm-dark",
        source=f"serving {url}",
        owns_process=True,
    )


async def run_mode(
    mode: str, procs: h.Procs, lg: h.Loadgen, sim_url: str, alone: h.Target, args: Any
) -> dict[str, Any]:
    """The figures of one arrangement, `serve` alone measured beside it in every cell."""
    stop: list[Any] = []
    monitor: RemoteMonitor | None = None
    if mode == "loop":
        gateway = _gateway(procs, sim_url, "loop")
        url = await gateway.start("127.0.0.1", 0)
        pid = os.getpid()
        app = _screen(gateway.state, gateway.bus, LocalControl(gateway.proxy.actions), url)
        stop.append(gateway.stop)
    else:
        if mode == "process":
            proc, url, _ = h.start_ccm(procs, sim_url, name="ccm-tui-watched")
            pid = proc.pid
        else:
            threaded = ThreadedGateway(_gateway(procs, sim_url, "thread"))
            url = await asyncio.to_thread(threaded.start)
            pid = os.getpid()
            stop.append(lambda: asyncio.to_thread(threaded.stop))
        state, bus = MonitorState(), EventBus()
        monitor = RemoteMonitor(url, None, state, bus)
        app = _screen(state, bus, RemoteControl(url), url)
    watched = h.ccm_target(f"{mode}+screen", url, pid)
    targets = [h.direct_target(sim_url), alone, watched]
    rounds = 1 if args.smoke else args.rounds
    plan = (
        [("small", 1, 20)]
        if args.smoke
        else [("small", 1, 400), ("cc", 1, 300), ("small", 16, 800), ("cc", 16, 600)]
    )
    result: dict[str, Any] = {"mode": mode}
    follow = asyncio.create_task(monitor.run()) if monitor is not None else None
    try:
        async with app.run_test(headless=True, size=SIZE) as pilot:
            if monitor is not None:
                while not monitor.connected:
                    await pilot.pause(0.05)
            cells = []
            for body, conc, n in plan:
                cell = await asyncio.to_thread(h.latency_cell, lg, targets, body, conc, n, rounds)
                cells.append(cell)
                print(
                    f"  {mode}: {body} c{conc} added p50 serve {cell[alone.name]['added_p50_ms']}"
                    f" ms, {watched.name} {cell[watched.name]['added_p50_ms']} ms",
                    flush=True,
                )
            result["latency"] = cells
            streams = [(1, 1 if args.smoke else 10), (16, 16 if args.smoke else 48)]
            result["streaming"] = [
                await asyncio.to_thread(h.stream_cell, lg, targets, n, rounds, conc)
                for conc, n in streams
            ]
            duration = 1.5 if args.smoke else args.duration
            lg.send(
                op="rate_stream",
                url=watched.stream_url,
                body="cc_stream",
                model=h.STREAM_MODEL,
                rate=args.rate,
                duration=duration,
            )
            await asyncio.sleep(duration / 5)  # let the load build up
            me = os.getpid()
            cpu0, t0 = h.cpu_seconds(me), time.perf_counter()
            keys = await press_keys(app, duration * 0.7, 0.1 if args.smoke else args.interval, 5.0)
            keys["screen_process_cpu_share"] = round(
                (h.cpu_seconds(me) - cpu0) / (time.perf_counter() - t0), 2
            )
            load = await asyncio.to_thread(lg.receive)
    finally:
        if follow is not None and monitor is not None:
            follow.cancel()
            await monitor.close()
        for step in stop:
            await step()
    if load["error_count"]:
        raise RuntimeError(f"streaming load: {load['error_count']} errors: {load['errors']}")
    keys["load_req_per_s"] = round(load["ok"] / load["elapsed"], 1)
    result["keys"] = h.rounded(keys)
    print(f"  {mode}: keys {keys['painted_ms']} ms to repaint at {keys['load_req_per_s']}/s")
    return result


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "–"
    return f"{a / b:.2f}×"


def table_lines(results: dict[str, Any]) -> list[str]:
    """The README table: each mode against `serve` alone, measured in the same run."""
    lines = [
        "| figure | cell | serve alone | "
        + " | ".join(f"{m['mode']} (ratio)" for m in results["modes"])
        + " |",
        "|---|---|---:|" + "---:|" * len(results["modes"]),
    ]

    def row(figure: str, cell: str, base: float | None, values: list[float | None]) -> None:
        shown = " | ".join(f"{v:.2f} ({_ratio(v, base)})" if v is not None else "–" for v in values)
        lines.append(f"| {figure} | {cell} | {base if base is not None else '–'} | {shown} |")

    modes = results["modes"]
    for i, cell in enumerate(modes[0]["latency"]):
        name = f"{cell['body']} c{cell['concurrency']}"
        for q in ("p50", "p99"):
            key = f"added_{q}_ms"
            row(f"added latency {q} (ms)", name, cell["serve"][key],
                [m["latency"][i][f"{m['mode']}+screen"][key] for m in modes])  # fmt: skip
    for i, cell in enumerate(modes[0]["streaming"]):
        name = f"stream c{cell['concurrency']}"
        row("TTFB p50 (ms)", name, cell["serve"]["ttfb_p50_ms"],
            [m["streaming"][i][f"{m['mode']}+screen"]["ttfb_p50_ms"] for m in modes])  # fmt: skip
        row("SSE inter-arrival p99 (ms)", name, cell["serve"]["gap_ms"]["p99"],
            [m["streaming"][i][f"{m['mode']}+screen"]["gap_ms"]["p99"] for m in modes])  # fmt: skip
    for what in ("painted_ms", "action_ms"):
        label = "key → repainted" if what == "painted_ms" else "key → action"
        for q in ("p50", "p99"):
            values = " | ".join(f"{m['keys'][what][q]}" for m in modes)
            lines.append(f"| {label} {q} (ms) | {results['rate']:g} streams/s | – | {values} |")
    shares = " | ".join(f"{m['keys']['screen_process_cpu_share']:.0%}" for m in modes)
    lines.append(f"| screen process CPU | under that load | – | {shares} |")
    return lines


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    procs = h.Procs()
    logging.basicConfig(filename=procs.dir / "isolation.log", level=logging.INFO)
    try:
        _, sim_url = h.start_sim(procs)
        serve, serve_url, _ = h.start_ccm(procs, sim_url, name="ccm-tui-alone")
        alone = h.ccm_target("serve", serve_url, serve.pid)
        lg = h.Loadgen(procs)
        try:
            modes = [
                await run_mode(mode, procs, lg, sim_url, alone, args)
                for mode in args.modes.split(",")
            ]
        finally:
            lg.close()
        return {
            "command": " ".join(["python bench/isolation.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d"),
            "cores": os.cpu_count(),
            "size": f"{SIZE[0]}x{SIZE[1]}",
            "rounds": 1 if args.smoke else args.rounds,
            "rate": args.rate,
            "modes": modes,
        }
    finally:
        procs.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated, of " + ",".join(MODES)
    )
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: checks it runs")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rate", type=float, default=200.0, help="streaming requests per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of streaming load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between key presses")
    args = parser.parse_args()
    unknown = set(args.modes.split(",")) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    result = asyncio.run(amain(args))
    if args.out:
        h.dump(args.out, result)
    print("\n".join(table_lines(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
