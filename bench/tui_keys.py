"""What one pane key costs the screen itself: no proxy, no load, just the monitor.

python bench/tui_keys.py [--size 120x40] [--churn 40] [--presses 60]

A CcmApp (headless) over the snapshot tests' scene plus 300 finished requests; between
presses `--churn` more requests arrive (40 between presses ≈ 200 req/s at 5 presses a
second). Presses `2`, `4`, `1` in turn and reports, per press: the time to the action, to
the next screen refresh, and the process CPU spent from the press until 50 ms after the
refresh (the follow-up work a press causes). isolation.py measures the same keys under
real streaming load; this one tells the screen's own cost apart.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "tui"), str(ROOT / "tests")]

import scenes  # noqa: E402  (the snapshot tests' scene)
from textual import events  # noqa: E402

from ccm_tui.events import Event, EventBus  # noqa: E402
from ccm_tui.tui.app import CcmApp  # noqa: E402


def request_events(number: int, now: float) -> list[Event]:
    rid = f"q{number}"
    return [
        scenes.started(rid, now),
        scenes.attempt(rid, 1, "zai", "glm-4.6", now),
        scenes.response(rid, 1, "zai", 300.0),
        scenes.progressed(rid, 10, "hello there"),
        scenes.finished(
            rid, "zai", "glm-4.6", at=now, output_tokens=40 + number % 50, text="hello"
        ),
    ]


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    p50, p90 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.9)]
    return f"p50 {p50 * 1e3:.1f} p90 {p90 * 1e3:.1f} max {ordered[-1] * 1e3:.1f} ms"


async def measure(size: tuple[int, int], churn: int, presses: int) -> None:
    bus = EventBus()
    clock = scenes.Clock()
    state = scenes.folded(scenes.scene_events(), clock)
    bus.add_listener(state.apply)
    app = CcmApp(
        state, bus, scenes.RecordingControl(),
        themes=scenes.builtin_themes(Path(tempfile.mkdtemp())), theme="ccm-dark",
        source=scenes.SOURCE, clock=clock, tick_s=3600,
    )  # fmt: skip
    perf = time.perf_counter
    arrived = 0

    def arrive(count: int) -> None:
        nonlocal arrived
        for _ in range(count):
            for event in request_events(arrived, clock()):
                bus.publish(event)
            arrived += 1

    async with app.run_test(size=size):
        arrive(300)
        await asyncio.sleep(0.3)
        original = app.action_pane
        record: dict[str, float] = {}
        done = asyncio.Event()

        def timed(pane: str) -> None:
            record["action"] = perf() - record["t0"]
            original(pane)

            def painted() -> None:
                record["painted"] = perf() - record["t0"]
                done.set()

            app.call_after_refresh(painted)

        app.action_pane = timed  # type: ignore[method-assign]
        actions, paints, cpus = [], [], []
        for i in range(presses):
            arrive(churn)
            await asyncio.sleep(0.3)
            key = "241"[i % 3]
            done.clear()
            cpu0 = time.process_time()
            record["t0"] = perf()
            app.post_message(events.Key(key, key))
            await done.wait()
            await asyncio.sleep(0.05)
            cpus.append(time.process_time() - cpu0)
            actions.append(record["action"])
            paints.append(record["painted"])
    print(f"{size[0]}x{size[1]}, {churn} new requests between presses, {presses} presses:")
    print(f"  key -> action    {quantiles(actions)}")
    print(f"  key -> repainted {quantiles(paints)}")
    print(f"  CPU per press    {quantiles(cpus)} (until 50 ms after the repaint)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="120x40", help="columns x rows")
    parser.add_argument("--churn", type=int, default=40, help="requests arriving between presses")
    parser.add_argument("--presses", type=int, default=60)
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.lower().split("x"))
    asyncio.run(measure((columns, rows), args.churn, args.presses))


if __name__ == "__main__":
    main()
