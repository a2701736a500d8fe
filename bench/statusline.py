"""How long `ccm-tui statusline` takes, as Claude Code runs it: `python bench/statusline.py`.

Starts the simulator and a real proxy in this process, sends a few requests through it,
then times the command (the console script, and `python -m`) against the proxy's
`/_ccm/status` with hyperfine (or a loop of runs when hyperfine is missing). `--url URL`
times it against a `serve` that is already running instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anthropic

from ccm_tui.config import parse_config
from ccm_tui.proxy.app import Proxy
from ccm_tui.sim import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import HELLO, two_provider_config

COMMAND = f"{Path(sys.executable).parent / 'ccm-tui'} statusline"  # as Claude Code runs it
MODULE = f"{sys.executable} -m ccm_tui.statusline"


async def time_command(url: str, runs: int) -> None:
    env = {**os.environ, "CCM_TUI_URL": url}
    if shutil.which("hyperfine"):
        process = await asyncio.create_subprocess_exec(
            "hyperfine", "--warmup", "5", "--runs", str(runs), "--shell", "sh",
            f"{sys.executable} -c pass", COMMAND, MODULE,
            env=env,
        )  # fmt: skip
        await process.wait()
        return
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *COMMAND.split(), env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await process.wait()
        times.append((time.perf_counter() - started) * 1000)
    print(f"{COMMAND}: median {statistics.median(times):.1f} ms over {runs} runs")


async def serve_and_time(runs: int) -> None:
    sim = Simulator(seed=0)
    async with sim.serve("127.0.0.1", 0):
        directory = Path(tempfile.mkdtemp())
        path = directory / "config.toml"
        path.write_text(two_provider_config(sim))
        proxy = Proxy(parse_config(path.read_text(), path, env={}))
        url = await proxy.start("127.0.0.1", 0)
        client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
        for _ in range(20):
            await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
        try:
            await time_command(url, runs)
        finally:
            await proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="time against this running serve instead")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if args.url:
        asyncio.run(time_command(args.url, args.runs))
    else:
        asyncio.run(serve_and_time(args.runs))


if __name__ == "__main__":
    main()
