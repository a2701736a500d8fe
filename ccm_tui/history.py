"""The persisted history: finished requests and daily usage in SQLite, kept across restarts.

`History` is the writer that `serve` owns. `record` only queues a row, and one thread does
the writing, a batch per commit, so the asyncio loop never waits on the disk. A damaged
file is moved aside and a fresh one started. A file another process keeps locked turns
history off for this run. Either way the problem is reported once, and the proxy goes on.
`HistoryReader` opens the same file read-only: WAL lets `ccm-tui usage` read while
`serve` writes.

Stored: the request's row as `/_ccm/state` lists it, without headers and streamed text,
plus its usage. Every string in it is already masked.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ccm_tui.codec import decoder, encoder
from ccm_tui.monitor import RequestView
from ccm_tui.paths import display, history_path
from ccm_tui.usage import Billing, DailyUsage, Totals, UsageRecord, local_day

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    finished_at REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    billing TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL,
    detail BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (finished_at);
CREATE TABLE IF NOT EXISTS usage_daily (
    day TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    would_cost_usd REAL NOT NULL,
    unpriced INTEGER NOT NULL,
    PRIMARY KEY (day, provider, model)
) WITHOUT ROWID;
"""

_INSERT_REQUEST = """
INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_ADD_DAILY = """
INSERT INTO usage_daily VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (day, provider, model) DO UPDATE SET
    requests = requests + 1,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    cost_usd = cost_usd + excluded.cost_usd,
    would_cost_usd = would_cost_usd + excluded.would_cost_usd,
    unpriced = unpriced + excluded.unpriced
"""

_DAMAGED = ("not a database", "malformed", "corrupt", "disk image")
_LOCKED = ("locked", "busy")


class HistoryError(Exception):
    """The history cannot be read; the message says why and names the file."""


@dataclass(frozen=True, slots=True)
class HistorySettings:
    path: Path = field(default_factory=history_path)  # under the XDG state dir
    max_age_days: float = 30.0
    max_bytes: int = 64 * 1024 * 1024
    queue_size: int = 10_000  # rows waiting for the writer; beyond it rows are dropped
    batch_size: int = 500
    linger_s: float = 0.5  # after a row arrives, wait this long for others: one commit for all
    busy_timeout_s: float = 2.0  # how long one write waits for another process's lock
    locked_give_up_s: float = 60.0  # locked this long, history is turned off
    prune_every_s: float = 600.0


@dataclass(frozen=True, slots=True)
class _Row:
    request: RequestView  # finished: nothing changes it any more, the writer may read it
    usage: UsageRecord | None


_STOP = object()
_encode_request = encoder(RequestView)
_decode_request = decoder(RequestView)


class History:
    """The writer: `open()`, then `record()` from the loop, `close()` at the end."""

    def __init__(
        self,
        settings: HistorySettings,
        on_problem: Callable[[str], None] | None = None,
        day_of: Callable[[float], str] = local_day,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.day_of = day_of
        self.clock = clock
        self.problem = ""  # the last problem reported, "" while all is well
        self.written = 0
        self._dropped = 0  # rows refused by `record` (queue full, history off): loop thread
        self._lost = 0  # rows the writer could not write: its thread
        self._on_problem = on_problem
        self._queue: queue.Queue[object] = queue.Queue(settings.queue_size)
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._enabled = False
        self._locked_since: float | None = None
        self._next_prune = 0.0

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def locked(self) -> bool:
        """Rows are waiting for another process's lock on the file to clear."""
        return self._locked_since is not None

    @property
    def dropped(self) -> int:
        """Rows that will never be written: the queue was full, or history went off."""
        return self._dropped + self._lost

    # -- the caller's side -------------------------------------------------------------------

    def open(self) -> bool:
        """Opens (or creates, or replaces a damaged) file and starts the writer thread.
        False when history is off for this run; the reason was reported."""
        self._db = self._connect_or_repair()
        if self._db is None:
            return False
        self._enabled = True
        self._thread = threading.Thread(target=self._run, name="ccm-history", daemon=True)
        self._thread.start()
        return True

    def record(self, view: RequestView, usage: UsageRecord | None) -> None:
        """Queues a finished request; never blocks (a full queue drops the row, counted).

        The view must be finished (the monitor has folded its RequestFinished): nothing
        changes it after that, so the writer thread turns it into a row, not the loop.
        """
        if not self._enabled:
            self._dropped += 1
            return
        try:
            self._queue.put_nowait(_Row(view, usage))
        except queue.Full:
            self._dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Writes what is queued and stops the thread (blocks up to `timeout`)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout)
            thread.join(timeout)
        self._enabled = False
        if self._db is not None and (thread is None or not thread.is_alive()):
            self._db.close()
            self._db = None

    # -- opening -----------------------------------------------------------------------------

    def _report(self, message: str) -> None:
        self.problem = message
        log.warning("%s", message)
        if self._on_problem is not None:
            self._on_problem(message)

    def _connect_or_repair(self) -> sqlite3.Connection | None:
        path = self.settings.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(path)
        except sqlite3.DatabaseError as err:
            if _is(err, _LOCKED):
                self._report(
                    f"history: {display(path)} is locked by another process ({err}); "
                    "history is off for this run (is another ccm-tui serving?)"
                )
                return None
            if not _is(err, _DAMAGED):
                self._report(f"history: cannot open {display(path)} ({err}); history is off")
                return None
            why = str(err)
        except OSError as err:
            self._report(f"history: cannot use {display(path)} ({err}); history is off")
            return None
        aside = _set_aside(path)
        try:
            db = self._connect(path)
        except (sqlite3.DatabaseError, OSError) as err:
            self._report(f"history: cannot start a new {display(path)} ({err}); history is off")
            return None
        self._report(
            f"history: {display(path)} was damaged ({why}); it is kept as {display(aside)} "
            "and a new history has started"
        )
        return db

    def _connect(self, path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(
            path,
            timeout=self.settings.busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"a newer ccm-tui wrote it (schema {version}; this one knows "
                    f"{SCHEMA_VERSION}), so it is left as it is"
                )
            if version == 0:  # before anything is written: it cannot be changed later
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {check}")
            if version == 0:  # new: the schema and its version in one transaction
                db.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
        except BaseException:
            db.close()
            raise
        return db

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[_Row] = []
        try:
            while self._enabled:
                stop = self._take(pending)
                if pending:
                    self._write(pending)
                if stop:
                    break
        except Exception as err:  # the thread must not die silently
            self._enabled = False
            self._report(f"history: writing stopped ({err!r}); history is off for this run")
        self._lost += len(pending)

    def _take(self, pending: list[_Row]) -> bool:
        """Waits for a row (only briefly while rows wait for a lock to clear), then takes
        what else comes within `linger_s`, up to a batch. True when asked to stop."""
        limit = max(self.settings.batch_size, len(pending) + 1)
        wait: float | None = 0.2 if pending else None
        deadline: float | None = None
        while len(pending) < limit:
            try:
                item = self._queue.get(timeout=wait) if wait != 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return True
            assert isinstance(item, _Row)
            pending.append(item)
            # Under traffic, rows gather for a moment and share a commit: a commit per
            # row would cost the process more than the request it records.
            if deadline is None:
                deadline = time.monotonic() + self.settings.linger_s
            wait = max(0.0, deadline - time.monotonic()) or 0
        # Locked for long, the rows waiting are bounded like the queue: the oldest go first.
        overflow = len(pending) - self.settings.queue_size
        if overflow > 0:
            del pending[:overflow]
            self._lost += overflow
        return False

    def _write(self, pending: list[_Row]) -> None:
        """Commits the batch and empties it; on a lock the batch stays for the next try."""
        assert self._db is not None
        batch = pending[: self.settings.batch_size]
        try:
            self._commit(batch)
        except sqlite3.DatabaseError as err:
            if _is(err, _LOCKED):
                self._still_locked(err)
                return
            if _is(err, _DAMAGED):
                self._replace_damaged(err)
                return
            self._enabled = False
            self._report(f"history: cannot write ({err}); history is off for this run")
            return
        self._locked_since = None
        del pending[: len(batch)]
        self.written += len(batch)
        now = self.clock()
        if now >= self._next_prune:
            self._next_prune = now + self.settings.prune_every_s
            self._prune(now)

    def _commit(self, batch: list[_Row]) -> None:
        assert self._db is not None
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for row in batch:
                self._insert(db, row)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _insert(self, db: sqlite3.Connection, row: _Row) -> None:
        r, u = _encode_request(row.request), row.usage
        r["headers"], r["blocks"] = [], []
        duration = (r.get("duration_ms") or 0.0) / 1000
        db.execute(
            _INSERT_REQUEST,
            (
                r["request_id"], r["at"], u.at if u else r["at"] + duration,
                r["provider"], r["actual_model"], u.billing.value if u else "",
                r["input_tokens"], r["output_tokens"], r["cache_read_tokens"],
                r["cache_creation_tokens"], u.cost_usd if u else None, orjson.dumps(r),
            ),
        )  # fmt: skip
        if u is None:
            return
        totals = Totals()
        totals.add(u)
        db.execute(
            _ADD_DAILY,
            (
                self.day_of(u.at), u.provider, u.model, totals.input_tokens, totals.output_tokens,
                totals.cache_read_tokens, totals.cache_write_tokens, totals.cost_usd,
                totals.would_cost_usd, totals.unpriced,
            ),
        )  # fmt: skip

    def _still_locked(self, err: sqlite3.DatabaseError) -> None:
        now = time.monotonic()
        if self._locked_since is None:
            self._locked_since = now
        elif now - self._locked_since >= self.settings.locked_give_up_s:
            self._enabled = False
            self._report(
                f"history: {display(self.settings.path)} has been locked by another process "
                f"for {self.settings.locked_give_up_s:g} s ({err}); history is off for this run"
            )

    def _replace_damaged(self, err: sqlite3.DatabaseError) -> None:
        assert self._db is not None
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._db = None
        path = self.settings.path
        aside = _set_aside(path)
        try:
            self._db = self._connect(path)
        except (sqlite3.DatabaseError, OSError) as again:
            self._enabled = False
            self._report(f"history: {display(path)} was damaged ({err}) and cannot be replaced "
                         f"({again}); history is off for this run")  # fmt: skip
            return
        self._report(
            f"history: {display(path)} was damaged ({err}); it is kept as {display(aside)} "
            "and a new history has started"
        )

    def _prune(self, now: float) -> None:
        """Keeps the file within its age and size: the oldest requests go first."""
        assert self._db is not None
        db = self._db
        oldest = now - self.settings.max_age_days * 86400
        with contextlib.suppress(sqlite3.OperationalError):  # locked: next time
            db.execute("DELETE FROM requests WHERE finished_at < ?", (oldest,))
            db.execute("DELETE FROM usage_daily WHERE day < ?", (self.day_of(oldest),))
            while _used_bytes(db) > self.settings.max_bytes:
                count = db.execute("SELECT count(*) FROM requests").fetchone()[0]
                if count == 0:
                    break
                db.execute(
                    "DELETE FROM requests WHERE request_id IN "
                    "(SELECT request_id FROM requests ORDER BY finished_at LIMIT ?)",
                    (max(1, count // 10),),
                )
            db.executescript("PRAGMA incremental_vacuum;")  # execute() would free one page


class HistoryReader:
    """Reads the history read-only, while a `serve` may be writing it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = history_path() if path is None else path

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        try:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, timeout=2.0)
        except sqlite3.Error as err:
            raise HistoryError(f"cannot open {display(self.path)}: {err}") from None
        try:
            return db.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []  # created, not yet written
            raise HistoryError(f"cannot read {display(self.path)}: {err}") from None
        except sqlite3.DatabaseError as err:
            raise HistoryError(f"{display(self.path)} is damaged: {err}") from None
        finally:
            db.close()

    def requests(self, since: float, limit: int = 1000) -> list[RequestView]:
        """Finished requests from `since` on, newest first (without headers or blocks)."""
        rows = self._query(
            "SELECT detail FROM requests WHERE finished_at >= ? ORDER BY finished_at DESC LIMIT ?",
            (since, limit),
        )
        return [_decode_request(orjson.loads(detail)) for (detail,) in rows]

    def records(self, since: float) -> list[UsageRecord]:
        """Usage of the requests from `since` on, oldest first (for the rolling windows)."""
        rows = self._query(
            "SELECT request_id, finished_at, provider, model, billing, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd FROM requests "
            "WHERE finished_at >= ? AND billing != '' ORDER BY finished_at",
            (since,),
        )
        return [UsageRecord(r[0], r[1], r[2], r[3], Billing(r[4]), *r[5:]) for r in rows]

    def daily(self, since_day: str = "") -> list[DailyUsage]:
        """Per-day rows from `since_day` on, newest day first."""
        rows = self._query(
            "SELECT * FROM usage_daily WHERE day >= ? ORDER BY day DESC, provider, model",
            (since_day,),
        )
        return [DailyUsage(r[0], r[1], r[2], Totals(*r[3:])) for r in rows]


def _is(err: BaseException, words: tuple[str, ...]) -> bool:
    text = str(err).lower()
    return any(w in text for w in words)


def _used_bytes(db: sqlite3.Connection) -> int:
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page_size)


def _set_aside(path: Path) -> Path:
    """Moves a damaged database (and its WAL files) out of the way, kept for inspection."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    with contextlib.suppress(FileNotFoundError):
        path.rename(aside)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            side.rename(aside.with_name(aside.name + suffix))
    return aside
