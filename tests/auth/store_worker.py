"""A second process for the store tests: `count PATH ID N` or `churn PATH ID SIZE [AT N]`.

count: waits for "go" on stdin, then increments entry ID's counter N times.
churn: rewrites entry ID with a large payload forever, printing each sequence number
once it is on disk, until it is killed. With AT N it stops inside its Nth write (see
`pause_inside_writes`), prints "paused" and waits there to be killed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccm_tui.auth.store import TokenEntry, TokenStore

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


def bump(token_id: str) -> object:
    def fn(old: TokenEntry | None) -> TokenEntry:
        if old is None:
            return TokenEntry(token_id, "access", "refresh", EXPIRES, extra={"count": 1})
        return replace(old, extra={**old.extra, "count": old.extra["count"] + 1})

    return fn


def payload(seq: int, size: int) -> str:
    return "AB"[seq % 2] * size


def pause_inside_writes(at: str, nth: int) -> None:
    """Stops inside the Nth atomic write: after creating the temp file (mkstemp), before
    syncing its data (fsync) or before renaming it over the store (replace)."""
    module = tempfile if at == "mkstemp" else os
    real = getattr(module, at)
    # fsync runs twice a write (the temp file, then the directory): stop at the first.
    stop_at = 2 * nth - 1 if at == "fsync" else nth
    calls = 0

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        result = real(*args, **kwargs) if at == "mkstemp" else None
        if calls == stop_at:
            print("paused", flush=True)
            time.sleep(3600)
        return result if at == "mkstemp" else real(*args, **kwargs)

    setattr(module, at, wrapped)


def main() -> None:
    mode, path, token_id = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    store = TokenStore(path)
    if mode == "count":
        count = int(sys.argv[4])
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(count):
            store.update(token_id, bump(token_id))  # type: ignore[arg-type]
        print("done", flush=True)
    elif mode == "churn":
        size = int(sys.argv[4])
        if len(sys.argv) > 6:
            pause_inside_writes(sys.argv[5], int(sys.argv[6]))
        seq = (store.get(token_id) or TokenEntry(token_id, "a", "r", EXPIRES)).extra.get("seq", 0)
        while True:
            seq += 1
            entry = TokenEntry(
                token_id,
                f"access-{seq}",
                "refresh",
                EXPIRES,
                extra={"seq": seq, "payload": payload(seq, size)},
            )
            store.put(entry)
            print(seq, flush=True)


if __name__ == "__main__":
    main()
