"""The benchmark, one command: `python bench/run.py [--smoke] [--out FILE]`.

Starts the simulated upstream, `ccm-tui serve`, the bare baseline (aiohttp and httpx
clients) and the load generator as separate processes on loopback, measures every figure
of bench/README.md, writes them as JSON and prints the README's table. `--smoke` runs
each measurement once, tiny, in a few seconds: it fails only if the benchmark is broken.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h

SECTIONS = ("startup", "small", "cc", "big", "stream", "throughput", "memory", "tui")
SIZES = {
    # body: {concurrency: requests per target per round}
    "full": {
        "small": {1: 400, 16: 1000, 64: 1500},
        "cc": {1: 400, 16: 1000, 64: 1500},
        "big": {1: 40, 16: 64, 64: 128},
    },
    "smoke": {"small": {1: 20, 16: 32}, "cc": {1: 10}, "big": {1: 2}},
}


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    try:
        import uvloop

        uv = uvloop.__version__
    except ImportError:
        uv = None
    import aiohttp
    import httpx
    import orjson

    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "httpx": httpx.__version__,
        "orjson": orjson.__version__,
        "uvloop": uv,
        "kernel": platform.release(),
    }


def startup(procs: h.Procs, sim_url: str, times: int) -> dict[str, Any]:
    """`ccm-tui serve` from spawn until /health answers, `times` fresh processes."""
    seconds = []
    for i in range(times):
        proc, _, took = h.start_ccm(procs, sim_url, name=f"startup-{i}")
        seconds.append(took)
        proc.stop()
    return {"runs": times, "median_s": h.med(seconds), "all_s": seconds}


def throughput(
    lg: h.Loadgen, targets: list[h.Target], duration: float, rounds: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"body": "small", "concurrency": 64, "duration_s": duration}
    rates: dict[str, list[float]] = {t.name: [] for t in targets}
    cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    for r in range(rounds):
        for t in targets[r % len(targets) :] + targets[: r % len(targets)]:
            before = h.cpu_of(t.pid)
            res = lg.call(op="throughput", url=t.url, body="small", model=t.model,
                          concurrency=64, duration=duration)  # fmt: skip
            rates[t.name].append(res["done"] / res["elapsed"])
            cpu[t.name].append(h.ms((h.cpu_of(t.pid) - before) / max(1, res["done"] + 64)))
    for t in targets:
        out[t.name] = {"req_per_s": h.med(rates[t.name]), "rounds": rates[t.name]}
        if t.pid is not None:
            out[t.name]["cpu_ms_per_request"] = h.med(cpu[t.name])
    return h.rounded(out, 1)


def memory(
    procs: h.Procs, lg: h.Loadgen, sim_url: str, total: int, reuse: list[h.Target] | None = None
) -> dict[str, Any]:
    """RSS of fresh proxy processes after start and while `total` requests go through
    (`reuse`: measure these running ones instead, for the smoke run)."""
    started: list[h.Proc] = []
    if reuse:
        targets = reuse
    else:
        base, base_url = h.start_baseline(procs, sim_url, "aiohttp")
        ccm, ccm_url, _ = h.start_ccm(procs, sim_url, name="ccm-tui-memory")
        started = [base, ccm]
        targets = [
            h.baseline_target("baseline", base_url, base.pid),
            h.ccm_target("ccm-tui", ccm_url, ccm.pid),
        ]
    marks = sorted({m for m in (1000, 10_000, 25_000, 50_000, total) if m <= total})
    out: dict[str, Any] = {"body": "small", "concurrency": 16, "requests": total}
    for t in targets:
        assert t.pid is not None
        points = [(0, h.rss_mb(t.pid))]
        done = 0
        errors = 0
        for mark in marks:
            res = lg.call(op="count", url=t.url, body="small", model=t.model,
                          n=mark - done, concurrency=16)  # fmt: skip
            errors += res["errors"]
            done = mark
            points.append((done, h.rss_mb(t.pid)))
        if errors:
            raise RuntimeError(f"{t.name}: {errors} failed requests in the memory run")
        at_start = points[0][1]
        warm = next((mb for n, mb in points if n >= min(10_000, total)), points[-1][1])
        out[t.name] = {
            "rss_mb": {str(n): round(mb, 1) for n, mb in points},
            "after_start_mb": round(at_start, 1),
            "after_all_mb": round(points[-1][1], 1),
            # Flat means: no growth once warm (the 1000-request history ring is full by 10k).
            "growth_after_warm_mb": round(points[-1][1] - warm, 1),
        }
    for proc in started:
        proc.stop()
    return out


def run_tui(procs: h.Procs, args: argparse.Namespace, path: Path) -> Any:
    """The screen beside the proxy as `ccm-tui` runs it (isolation.py's `process` mode)."""
    cmd = [h.PY, str(h.BENCH / "isolation.py"), "--modes", "process", "--out", str(path)]
    cmd += ["--smoke"] if args.smoke else []
    print("  tui bench:", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=h.ROOT, env=procs.env)
    import orjson

    return orjson.loads(path.read_bytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: checks it runs")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/DATE.json)")
    parser.add_argument("--rounds", type=int, help="repeats of every cell (default 3, smoke 1)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})",
    )
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument(
        "--concurrency", help="comma-separated concurrencies of the latency cells (default 1,16,64)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also run another checkout's ccm-tui (e.g. `git worktree add /tmp/before HEAD`) "
        "as target `ccm-tui-before`, for before/after figures from one run",
    )
    parser.add_argument(
        "--compare-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment of the `--compare` ccm-tui (e.g. `--compare . --compare-env "
        "CCM_TUI_LOOP=asyncio` for uvloop against asyncio's loop)",
    )
    parser.add_argument(
        "--usage-off",
        action="store_true",
        help="also run this ccm-tui with history and /metrics off, as target "
        "`ccm-tui-usage-off`: what they add, from one run",
    )
    args = parser.parse_args()
    smoke = args.smoke
    rounds = args.rounds or (1 if smoke else 3)
    only = set(args.only.split(","))
    if only - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(only - set(SECTIONS)))}")
    sizes = SIZES["smoke" if smoke else "full"]
    stamp = datetime.now(UTC)
    out = args.out or h.BENCH / "results" / f"{stamp:%Y-%m-%d-%H%M}.json"
    started = time.perf_counter()

    procs = h.Procs()
    results: dict[str, Any] = {
        "date": stamp.isoformat(timespec="seconds"),
        "label": args.label,
        "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
        "smoke": smoke,
        "rounds": rounds,
        "machine": machine(),
    }
    try:
        _, sim_url = h.start_sim(procs)
        print(f"simulator {sim_url}; scratch {procs.dir}", flush=True)
        if "startup" in only:
            results["startup"] = startup(procs, sim_url, 1 if smoke else 7)
            print(f"  start-up: {results['startup']['median_s'] * 1000:.0f} ms", flush=True)

        base, base_url = h.start_baseline(procs, sim_url, "aiohttp")
        basx, basx_url = h.start_baseline(procs, sim_url, "httpx")
        ccm, ccm_url, _ = h.start_ccm(procs, sim_url)
        direct = h.direct_target(sim_url)
        baseline = h.baseline_target("baseline", base_url, base.pid)
        baseline_httpx = h.baseline_target("baseline-httpx", basx_url, basx.pid)
        ccm_t = h.ccm_target("ccm-tui", ccm_url, ccm.pid)
        before: list[h.Target] = []
        if args.compare:
            env = dict(e.split("=", 1) for e in args.compare_env)
            old, old_url, _ = h.start_ccm(
                procs, sim_url, "ccm-tui-before", args.compare.resolve(), env
            )
            before = [h.ccm_target("ccm-tui-before", old_url, old.pid)]
            results["compare"] = {"code": str(args.compare.resolve()), "env": env}
        if args.usage_off:
            off, off_url, _ = h.start_ccm(procs, sim_url, "ccm-tui-usage-off", usage=False)
            before.append(h.ccm_target("ccm-tui-usage-off", off_url, off.pid))
        lg = h.Loadgen(procs)

        cells = []
        for body, by_conc in sizes.items():
            if body not in only:
                continue
            for conc, n in by_conc.items():
                if args.concurrency and str(conc) not in args.concurrency.split(","):
                    continue
                targets = [direct, baseline, ccm_t, *before]
                if body != "big":
                    targets.insert(2, baseline_httpx)
                cell = h.latency_cell(lg, targets, body, conc, n, rounds)
                cells.append(cell)
                print(
                    f"  {body:5} c={conc:<2} added p50: baseline {cell['baseline']['added_p50_ms']}"
                    f" ms, ccm-tui {cell['ccm-tui']['added_p50_ms']} ms"
                    + "".join(f", {t.name} {cell[t.name]['added_p50_ms']} ms" for t in before)
                    + f"; CPU/request baseline {cell['baseline']['cpu_ms_per_request']} ms, "
                    f"ccm-tui {cell['ccm-tui']['cpu_ms_per_request']} ms"
                    + "".join(
                        f", {t.name} {cell[t.name]['cpu_ms_per_request']} ms" for t in before
                    ),
                    flush=True,
                )
                if body == "big":  # the simulator records bodies: forget the 1 MB ones
                    h.http_delete(f"{sim_url}/_sim/requests")
        if cells:
            results["latency"] = cells

        stream_targets = [direct, baseline, baseline_httpx, ccm_t, *before]
        streams = []
        plan = ((1, 1),) if smoke else ((1, 10), (16, 32)) if "stream" in only else ()
        for conc, n in plan:
            cell = h.stream_cell(lg, stream_targets, n, rounds, conc)
            streams.append(cell)
            print(
                f"  stream c={conc}: added ttfb baseline {cell['baseline']['added_ttfb_ms']} ms, "
                f"ccm-tui {cell['ccm-tui']['added_ttfb_ms']} ms"
                + "".join(f", {t.name} {cell[t.name]['added_ttfb_ms']} ms" for t in before)
                + f"; ccm-tui gaps {cell['ccm-tui']['gap_ms']}",
                flush=True,
            )
        if streams:
            results["streaming"] = streams

        if "throughput" in only:
            results["throughput"] = throughput(
                lg, [direct, baseline, ccm_t, *before], 0.5 if smoke else 3.0, rounds
            )
            print(f"  throughput: {results['throughput']}", flush=True)

        if "memory" in only:
            if smoke:
                mem = memory(procs, lg, sim_url, 300, reuse=[baseline, ccm_t])
            else:
                mem = memory(procs, lg, sim_url, 100_000)
            results["memory"] = mem
            print(f"  memory: {mem}", flush=True)
        lg.close()
        for proc in (base, basx, ccm):
            if not proc.alive():
                raise RuntimeError(f"{proc.name} died:\n{proc.tail()}")
        if "tui" in only:
            tmp = out.with_suffix(".tui.tmp")
            try:
                results["tui"] = run_tui(procs, args, tmp)
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        procs.close()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    h.dump(out, results)
    print(render(results))
    print(f"results: {out} ({results['elapsed_s']} s)")
    return 0


# -- the README table ------------------------------------------------------------------------


def _f(value: Any, digits: int = 2) -> str:
    if value is None or value != value:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _gaps(x: dict[str, Any]) -> str:
    g = x["gap_ms"]
    return f"{_f(g['p1'], 1)} / {_f(g['p50'], 1)} / {_f(g['p99'], 1)}"


def _ratio(a: Any, b: Any) -> str:
    if not a or not b or a != a or b != b or b <= 0:
        return "–"
    return f"{a / b:.2f}×"


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"Run {r['date']} · {m['cores']} cores ({m['cpu']}) · Python {m['python']}, "
        f"aiohttp {m['aiohttp']}, uvloop {m['uvloop'] or 'no'} · medians of {r['rounds']} "
        f"round(s) · `{r['command']}`",
        "",
        "| figure | body | conc. | baseline | baseline-httpx | ccm-tui | ccm-tui / baseline |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in r.get("latency", []):
        bx = cell.get("baseline-httpx", {})
        for q in ("p50", "p99"):
            key = f"added_{q}_ms"
            lines.append(
                f"| added latency {q} (ms) | {cell['body']} | {cell['concurrency']} "
                f"| {_f(cell['baseline'][key])} | {_f(bx.get(key))} | {_f(cell['ccm-tui'][key])} "
                f"| {_ratio(cell['ccm-tui'][key], cell['baseline'][key]) if q == 'p50' else ''} |"
            )
    for cell in r.get("latency", []):
        if cell["concurrency"] == 16 or len(r.get("latency", [])) < 4:
            bx = cell.get("baseline-httpx", {})
            b, c = cell["baseline"]["cpu_ms_per_request"], cell["ccm-tui"]["cpu_ms_per_request"]
            lines.append(
                f"| CPU per request (ms) | {cell['body']} | {cell['concurrency']} | {_f(b)} "
                f"| {_f(bx.get('cpu_ms_per_request'))} | {_f(c)} | {_ratio(c, b)} |"
            )
    for s in r.get("streaming", []):
        b, bx, c = s["baseline"], s["baseline-httpx"], s["ccm-tui"]
        conc = s["concurrency"]
        lines.append(
            f"| added TTFB (ms) | cc_stream | {conc} | {_f(b['added_ttfb_ms'])} "
            f"| {_f(bx['added_ttfb_ms'])} | {_f(c['added_ttfb_ms'])} "
            f"| {_ratio(c['added_ttfb_ms'], b['added_ttfb_ms'])} |"
        )
        lines.append(
            f"| added delay per SSE event, p50 / max (ms) | cc_stream | {conc} "
            f"| {_f(b['added_event_delay_ms']['p50'])} / {_f(b['added_event_delay_ms']['max'])} "
            f"| {_f(bx['added_event_delay_ms']['p50'])} / {_f(bx['added_event_delay_ms']['max'])} "
            f"| {_f(c['added_event_delay_ms']['p50'])} / {_f(c['added_event_delay_ms']['max'])} "
            "| |"
        )
        lines.append(
            f"| SSE inter-arrival p1 / p50 / p99 (ms; direct {_gaps(s['direct'])}) "
            f"| cc_stream | {conc} "
            + "".join(
                f"| {_gaps(x)} ({x['gaps_under_5ms']}/{x['gaps_total']} < 5 ms) "
                for x in (b, bx, c)
            )
            + "| |"
        )
        lines.append(
            f"| CPU per streaming request (ms) | cc_stream | {conc} "
            f"| {_f(b['cpu_ms_per_request'])} | {_f(bx['cpu_ms_per_request'])} "
            f"| {_f(c['cpu_ms_per_request'])} "
            f"| {_ratio(c['cpu_ms_per_request'], b['cpu_ms_per_request'])} |"
        )
    t = r.get("throughput")
    if t:
        lines.append(
            f"| throughput (req/s; direct {_f(t['direct']['req_per_s'], 0)}) | small | 64 "
            f"| {_f(t['baseline']['req_per_s'], 0)} | | {_f(t['ccm-tui']['req_per_s'], 0)} "
            f"| {_ratio(t['ccm-tui']['req_per_s'], t['baseline']['req_per_s'])} |"
        )
    mem = r.get("memory")
    if mem:
        for key, label in (
            ("after_start_mb", "RSS after start (MB)"),
            ("after_all_mb", f"RSS after {mem['requests']:,} requests (MB)"),
            ("growth_after_warm_mb", "RSS growth after the first 10k (MB)"),
        ):
            lines.append(
                f"| {label} | small | 16 | {_f(mem['baseline'][key], 1)} | "
                f"| {_f(mem['ccm-tui'][key], 1)} | |"
            )
    s = r.get("startup")
    if s:
        lines.append(
            f"| start-up until /health answers (ms, median of {s['runs']}) | | | | "
            f"| {s['median_s'] * 1000:.0f} | |"
        )
    tui = r.get("tui")
    if tui:
        lines += ["", *tui_lines(tui)]
    return "\n".join(lines)


def tui_lines(t: dict[str, Any]) -> list[str]:
    from isolation import table_lines

    return [f"With the screen, as `ccm-tui` runs it (`{t['command']}`):", "", *table_lines(t)]


if __name__ == "__main__":
    raise SystemExit(main())
