"""The proxy without a screen under the TUI benchmark's load, beside the bare baseline.

python bench/streaming_load.py [--rate 200] [--duration 8]

isolation.py asks for key presses handled within 100 ms while the proxy serves `--rate`
streaming requests per second beside the screen. This measures what that load costs the
proxy alone (`ccm-tui serve`) and the baseline, so the screen's own share can be told apart.
"""

from __future__ import annotations

import argparse
import time

import harness as h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    procs = h.Procs()
    try:
        _, sim_url = h.start_sim(procs)
        ccm, url, _ = h.start_ccm(procs, sim_url)
        base, base_url = h.start_baseline(procs, sim_url)
        loadgen = h.Loadgen(procs)
        for name, target in (
            ("ccm-tui serve", h.ccm_target("ccm-tui", url, ccm.pid)),
            ("baseline", h.baseline_target("baseline", base_url, base.pid)),
        ):
            assert target.pid is not None
            cpu0, t0 = h.cpu_seconds(target.pid), time.perf_counter()
            result = loadgen.call(
                op="rate_stream",
                url=target.stream_url,
                body="cc_stream",
                model=target.stream_model,
                rate=args.rate,
                duration=args.duration,
            )
            share = (h.cpu_seconds(target.pid) - cpu0) / (time.perf_counter() - t0)
            gaps = result["gaps"]
            print(
                f"{name}: {result['ok'] / result['elapsed']:.0f} streams/s, "
                f"TTFB p50 {h.ms(h.pct(result['ttfb'], 50))} ms, "
                f"SSE gaps p50/p99 {h.ms(h.pct(gaps, 50))}/{h.ms(h.pct(gaps, 99))} ms, "
                f"process CPU {share:.0%} of a core, errors {result['error_count']}"
            )
        loadgen.close()
    finally:
        procs.close()


if __name__ == "__main__":
    main()
