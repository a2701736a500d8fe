"""`python -m ccm_tui.sim`: the simulator as its own process, steered over `/_sim/...`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import orjson

from ccm_tui.sim.app import Simulator
from ccm_tui.sim.scenario import Scenario, scenario_from_json


def _scenario_arg(value: str) -> tuple[str, Scenario]:
    name, sep, text = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError('expected NAME=JSON, e.g. flaky={"status":529}')
    try:
        return name, scenario_from_json(orjson.loads(text))
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ccm_tui.sim", description="Simulated Anthropic upstream for ccm-tui."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token-lifetime", type=int, default=28800, metavar="S")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        type=_scenario_arg,
        metavar="NAME=JSON",
        help="a provider's Scenario as JSON; repeat for several providers",
    )
    parser.add_argument("--max-drops-api-key-scope", action="store_true")
    parser.add_argument("--no-rotate-refresh-tokens", action="store_true")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    sim = Simulator(
        token_lifetime_s=args.token_lifetime,
        seed=args.seed,
        rotate_refresh_tokens=not args.no_rotate_refresh_tokens,
        max_drops_api_key_scope=args.max_drops_api_key_scope,
    )
    for name, scenario in args.scenario:
        sim.scenario(name, scenario)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sim.serve(args.host, args.port) as base_url:
        print(f"ccm-tui sim listening on {base_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except OSError as exc:
        print(f"ccm-tui sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
