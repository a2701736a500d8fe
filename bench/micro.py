"""Microbenchmarks of the hot path's pieces, in-process: `python bench/micro.py`.

Each figure is the median of several timeit repeats, in microseconds per call. They tell
where the proxy's per-request CPU goes; `run.py` tells what a client sees.
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from bodies import body_bytes, fixture
from multidict import CIMultiDict

from ccm_tui.config import load_config
from ccm_tui.events import (
    AttemptStarted,
    AuthMode,
    EventBus,
    Failure,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    StreamProgressed,
)
from ccm_tui.history import History, HistorySettings
from ccm_tui.masking import mask_headers
from ccm_tui.metrics import Metrics
from ccm_tui.monitor import MonitorState
from ccm_tui.providers.anthropic import Credential, response_headers, upstream_headers
from ccm_tui.proxy.body import parse_body, with_model
from ccm_tui.proxy.observer import ResponseObserver
from ccm_tui.proxy.routing import route
from ccm_tui.ratelimits import parse_rate_limits
from ccm_tui.requestlog import RequestLogger
from ccm_tui.sse import complete_length
from ccm_tui.usage import UsageState


def per_call_us(fn: Any, number: int) -> float:
    runs = timeit.repeat(fn, number=number, repeat=7)
    return round(statistics.median(runs) / number * 1e6, 2)


def main() -> None:
    import tempfile

    import harness as h

    tmp = Path(tempfile.mkdtemp())
    config = load_config(h.write_config(tmp / "c.toml", "http://127.0.0.1:9", 1))
    provider = config.providers[0]
    _, fx_headers = fixture()
    headers = CIMultiDict(fx_headers)
    items = list(headers.items())
    cc_raw, _ = body_bytes("cc", "claude-sonnet-4-5")
    big_raw, _ = body_bytes("big", "claude-sonnet-4-5")
    cc_body = parse_body(cc_raw)
    big_body = parse_body(big_raw)
    up_headers = CIMultiDict(
        {
            "content-type": "application/json",
            "request-id": "req_0123456789",
            "anthropic-ratelimit-requests-limit": "4000",
            "anthropic-ratelimit-requests-remaining": "3999",
            "anthropic-ratelimit-requests-reset": "2025-01-01T00:00:00Z",
            "anthropic-ratelimit-tokens-limit": "400000",
            "anthropic-ratelimit-tokens-remaining": "399000",
            "anthropic-ratelimit-tokens-reset": "2025-01-01T00:00:00Z",
            "date": "Mon, 01 Jan 2025 00:00:00 GMT",
            "server": "Python/3.11 aiohttp/3.14",
            "content-length": "420",
        }
    )
    # A subscription answer's headers: the unified windows (docs/ratelimit-headers.md).
    sub_headers = CIMultiDict(
        {
            "content-type": "text/event-stream; charset=utf-8",
            "request-id": "req_0123456789",
            "date": "Mon, 01 Jan 2025 00:00:00 GMT",
            "anthropic-ratelimit-unified-status": "allowed",
            "anthropic-ratelimit-unified-5h-status": "allowed",
            "anthropic-ratelimit-unified-5h-reset": "1783063800",
            "anthropic-ratelimit-unified-5h-utilization": "0.01",
            "anthropic-ratelimit-unified-7d-status": "allowed",
            "anthropic-ratelimit-unified-7d-reset": "1783116000",
            "anthropic-ratelimit-unified-7d-utilization": "0.57",
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-fallback-percentage": "0.5",
            "anthropic-ratelimit-unified-reset": "1783063800",
            "anthropic-ratelimit-unified-overage-status": "rejected",
            "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
            "server": "cloudflare",
        }
    )
    credential = Credential(AuthMode.PASSTHROUGH)

    bus = EventBus()
    state = MonitorState()
    bus.add_listener(state.apply)
    bus.add_listener(RequestLogger(state))
    counter = iter(range(10**9))
    frames = b"".join(
        b"event: content_block_delta\ndata: "
        + orjson.dumps(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hello "},
            }
        )
        + b"\n\n"
        for _ in range(1)
    )

    def lifecycle(bus: EventBus = bus) -> None:
        rid = f"r{next(counter)}"
        bus.publish(
            RequestStarted(rid, time.time(), "POST", "/v1/messages", "claude-sonnet-4-5", "sonnet",
                           "auto_map", False, 3, 7, "claude-cli/2", mask_headers(items))
        )  # fmt: skip
        bus.publish(AttemptStarted(rid, 1, "fast", "m", AuthMode.PASSTHROUGH, time.time()))
        bus.publish(ResponseStarted(rid, 1, "fast", 200, 1.0))
        bus.publish(
            RequestFinished(
                rid, 200, Failure.OK, "fast", "m", 10, 20, 0, 0, "end_turn", 2.0, "", time.time()
            )
        )

    watched = EventBus()
    watched_state = MonitorState()
    usage = UsageState()
    metrics = Metrics(watched_state, usage)
    history = History(HistorySettings(tmp / "history.sqlite3"))
    history.open()

    def fold_all(event: Any) -> None:
        watched_state.apply(event)
        record = usage.apply(event)
        metrics.apply(event)
        if isinstance(event, RequestFinished):
            history.record(watched_state.requests[event.request_id], record)

    watched.add_listener(fold_all)

    observer = ResponseObserver()
    observer.feed(
        b"event: message_start\ndata: "
        + orjson.dumps({"type": "message_start", "message": {"model": "m", "usage": {}}})
        + b"\n\nevent: content_block_start\ndata: "
        + orjson.dumps(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}
        )
        + b"\n\n"
    )

    import logging

    logging.basicConfig(filename=tmp / "log", level=logging.INFO)
    figures = {
        "mask_headers (fixture headers)": per_call_us(lambda: mask_headers(items), 2000),
        "upstream_headers (fixture headers)": per_call_us(
            lambda: upstream_headers(items, provider, credential, None), 2000
        ),
        "response_headers (11 upstream headers)": per_call_us(
            lambda: response_headers(up_headers.items()), 5000
        ),
        "events of one request: publish + fold + log line": per_call_us(lifecycle, 2000),
        "events of one request: + usage, metrics, history.record": per_call_us(
            lambda: lifecycle(watched), 2000
        ),
        "parse_rate_limits (11 API-key headers)": per_call_us(
            lambda: parse_rate_limits(up_headers.items()), 5000
        ),
        "parse_rate_limits (16 subscription headers)": per_call_us(
            lambda: parse_rate_limits(sub_headers.items()), 5000
        ),
        "metrics.render (one provider)": per_call_us(metrics.render, 200),
        "StreamProgressed publish + fold": per_call_us(
            lambda: bus.publish(StreamProgressed("r1", 1, 2, observer.blocks())), 5000
        ),
        "ResponseObserver.feed (one delta frame)": per_call_us(lambda: observer.feed(frames), 5000),
        "complete_length (one frame)": per_call_us(lambda: complete_length(frames), 20000),
        "parse_body (Claude Code request)": per_call_us(lambda: parse_body(cc_raw), 2000),
        "route (Claude Code request)": per_call_us(
            lambda: route(config, cc_body, len(cc_raw)), 5000
        ),
        "with_model (Claude Code request)": per_call_us(
            lambda: with_model(cc_raw, cc_body, "claude-sonnet-4-5-20250929"), 5000
        ),
        "parse_body (1 MB)": per_call_us(lambda: parse_body(big_raw), 20),
        "with_model (1 MB)": per_call_us(
            lambda: with_model(big_raw, big_body, "claude-sonnet-4-5-20250929"), 50
        ),
        "route (1 MB)": per_call_us(lambda: route(config, big_body, len(big_raw)), 200),
        "orjson.dumps (1 MB body)": per_call_us(lambda: orjson.dumps(big_body), 20),
    }
    history.close()
    width = max(map(len, figures))
    for name, us in figures.items():
        print(f"{name:<{width}}  {us:>10.2f} µs")


if __name__ == "__main__":
    main()
