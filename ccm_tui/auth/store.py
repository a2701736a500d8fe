"""The OAuth token store: claude-code-mux's `oauth_tokens.json`, shared safely between processes.

The file is a JSON object keyed by provider id; each entry holds `provider_id`,
`access_token`, `refresh_token` and `expires_at` (RFC 3339), plus ccm-tui's
`api_key` (the key derived with `create_api_key`). Fields and top-level keys that
ccm-tui does not know belong to someone else (claude-code-mux, a newer ccm-tui)
and survive every rewrite. Every read-modify-write holds a file lock, so two
processes never lose each other's update, and every write is atomic, so a crash
leaves the old file whole. A file that does not parse is reported and never
overwritten: it may hold the only copy of someone's refresh token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from ccm_tui.atomicfile import atomic_write_bytes
from ccm_tui.paths import default_token_store_path, display

KNOWN_FIELDS = ("provider_id", "access_token", "refresh_token", "expires_at", "api_key")
_POLL_S = 0.02


class TokenStoreError(Exception):
    """The store cannot be read, locked or written; the message names the file and a way out."""


# --- times ---------------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with `Z`: claude-code-mux refuses times without an offset."""
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(text: str) -> datetime:
    """Any RFC 3339 time (any offset, `Z`/`z`, any fraction) as an aware UTC datetime."""
    value = text.strip()
    if len(value) > 10 and value[10] in "tT ":
        value = value[:10] + "T" + value[11:]
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("time has no UTC offset")
    return parsed.astimezone(UTC)


# --- entries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One provider's tokens. Secrets are left out of the repr."""

    provider_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    api_key: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        object.__setattr__(self, "expires_at", self.expires_at.astimezone(UTC))
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def expires_at_epoch(self) -> float:
        return self.expires_at.timestamp()

    def seconds_left(self, now: float | None = None) -> float:
        return self.expires_at_epoch - (time.time() if now is None else now)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider_id": self.provider_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": format_time(self.expires_at),
        }
        if self.api_key is not None:
            out["api_key"] = self.api_key
        for key, value in self.extra.items():
            if key not in KNOWN_FIELDS:
                out[key] = value
        return out


class _Malformed(ValueError):
    """An entry that is not a token entry; the message says what is wrong (never a value)."""


def entry_from_json(key: str, value: Any) -> TokenEntry:
    if not isinstance(value, dict):
        raise _Malformed("is not a JSON object")
    for name in ("access_token", "refresh_token", "expires_at"):
        if not isinstance(value.get(name), str):
            raise _Malformed(f"has no {name} string")
    api_key = value.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise _Malformed("api_key is not a string")
    try:
        expires_at = parse_time(value["expires_at"])
    except ValueError:
        raise _Malformed("expires_at is not an RFC 3339 time with an offset") from None
    provider_id = value.get("provider_id")
    return TokenEntry(
        provider_id=provider_id if isinstance(provider_id, str) and provider_id else key,
        access_token=value["access_token"],
        refresh_token=value["refresh_token"],
        expires_at=expires_at,
        api_key=api_key or None,
        extra={k: v for k, v in value.items() if k not in KNOWN_FIELDS},
    )


# --- the store -----------------------------------------------------------------------------


class StoreTransaction:
    """The store's content while the lock is held; changes are written when the block ends."""

    def __init__(self, store: TokenStore, document: dict[str, Any]) -> None:
        self._store = store
        self._document = document
        self.dirty = False

    def get(self, provider_id: str) -> TokenEntry | None:
        return self._store._entry(self._document, provider_id)

    def put(self, entry: TokenEntry) -> None:
        """Replaces the entry; its stored unknown fields survive unless `entry` sets them."""
        old = self._document.get(entry.provider_id)
        merged: dict[str, Any] = {}
        if isinstance(old, dict):
            merged.update({k: v for k, v in old.items() if k not in KNOWN_FIELDS})
        merged.update(entry.extra)
        new = TokenEntry(
            entry.provider_id,
            entry.access_token,
            entry.refresh_token,
            entry.expires_at,
            entry.api_key,
            merged,
        ).to_json()
        if old != new:
            self._document[entry.provider_id] = new
            self.dirty = True

    def delete(self, provider_id: str) -> bool:
        if provider_id in self._document:
            del self._document[provider_id]
            self.dirty = True
            return True
        return False


class TokenStore:
    """claude-code-mux's token file format (0600, directory 0700), locked, written atomically."""

    def __init__(self, path: Path | None = None, *, lock_timeout_s: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_token_store_path()
        self.path = self.path.expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout_s = lock_timeout_s

    def __repr__(self) -> str:
        return f"TokenStore({display(self.path)!r})"

    # reading -----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"token store {display(self.path)}"

    def _read(self) -> dict[str, Any]:
        """The whole document; a missing file is empty, anything unreadable raises."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise TokenStoreError(
                f"{self._where()} cannot be read ({reason}): check its permissions"
            ) from None
        if not data.strip():
            raise TokenStoreError(
                f"{self._where()} is empty, not JSON: fix or move it; ccm-tui will not overwrite it"
            )
        try:
            document = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise TokenStoreError(
                f"{self._where()} is not UTF-8 text: fix or move it; ccm-tui will not overwrite it"
            ) from None
        except json.JSONDecodeError as err:
            raise TokenStoreError(
                f"{self._where()} is not valid JSON (line {err.lineno}): fix or move it; "
                "ccm-tui will not overwrite it"
            ) from None
        if not isinstance(document, dict):
            raise TokenStoreError(
                f"{self._where()} is not a JSON object keyed by provider id: fix or move it; "
                "ccm-tui will not overwrite it"
            )
        return document

    def _entry(self, document: Mapping[str, Any], provider_id: str) -> TokenEntry | None:
        if provider_id not in document:
            return None
        try:
            return entry_from_json(provider_id, document[provider_id])
        except _Malformed as err:
            raise TokenStoreError(
                f'{self._where()}: entry "{provider_id}" {err}: fix it, or log in again'
            ) from None

    @staticmethod
    def _entries(document: Mapping[str, Any]) -> dict[str, TokenEntry]:
        """Every well-formed entry; other top-level keys are someone else's and are skipped."""
        out: dict[str, TokenEntry] = {}
        for key, value in document.items():
            with contextlib.suppress(_Malformed):
                out[key] = entry_from_json(key, value)
        return out

    def load(self) -> dict[str, TokenEntry]:
        return self._entries(self._read())

    def get(self, provider_id: str) -> TokenEntry | None:
        return self._entry(self._read(), provider_id)

    # locking and writing --------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(parent, 0o700)

    def _new_lock(self) -> filelock.BaseFileLock:
        # A fresh lock (own descriptor) per transaction: flock then excludes other
        # transactions in this process as well as other processes.
        return filelock.FileLock(self.lock_path, mode=0o600, thread_local=False)

    def _locked_out(self) -> TokenStoreError:
        return TokenStoreError(
            f"{self._where()} stayed locked for {self.lock_timeout_s:g} s by another process "
            f"(lock file {display(self.lock_path)}): is another ccm-tui stuck?"
        )

    def _remove_stale_temps(self) -> None:
        """Temp files of a writer killed mid-write (we hold the lock, so none is live)."""
        target = self.path.resolve()  # temp files sit beside a symlinked store's target
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def _commit(self, tx: StoreTransaction) -> None:
        if not tx.dirty:
            return
        self._remove_stale_temps()
        data = json.dumps(tx._document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
        try:
            atomic_write_bytes(self.path, data, mode=0o600)
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise TokenStoreError(f"{self._where()} cannot be written ({reason})") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """Read-modify-write under the file lock (blocking); written on a clean exit only."""
        self._ensure_dir()
        lock = self._new_lock()
        try:
            lock.acquire(timeout=self.lock_timeout_s)
        except filelock.Timeout:
            raise self._locked_out() from None
        try:
            tx = StoreTransaction(self, self._read())
            yield tx
            self._commit(tx)
        finally:
            lock.release()

    @contextlib.asynccontextmanager
    async def transaction_async(self) -> AsyncIterator[StoreTransaction]:
        """`transaction` for the event loop: waits for the lock without blocking the loop."""
        self._ensure_dir()
        lock = self._new_lock()
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                lock.acquire(blocking=False)
                break
            except filelock.Timeout:
                if time.monotonic() >= deadline:
                    raise self._locked_out() from None
                await asyncio.sleep(_POLL_S)
        try:
            tx = StoreTransaction(self, self._read())
            yield tx
            self._commit(tx)
        finally:
            lock.release()

    # conveniences ---------------------------------------------------------------------------

    def put(self, entry: TokenEntry) -> None:
        with self.transaction() as tx:
            tx.put(entry)

    def update(
        self, provider_id: str, fn: Callable[[TokenEntry | None], TokenEntry | None]
    ) -> TokenEntry | None:
        """Applies `fn` to the current entry under the lock; None from `fn` leaves it as it is."""
        with self.transaction() as tx:
            new = fn(tx.get(provider_id))
            if new is not None:
                if new.provider_id != provider_id:
                    raise ValueError("update must keep the provider id")
                tx.put(new)
            return tx.get(provider_id)

    def delete(self, provider_id: str) -> bool:
        with self.transaction() as tx:
            return tx.delete(provider_id)
