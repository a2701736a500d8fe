"""Profile `ccm-tui serve` under load with py-spy: `python bench/profile.py [--body small]`.

Starts the simulator and `ccm-tui serve`, sends `--n` requests `--concurrency` at a time
from the load generator while py-spy samples the proxy, and prints the functions with the
most samples (own and cumulative) under ccm_tui, aiohttp, asyncio and logging. py-spy is
a development tool (`pip install py-spy`), not a dependency.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--body", default="small", choices=["small", "cc", "big", "cc_stream"])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks here")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(h.PY).parent / "py-spy")
    procs = h.Procs()
    try:
        _, sim_url = h.start_sim(procs)
        ccm, url, _ = h.start_ccm(procs, sim_url)
        target = h.ccm_target("ccm-tui", url, ccm.pid)
        lg = h.Loadgen(procs)
        raw = args.raw or procs.dir / "profile.raw"
        stream = args.body == "cc_stream"
        lg.call(op="count", url=target.stream_url if stream else target.url, body=args.body,
                model=target.stream_model if stream else target.model, n=200,
                concurrency=args.concurrency)  # fmt: skip
        spy_proc = subprocess.Popen(
            [spy, "record", "-p", str(ccm.pid), "-r", "250", "-f", "raw", "-o", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        threading.Event().wait(1.0)
        before = h.cpu_seconds(ccm.pid)
        res = lg.call(op="count", url=target.stream_url if stream else target.url,
                      body=args.body, model=target.stream_model if stream else target.model,
                      n=args.n, concurrency=args.concurrency)  # fmt: skip
        cpu = h.cpu_seconds(ccm.pid) - before
        spy_proc.send_signal(2)
        spy_proc.wait(30)
        lg.close()
    finally:
        procs.close()
    per = cpu / res["n"] * 1000
    print(f"{res['n']} requests in {res['elapsed']:.1f} s, proxy CPU {per:.3f} ms/request")
    own: collections.Counter[str] = collections.Counter()
    cum: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            cum[frame] += n
    print(f"\n{total} samples; cumulative:")
    for frame, n in cum.most_common(args.top):
        print(f"{n / total:6.1%}  {frame[:140]}")
    print("\nown:")
    for frame, n in own.most_common(args.top):
        print(f"{n / total:6.1%}  {frame[:140]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
