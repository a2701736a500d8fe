"""The proxy with its screen: a headless `CcmApp` in the proxy's own process and loop.

python bench/tui_bench.py [--smoke] [--keys-only] [--out FILE] [--rate 200]
    [--duration 15] [--interval 0.25] [--rounds 3] [--sim URL] [--baseline URL --baseline-pid PID]

Runs the proxy as `ccm-tui` (no subcommand) does, with the screen drawn headless at
120×40, and measures from a load generator in another process:
  - the latency figures of run.py (added latency, TTFB, SSE inter-arrival) against the
    simulated upstream directly and the bare baseline, now with the TUI redrawing;
  - key presses while the proxy serves `--rate` streaming requests per second: the time
    from the key event to its action, and to the next screen refresh (target < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h
from textual import events

from ccm_tui.config import load_config
from ccm_tui.control import LocalControl
from ccm_tui.gateway import Gateway
from ccm_tui.requestlog import RequestLogger
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.theming import load_themes

SIZE = (120, 40)
KEYS = ("2", "4", "1")  # providers, detail (the selected request's live text), requests


def _quantiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": h.ms(h.pct(values, 50)),
        "p99": h.ms(h.pct(values, 99)),
        "max": h.ms(max(values)),
    }


async def press_keys(
    app: CcmApp, duration: float, interval: float, timeout: float = 5.0
) -> dict[str, Any]:
    """Presses pane keys as a terminal would send them, one every `interval` seconds."""
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
        "action_ms": {f"p{q}": h.ms(h.pct(action, q)) for q in (50, 99)}
        | {"max": h.ms(max(action))},
        "painted_ms": {f"p{q}": h.ms(h.pct(painted, q)) for q in (50, 99)}
        | {"max": h.ms(max(painted))},
        "under_100ms": sum(1 for p in painted if p < 0.1),
    }


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    procs = h.Procs()
    try:
        sim_url = args.sim or h.start_sim(procs)[1]
        if args.baseline:
            base_url, base_pid = args.baseline, args.baseline_pid
        else:
            proc, base_url = h.start_baseline(procs, sim_url)
            base_pid = proc.pid
        logging.basicConfig(filename=procs.dir / "tui-proxy.log", level=logging.INFO)
        config = load_config(h.write_config(procs.dir / "tui.toml", sim_url, 0))
        gateway = Gateway(
            config,
            tokens_path=procs.dir / "tokens.json",
            claude_code_path=procs.dir / "no-claude-code-login.json",
        )
        gateway.bus.add_listener(RequestLogger(gateway.state))
        url = await gateway.start("127.0.0.1", 0)
        app = CcmApp(
            gateway.state,
            gateway.bus,
            LocalControl(gateway.proxy.actions),
            themes=load_themes(),
            theme="ccm-dark",
            source=f"serving {url}",
            owns_process=True,  # as ccm-tui runs it
        )
        targets = [
            h.direct_target(sim_url),
            h.baseline_target("baseline", base_url, base_pid),
            h.ccm_target("ccm-tui+tui", url, os.getpid()),
        ]
        rounds = 1 if args.smoke else args.rounds
        if args.keys_only:
            plan = []
        elif args.smoke:
            plan = [("small", 1, 20), ("cc", 1, 10)]
        else:
            plan = [("small", 1, 400), ("cc", 1, 400), ("small", 16, 400), ("big", 1, 30)]
        result: dict[str, Any] = {
            "command": " ".join(["python bench/tui_bench.py", *sys.argv[1:]]),
            "key_interval_s": args.interval,
            "size": f"{SIZE[0]}x{SIZE[1]}",
            "rounds": rounds,
        }
        async with app.run_test(headless=True, size=SIZE):
            lg = h.Loadgen(procs)
            try:
                cells = []
                for body, conc, n in plan:
                    cell = await asyncio.to_thread(
                        h.latency_cell, lg, targets, body, conc, n, rounds
                    )
                    cells.append(cell)
                    print(
                        f"  tui: {body} c={conc} added p50 baseline "
                        f"{cell['baseline']['added_p50_ms']} ms, ccm-tui+tui "
                        f"{cell['ccm-tui+tui']['added_p50_ms']} ms",
                        flush=True,
                    )
                result["latency"] = cells
                if not args.keys_only:
                    stream = await asyncio.to_thread(
                        h.stream_cell, lg, targets, 1 if args.smoke else 10, rounds, 1
                    )
                    result["streaming"] = [stream]
                duration = 1.5 if args.smoke else args.duration
                lg.send(
                    op="rate_stream",
                    url=targets[2].stream_url,
                    body="cc_stream",
                    model=h.STREAM_MODEL,
                    rate=args.rate,
                    duration=duration,
                )
                await asyncio.sleep(duration / 5)  # let the load build up
                cpu0, t0 = h.cpu_seconds(os.getpid()), time.perf_counter()
                keys = await press_keys(
                    app,
                    duration * 0.7,
                    0.1 if args.smoke else args.interval,
                    1.0 if args.smoke else 5.0,
                )
                cpu_share = (h.cpu_seconds(os.getpid()) - cpu0) / (time.perf_counter() - t0)
                load = await asyncio.to_thread(lg.receive)
            finally:
                lg.close()
        await gateway.stop()
        if load["error_count"]:
            raise RuntimeError(f"streaming load: {load['error_count']} errors: {load['errors']}")
        keys["load_req_per_s"] = load["ok"] / load["elapsed"]
        keys["load_ttfb_p50_ms"] = h.ms(h.pct(load["ttfb"], 50))
        keys["gap_ms"] = {f"p{q}": h.ms(h.pct(load["gaps"], q)) for q in (1, 5, 50, 95, 99)}
        keys["process_cpu_share"] = round(cpu_share, 2)
        keys["dropped_events"] = gateway.bus.dropped
        result["keys"] = h.rounded(keys)
        print(
            f"  tui: keys {keys['painted_ms']} ms to refresh under "
            f"{keys['load_req_per_s']:.0f} streaming req/s (process CPU {cpu_share:.0%})",
            flush=True,
        )
        return result
    finally:
        procs.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rate", type=float, default=200.0, help="streaming requests per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of streaming load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--interval", type=float, default=0.25, help="seconds between key presses (a stress: 4/s)"
    )
    parser.add_argument(
        "--keys-only", action="store_true", help="skip the latency cells; only the key presses"
    )
    parser.add_argument("--sim", help="a running simulator (else one is started)")
    parser.add_argument("--baseline", help="a running baseline (else one is started)")
    parser.add_argument("--baseline-pid", type=int)
    args = parser.parse_args()
    if args.baseline and not args.baseline_pid:
        parser.error("--baseline needs --baseline-pid")
    result = asyncio.run(amain(args))
    if args.out:
        h.dump(args.out, result)
    else:
        import orjson

        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
