"""What `run.py` and `isolation.py` share: processes on loopback, /proc readings, statistics.

Every process this starts is stopped by `Procs.close()` (also at exit), by its own pid.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# The actual model every route ends at; clients ask for the names Claude Code uses.
ACTUAL_MODEL = "claude-sonnet-4-5-20250929"
REQUESTED_MODEL = "claude-sonnet-4-5"
STREAM_MODEL = "bench-stream"
STREAM_SCENARIO = {"event_interval_ms": 20, "output_chunks": 10}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat (fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * PAGE_KB / 1024


def http_ok(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def http_delete(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=5):
        pass


def tcp_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Proc:
    def __init__(self, name: str, cmd: Sequence[str], logdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = logdir / f"{name}.log"
        self._file = self.log.open("wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            list(cmd), stdout=self._file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=ROOT,
        )  # fmt: skip
        self.pid = self.popen.pid

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            match = regex.search(self.log.read_text(errors="replace"))
            if match:
                return match
            if self.popen.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not print /{pattern}/:\n{self.tail()}")

    def wait_until(self, ready: Any, timeout: float = 20.0, step: float = 0.002) -> float:
        """Seconds from spawn until `ready()` is true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready():
                return time.perf_counter() - self.started
            if self.popen.poll() is not None:
                break
            time.sleep(step)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._file.close()


class Procs:
    """The processes of one run, and the scratch directory they share."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ccm-bench-"))
        self.procs: list[Proc] = []
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "XDG_DATA_HOME": str(self.dir / "data"),
            "XDG_STATE_HOME": str(self.dir / "state"),
        }
        atexit.register(self.close)

    def start(self, name: str, cmd: Sequence[str], **env: str) -> Proc:
        proc = Proc(name, cmd, self.dir, {**self.env, **env})
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self.procs.clear()


# -- the processes under test ------------------------------------------------------------


def start_sim(procs: Procs) -> tuple[Proc, str]:
    scenario = orjson.dumps(STREAM_SCENARIO).decode()
    proc = procs.start(
        "sim", [PY, "-m", "ccm_tui.sim", "--port", "0", "--scenario", f"s20={scenario}"]
    )
    url = proc.wait_for(r"listening on (http://\S+)").group(1)
    return proc, url


def start_baseline(procs: Procs, sim_url: str, client: str = "aiohttp") -> tuple[Proc, str]:
    port = free_port()
    cmd = [PY, str(BENCH / "baseline.py"), "--upstream", sim_url, "--model", ACTUAL_MODEL]
    proc = procs.start(f"baseline-{client}", [*cmd, "--port", str(port), "--client", client])
    proc.wait_until(lambda: tcp_open(port))
    return proc, f"http://127.0.0.1:{port}"


def write_config(
    path: Path, sim_url: str, port: int, log_level: str = "info", usage: bool = True
) -> Path:
    """`usage`: history (in the scratch dir, never the user's) and /metrics on or off."""
    on = "true" if usage else "false"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
log_level = "{log_level}"
metrics = {on}

[history]
enabled = {on}
path = "{path.with_suffix(".history.sqlite3")}"

[router]
default = "sonnet"

[[providers]]
name = "fast"
provider_type = "anthropic"
auth_type = "passthrough"
base_url = "{sim_url}/p/fast"

[[providers]]
name = "s20"
provider_type = "anthropic"
auth_type = "passthrough"
base_url = "{sim_url}/p/s20"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "fast"
actual_model = "{ACTUAL_MODEL}"

[[models]]
name = "{STREAM_MODEL}"
[[models.mappings]]
priority = 1
provider = "s20"
actual_model = "{ACTUAL_MODEL}"

[tui]
history = 1000
"""
    )
    return path


def ccm_command(config: Path, port: int) -> list[str]:
    # `python -m ccm_tui` is what the `ccm-tui` script runs; with PYTHONPATH=ROOT it is this
    # checkout's code whatever the virtualenv has installed.
    return [PY, "-m", "ccm_tui", "serve", "--config", str(config), "--port", str(port)]


def start_ccm(
    procs: Procs,
    sim_url: str,
    name: str = "ccm-tui",
    code: Path | None = None,
    env: dict[str, str] | None = None,
    usage: bool = True,
) -> tuple[Proc, str, float]:
    """`ccm-tui serve` on a free port; also returns seconds from spawn until /health answers.
    `code`: another checkout whose ccm_tui to run (a before/after comparison in one run);
    `usage`: with history and /metrics (the default) or without."""
    port = free_port()
    config = write_config(procs.dir / f"{name}.toml", sim_url, port, usage=usage)
    extra = {"PYTHONPATH": str(code)} if code else {}
    proc = procs.start(name, ccm_command(config, port), **extra, **(env or {}))
    url = f"http://127.0.0.1:{port}"
    startup = proc.wait_until(lambda: http_ok(url + "/health", 0.2))
    return proc, url, startup


@dataclass
class Target:
    name: str
    url: str  # POST here for the non-streaming requests
    stream_url: str
    model: str
    stream_model: str
    pid: int | None  # the proxy process (None for direct-to-upstream)


def direct_target(sim_url: str) -> Target:
    return Target(
        "direct",
        f"{sim_url}/p/fast/v1/messages?beta=true",
        f"{sim_url}/p/s20/v1/messages?beta=true",
        ACTUAL_MODEL,
        ACTUAL_MODEL,
        None,
    )


def baseline_target(name: str, url: str, pid: int) -> Target:
    return Target(
        name,
        f"{url}/p/fast/v1/messages?beta=true",
        f"{url}/p/s20/v1/messages?beta=true",
        REQUESTED_MODEL,
        REQUESTED_MODEL,
        pid,
    )


def ccm_target(name: str, url: str, pid: int) -> Target:
    path = f"{url}/v1/messages?beta=true"
    return Target(name, path, path, REQUESTED_MODEL, STREAM_MODEL, pid)


class Loadgen:
    """The load generator process, one JSON command and answer per line."""

    def __init__(self, procs: Procs) -> None:
        self.popen = subprocess.Popen(
            [PY, str(BENCH / "loadgen.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=procs.env, cwd=ROOT,
        )  # fmt: skip
        self.pid = self.popen.pid
        atexit.register(self.close)

    def call(self, **cmd: Any) -> dict[str, Any]:
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.popen.stdin.write(orjson.dumps(cmd) + b"\n")
        self.popen.stdin.flush()
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError("the load generator died")
        result = orjson.loads(line)
        if "error" in result:
            raise RuntimeError(f"load generator, {cmd['op']}: {result['error']}")
        return result

    def send(self, **cmd: Any) -> None:
        """Starts a command without waiting; `receive()` takes its answer."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(orjson.dumps(cmd) + b"\n")
        self.popen.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError("the load generator died")
        result = orjson.loads(line)
        if "error" in result:
            raise RuntimeError(f"load generator: {result['error']}")
        return result

    def close(self) -> None:
        if self.popen.poll() is None:
            assert self.popen.stdin is not None
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


# -- statistics -----------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank on sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def med(values: Iterable[float]) -> float:
    items = [v for v in values if v == v]
    return statistics.median(items) if items else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def rounded(value: Any, digits: int = 3) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def cpu_of(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else 0.0


def latency_cell(
    lg: Loadgen, targets: list[Target], body: str, concurrency: int, n: int, rounds: int
) -> dict[str, Any]:
    """p50/p99 per target per round, the proxies' added latency against direct (median over
    rounds of the per-round differences) and CPU per request of each proxy process."""
    per: dict[str, dict[str, list[float]]] = {
        t.name: {"p50": [], "p99": [], "cpu": []} for t in targets
    }
    added: dict[str, dict[str, list[float]]] = {
        t.name: {"p50": [], "p99": []} for t in targets if t.pid is not None
    }
    warmup = 3 if body == "big" else 20
    for r in range(rounds):
        order = targets[r % len(targets) :] + targets[: r % len(targets)]
        this: dict[str, tuple[float, float]] = {}
        for t in order:
            before = cpu_of(t.pid)
            res = lg.call(op="latency", url=t.url, body=body, model=t.model,
                          concurrency=concurrency, n=n, warmup=warmup)  # fmt: skip
            cpu = cpu_of(t.pid) - before
            lat = res["lat"]
            this[t.name] = (pct(lat, 50), pct(lat, 99))
            per[t.name]["p50"].append(ms(this[t.name][0]))
            per[t.name]["p99"].append(ms(this[t.name][1]))
            # Warm-up and connection-opening requests ran too: count them in the denominator.
            per[t.name]["cpu"].append(ms(cpu / (n + warmup + concurrency)))
        for name in added:
            added[name]["p50"].append(ms(this[name][0] - this["direct"][0]))
            added[name]["p99"].append(ms(this[name][1] - this["direct"][1]))
    out: dict[str, Any] = {"body": body, "concurrency": concurrency, "n": n, "rounds": rounds}
    for t in targets:
        entry: dict[str, Any] = {
            "p50_ms": med(per[t.name]["p50"]),
            "p99_ms": med(per[t.name]["p99"]),
            "p50_ms_rounds": per[t.name]["p50"],
        }
        if t.name in added:
            entry["added_p50_ms"] = med(added[t.name]["p50"])
            entry["added_p99_ms"] = med(added[t.name]["p99"])
            entry["added_p50_ms_rounds"] = added[t.name]["p50"]
            entry["cpu_ms_per_request"] = med(per[t.name]["cpu"])
        out[t.name] = entry
    return rounded(out)


def stream_cell(
    lg: Loadgen, targets: list[Target], n: int, rounds: int, concurrency: int = 1
) -> dict[str, Any]:
    """Time to first byte and SSE event arrivals (the upstream sends one every 20 ms)."""
    ttfb: dict[str, list[float]] = {t.name: [] for t in targets}
    offsets: dict[str, list[list[float]]] = {t.name: [] for t in targets}
    gaps: dict[str, list[float]] = {t.name: [] for t in targets}
    totals: dict[str, list[float]] = {t.name: [] for t in targets}
    cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    added_ttfb: dict[str, list[float]] = {t.name: [] for t in targets if t.pid is not None}
    for r in range(rounds):
        order = targets[r % len(targets) :] + targets[: r % len(targets)]
        this: dict[str, float] = {}
        for t in order:
            before = cpu_of(t.pid)
            res = lg.call(op="stream", url=t.stream_url, body="cc_stream", model=t.stream_model,
                          n=n, warmup=1, concurrency=concurrency)  # fmt: skip
            cpu[t.name].append(ms((cpu_of(t.pid) - before) / (n + 1)))
            streams = res["streams"]
            this[t.name] = med(s["ttfb"] for s in streams)
            ttfb[t.name].extend(s["ttfb"] for s in streams)
            for s in streams:
                offsets[t.name].append(s["events"])
                totals[t.name].append(s["total"])
                ev = s["events"]
                gaps[t.name].extend(b - a for a, b in itertools.pairwise(ev))
        for name in added_ttfb:
            added_ttfb[name].append(ms(this[name] - this["direct"]))
    out: dict[str, Any] = {
        "body": "cc_stream",
        "concurrency": concurrency,
        "n": n,
        "rounds": rounds,
        "event_interval_ms": STREAM_SCENARIO["event_interval_ms"],
    }
    events = min(len(o) for os_ in offsets.values() for o in os_) if offsets else 0
    direct_at = [med(o[i] for o in offsets["direct"]) for i in range(events)]
    for t in targets:
        g = gaps[t.name]
        entry: dict[str, Any] = {
            "ttfb_p50_ms": ms(med(ttfb[t.name])),
            "events_per_stream": events,
            "gap_ms": {f"p{q}": ms(pct(g, q)) for q in (1, 5, 50, 95, 99)},
            "gaps_under_5ms": sum(1 for x in g if x < 0.005),
            "gaps_total": len(g),
        }
        if t.name in added_ttfb:
            at = [med(o[i] for o in offsets[t.name]) for i in range(events)]
            delays = [a - d for a, d in zip(at, direct_at, strict=True)][1:]
            entry["added_ttfb_ms"] = med(added_ttfb[t.name])
            entry["added_ttfb_ms_rounds"] = added_ttfb[t.name]
            # Each event's arrival (median over streams) against the same event direct.
            entry["added_event_delay_ms"] = {
                "p50": ms(med(delays)),
                "max": ms(max(delays)) if delays else None,
            }
            entry["cpu_ms_per_request"] = med(cpu[t.name])
        out[t.name] = entry
    return rounded(out)


def dump(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
