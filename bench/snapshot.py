"""What a full history costs to serve and to load: `python bench/snapshot.py [--compare DIR]`.

`GET /_ccm/state` and the first frame of `/_ccm/events` encode the whole MonitorState
(`state.snapshot()` then `orjson.dumps`); `ccm-tui attach` decodes it
(`orjson.loads` then `MonitorState.from_snapshot`). Both are measured with a full history
of 1000 requests shaped like Claude Code's (its masked headers, a failover in five,
streamed text and tool blocks). `--compare DIR` measures another checkout's ccm_tui too,
in the same run, on the same picture: each side loads the snapshot this checkout writes
(an older one through its forward compatibility) and then encodes and decodes its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HISTORY = 1000
T0 = 1_767_268_800.0


def build_snapshot() -> bytes:
    """A busy proxy's state after 1000 requests, as `/_ccm/state` sends it."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    from bodies import fixture

    from ccm_tui.events import (
        AttemptFailed,
        AttemptStarted,
        AuthMode,
        BlockView,
        BreakerState,
        Failure,
        Level,
        Notice,
        ProviderStateChanged,
        RefreshState,
        RequestFinished,
        RequestStarted,
        ResponseStarted,
        StreamProgressed,
        TokenStateChanged,
    )
    from ccm_tui.masking import mask_headers
    from ccm_tui.monitor import MonitorState

    _, raw_headers = fixture()
    headers = mask_headers(raw_headers.items())
    state = MonitorState(history=HISTORY, clock=lambda: T0 + HISTORY)
    for name in ("claude-max", "zai", "openrouter", "spare"):
        auth = AuthMode.OAUTH if name == "claude-max" else AuthMode.APIKEY
        state.apply(ProviderStateChanged(name, True, BreakerState.CLOSED, None, 0, auth))
    text = "I'll refactor the routing table into a dataclass. " * 4
    blocks = (
        BlockView("thinking", "", "The user wants the routing table as a dataclass. " * 3),
        BlockView("text", "", text),
        BlockView("tool_use", "Edit", '{"file_path": "ccm_tui/proxy/routing.py", "old_s'),
    )
    for i in range(HISTORY + 200):  # the oldest 200 have left the ring
        rid, at = f"req_{i:08d}", T0 + i
        state.apply(
            RequestStarted(rid, at, "POST", "/v1/messages?beta=true", "claude-sonnet-4-5",
                           "sonnet", "auto_map", True, 40 + i % 30, 24,
                           "claude-cli/2.1.197 (external, sdk-cli)", headers)
        )  # fmt: skip
        number = 1
        if i % 5 == 0:
            state.apply(AttemptStarted(rid, 1, "claude-max", "claude-sonnet-4-5-20250929",
                                       AuthMode.OAUTH, at))  # fmt: skip
            state.apply(AttemptFailed(rid, 1, "claude-max", Failure.OVERLOADED, 529,
                                      "Overloaded", None, 412.5, at + 0.4))  # fmt: skip
            number = 2
        state.apply(AttemptStarted(rid, number, "zai", "glm-4.6", AuthMode.APIKEY, at + 0.4))
        state.apply(ResponseStarted(rid, number, "zai", 200, 310.25))
        state.apply(StreamProgressed(rid, 12_000 + i, 120, blocks[:2]))
        if i < HISTORY + 195:  # a few still streaming
            state.apply(
                RequestFinished(rid, 200, Failure.OK, "zai", "glm-4.6", 12_000 + i, 320,
                                48_000, 512, "tool_use", 2400.5, "", at + 2.4, blocks)
            )  # fmt: skip
    for token_id in ("claude-max", "claude-code"):
        state.apply(
            TokenStateChanged(token_id, "store", ("claude-max",), "sk-ant-oat01-…a1B2",
                              T0 + 28_800, RefreshState.OK, "", T0, "", False, False)
        )  # fmt: skip
    for i in range(60):
        state.apply(Notice(Level.WARNING, f"claude-max is overloaded ({i})", T0 + i))
    return orjson.dumps(state.snapshot())


def per_call_ms(fn: Callable[[], object], number: int = 5) -> float:
    """CPU time, the best of 7 runs: on a shared machine the rest measure the neighbours."""
    runs = timeit.repeat(fn, number=number, repeat=7, timer=time.process_time)
    return min(runs) / number * 1000


def measure(picture: bytes) -> dict[str, float]:
    """Runs in the checkout under test (its ccm_tui first on sys.path)."""
    from ccm_tui.monitor import MonitorState

    state = MonitorState.from_snapshot(orjson.loads(picture), history=HISTORY)
    assert len(state.requests) == HISTORY, len(state.requests)
    own = orjson.dumps(state.snapshot())
    return {
        "encode_ms": per_call_ms(lambda: orjson.dumps(state.snapshot())),
        "decode_ms": per_call_ms(
            lambda: MonitorState.from_snapshot(orjson.loads(own), history=HISTORY)
        ),
        "bytes": len(own),
    }


def run_in(code: Path, picture: Path) -> dict[str, float]:
    env = os.environ | {"PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(picture)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (best kept)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure.read_bytes())))
        return
    with tempfile.TemporaryDirectory() as tmp:
        picture = Path(tmp) / "snapshot.json"
        picture.write_bytes(build_snapshot())
        codes = {"this checkout": ROOT}
        if args.compare:
            codes[str(args.compare)] = args.compare.resolve()
        rounds = [
            {name: run_in(code, picture) for name, code in codes.items()}
            for _ in range(args.rounds)
        ]
    sides = {name: {k: min(r[name][k] for r in rounds) for k in rounds[0][name]} for name in codes}
    print(
        f"full history of {HISTORY} requests; CPU ms, best of {args.rounds} rounds × 7 runs"
        " × 5 calls"
    )
    print(f"{'':<28}{'encode':>12}{'decode':>12}{'bytes':>12}")
    for name, f in sides.items():
        print(f"{name:<28}{f['encode_ms']:>12.2f}{f['decode_ms']:>12.2f}{f['bytes']:>12.0f}")
    if args.compare:
        (this, other) = sides.values()
        ratios = [this[k] / other[k] for k in ("encode_ms", "decode_ms", "bytes")]
        print(f"{'ratio (this / other)':<28}" + "".join(f"{r:>12.2f}" for r in ratios))


if __name__ == "__main__":
    main()
