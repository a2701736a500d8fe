"""history.py: requests and usage kept in SQLite across restarts, whatever the file's state."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from ccm_tui.events import AuthMode
from ccm_tui.history import SCHEMA_VERSION, History, HistoryError, HistoryReader, HistorySettings
from ccm_tui.usage import UsageState

from support import RequestFeed

NOW = time.time()


def settings(path: Path, **overrides: object) -> HistorySettings:
    return HistorySettings(path, **overrides)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.01)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.sqlite3"


def test_restart_gives_back_the_same_requests_and_totals(path):
    history = History(settings(path))
    assert history.open()
    feed = RequestFeed(history)
    for i in range(20):
        feed.request(
            f"r{i}", NOW - 3600 + i * 60, auth=AuthMode.APIKEY if i % 3 else AuthMode.OAUTH
        )
    history.close()
    assert (history.written, history.dropped, history.problem) == (20, 0, "")

    reopened = History(settings(path))
    assert reopened.open()
    reopened.close()
    reader = HistoryReader(path)
    restored = UsageState()
    restored.load(reader.daily(), reader.records(NOW - 7 * 86400))
    for query in (
        lambda u: u.today(NOW),
        lambda u: u.last(5 * 3600, NOW),
        lambda u: u.last(7 * 86400, NOW),
        lambda u: u.minute_series(NOW),
    ):
        assert query(restored) == query(feed.usage)
    stored = reader.requests(NOW - 86400)
    assert [r.request_id for r in stored] == list(reversed(feed.state.requests))
    for view in stored:
        expected = replace(feed.state.requests[view.request_id], headers=(), blocks=())
        assert view == expected


def test_no_headers_or_streamed_text_are_stored(path):
    history = History(settings(path))
    assert history.open()
    RequestFeed(history).request("r1")
    history.close()
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"x-api-key" not in raw
    assert b"the streamed answer" not in raw
    assert b"claude-cli/2.1.332" in raw  # the row itself is there


def test_a_garbage_file_is_kept_aside_and_a_new_history_starts(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    reported: list[str] = []
    history = History(settings(path), on_problem=reported.append)
    assert history.open()
    RequestFeed(history).request("r1")
    history.close()
    assert len(reported) == 1
    assert "was damaged" in reported[0] and "a new history has started" in reported[0]
    aside = [p for p in path.parent.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0].name in reported[0]
    assert aside[0].read_bytes().startswith(b"this is not a database")
    assert [r.request_id for r in HistoryReader(path).requests(0)] == ["r1"]


def test_a_truncated_file_is_kept_aside_and_a_new_history_starts(path):
    history = History(settings(path))
    assert history.open()
    feed = RequestFeed(history)
    for i in range(300):
        feed.request(f"old{i}", error="x" * 200)
    history.close()
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)
    reported: list[str] = []
    again = History(settings(path), on_problem=reported.append)
    assert again.open()
    RequestFeed(again).request("new")
    again.close()
    assert len(reported) == 1 and "was damaged" in reported[0]
    assert [r.request_id for r in HistoryReader(path).requests(0)] == ["new"]


def test_a_file_from_a_newer_version_is_left_alone_and_history_is_off(path):
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    reported: list[str] = []
    history = History(settings(path), on_problem=reported.append)
    assert not history.open()
    RequestFeed(history).request("r1")  # still safe to call
    assert history.dropped == 1
    assert len(reported) == 1 and "a newer ccm-tui wrote it" in reported[0]
    assert path.read_bytes() == before


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_rows_wait_out_a_lock_another_process_holds_and_none_are_lost(path):
    history = History(settings(path, busy_timeout_s=0.05, locked_give_up_s=60))
    assert history.open()
    other = _hold_write_lock(path)
    feed = RequestFeed(history)
    for i in range(50):
        feed.request(f"r{i}")
    wait_until(lambda: history.locked)
    assert history.written == 0 and history.enabled
    other.execute("COMMIT")
    other.close()
    wait_until(lambda: history.written == 50)
    assert not history.locked
    history.close()
    assert history.problem == "" and history.dropped == 0
    assert len(HistoryReader(path).requests(0)) == 50


def test_a_lock_held_too_long_is_reported_once_and_history_goes_off(path):
    reported: list[str] = []
    history = History(
        settings(path, busy_timeout_s=0.05, locked_give_up_s=0.3), on_problem=reported.append
    )
    assert history.open()
    other = _hold_write_lock(path)
    try:
        feed = RequestFeed(history)
        feed.request("r1")
        wait_until(lambda: not history.enabled)
        feed.request("r2")  # after it went off: refused at once, counted
        history.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(reported) == 1
    assert "locked by another process" in reported[0] and "history is off" in reported[0]
    assert history.dropped == 2


def test_recording_never_waits_for_the_disk(path):
    history = History(settings(path, busy_timeout_s=0.05, queue_size=100, batch_size=50))
    assert history.open()
    other = _hold_write_lock(path)
    try:
        feed = RequestFeed()
        for i in range(2000):
            feed.request(f"r{i}")
        views = list(feed.state.requests.values())
        started = time.perf_counter()
        for view in views:
            history.record(view, None)
        elapsed = time.perf_counter() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    history.close()
    # 2000 rows into a queue of 100 behind a lock: most are refused, none waited. What
    # is kept at most: the queue, the writer's bounded backlog, and one batch it was still
    # gathering when the lock cleared and close asked it to finish.
    assert history.dropped + history.written == 2000
    assert history.written <= 2 * 100 + 50
    assert elapsed < 2.0


def test_old_requests_and_days_are_pruned_by_age(path):
    history = History(settings(path, max_age_days=30))
    assert history.open()
    feed = RequestFeed(history)
    feed.request("ancient", NOW - 40 * 86400)
    feed.request("recent", NOW - 86400)
    history.close()
    again = History(settings(path, max_age_days=30))
    assert again.open()
    RequestFeed(again).request("now")  # the first write prunes
    again.close()
    reader = HistoryReader(path)
    assert sorted(r.request_id for r in reader.requests(0)) == ["now", "recent"]
    oldest_day = time.strftime("%Y-%m-%d", time.localtime(NOW - 40 * 86400))
    assert all(row.day > oldest_day for row in reader.daily())


def test_the_file_stays_within_its_size_keeping_the_newest(path):
    limit = 256 * 1024
    history = History(settings(path, max_bytes=limit, prune_every_s=0))
    assert history.open()
    feed = RequestFeed(history)
    for i in range(3000):
        feed.request(f"r{i:05}", NOW - 3000 + i, error="e" * 300)
    history.close()
    db = sqlite3.connect(path)
    page_size, pages, free = (
        db.execute(f"PRAGMA {p}").fetchone()[0]
        for p in ("page_size", "page_count", "freelist_count")
    )
    db.close()
    assert (pages - free) * page_size <= limit
    assert path.stat().st_size <= limit + 16 * page_size  # the freed pages went back too
    kept = [r.request_id for r in HistoryReader(path).requests(0, limit=5000)]
    assert kept[0] == "r02999"
    assert "r00000" not in kept and len(kept) < 3000


def test_reading_a_history_that_does_not_exist_gives_nothing(tmp_path):
    reader = HistoryReader(tmp_path / "none.sqlite3")
    assert (reader.requests(0), reader.records(0), reader.daily()) == ([], [], [])


def test_reading_a_damaged_history_is_one_clear_error(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage" * 500)
    with pytest.raises(HistoryError, match="is damaged"):
        HistoryReader(path).daily()


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from support import RequestFeed
from ccm_tui.history import History, HistorySettings
history = History(HistorySettings(Path({path!r}), batch_size=20))
assert history.open()
feed = RequestFeed(history)
print("ready", flush=True)
for i in range({count}):
    feed.request(f"r{{i}}")
    if i % 25 == 0:
        time.sleep(0.01)
history.close()
print(history.written, history.dropped, repr(history.problem), flush=True)
"""

READER = """
import sys
from pathlib import Path
from ccm_tui.history import HistoryReader
seen = 0
while True:
    rows = HistoryReader(Path({path!r})).daily()
    count = sum(r.totals.requests for r in rows)
    assert count >= seen, (count, seen)
    seen = count
    if count == {count}:
        break
print("read", seen, flush=True)
"""


def test_a_reader_process_reads_while_a_writer_process_writes(path):
    count = 1000
    tests = str(Path(__file__).parents[1])
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(tests=tests, path=str(path), count=count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(READER.format(path=str(path), count=count))],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []

    def read_here() -> None:
        while writer.poll() is None:
            seen.append(sum(r.totals.requests for r in HistoryReader(path).daily()))

    here = threading.Thread(target=read_here)
    here.start()
    out, _ = writer.communicate(timeout=60)
    here.join(timeout=60)
    reader_out, _ = reader.communicate(timeout=60)
    assert out.split() == [str(count), "0", "''"]
    assert reader.returncode == 0 and reader_out.split() == ["read", str(count)]
    assert seen == sorted(seen) and len(seen) > 1
    assert sum(r.totals.requests for r in HistoryReader(path).daily()) == count


def test_rows_are_json_the_reader_can_parse(path):
    history = History(settings(path))
    assert history.open()
    RequestFeed(history).request("r1")
    history.close()
    db = sqlite3.connect(path)
    (detail,) = db.execute("SELECT detail FROM requests").fetchone()
    db.close()
    assert orjson.loads(detail)["request_id"] == "r1"


def test_the_file_lives_under_the_xdg_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    expected = tmp_path / "ccm-tui" / "history.sqlite3"
    assert HistorySettings().path == expected
    assert HistoryReader().path == expected
