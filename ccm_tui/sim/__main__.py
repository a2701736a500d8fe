"""`python -m ccm_tui.sim`: the simulator as its own process, steered over `/_sim/...`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import orjson

from ccm_tui.sim import control_routes, model_routes, oauth_routes
from ccm_tui.sim.app import Simulator
from ccm_tui.sim.scenario import Scenario, fields_help, scenario_from_json


def _scenario_arg(value: str) -> tuple[str, Scenario]:
    name, sep, text = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError('expected NAME=JSON, e.g. flaky={"status":529}')
    try:
        return name, scenario_from_json(orjson.loads(text))
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


EXAMPLE = """\
example:
  python -m ccm_tui.sim --port 8700 \\
      --scenario 'flaky={"status":529,"probability":0.5}' \\
      --scenario 'slow={"event_interval_ms":200,"output_chunks":20}'
  # a provider `flaky` (half its requests overloaded) and a slow streamer `slow`; then:
  curl -s http://127.0.0.1:8700/p/flaky/v1/messages -H 'content-type: application/json' \\
      -d '{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}'
  curl -s -X PUT http://127.0.0.1:8700/_sim/scenario/flaky -d '{}'   # healthy again
"""


def _help() -> str:
    """The description `--help` shows: URLs, endpoints and every scenario field, taken from
    the endpoint tables and the Scenario class, so it says what the code does."""
    return "\n".join(
        [
            "A simulated Anthropic upstream for ccm-tui (plus OAuth and an OpenAI-compatible",
            "endpoint), with faults set per provider.",
            "",
            "providers: any NAME is a provider, no setup needed; its base URLs are",
            "  http://HOST:PORT/p/NAME      Anthropic format (clients append /v1/messages)",
            "  http://HOST:PORT/p/NAME/v1   OpenAI format (clients append /chat/completions)",
            'The same routes at the root belong to the provider "default".',
            "",
            "model endpoints (under /p/NAME, or at the root):",
            *(line for e in model_routes.ENDPOINTS for line in e.help_lines()),
            "",
            "OAuth endpoints (at the root):",
            *(line for e in oauth_routes.ENDPOINTS for line in e.help_lines()),
            "",
            "control API:",
            *(line for e in control_routes.ENDPOINTS for line in e.help_lines()),
            "",
            "scenario fields (a JSON object for --scenario or PUT /_sim/scenario/NAME; every",
            "field optional; faults hit every request unless times/probability narrow them;",
            "for a JSON answer stall sends no body and disconnect half of it):",
            fields_help(),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ccm_tui.sim",
        description=_help(),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=28800,
        metavar="S",
        help="seconds an OAuth access token lives",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of `probability` faults")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        type=_scenario_arg,
        metavar="NAME=JSON",
        help="provider NAME's scenario (fields below); repeat for several providers",
    )
    parser.add_argument(
        "--max-drops-api-key-scope",
        action="store_true",
        help="claude.ai logins do not get the org:create_api_key scope they ask for",
    )
    parser.add_argument(
        "--no-rotate-refresh-tokens",
        action="store_true",
        help="a refresh keeps the refresh token (by default each refresh replaces it)",
    )
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
