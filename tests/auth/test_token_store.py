"""The token store: claude-code-mux's format; nothing lost, nothing wrongly overwritten."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ccm_tui import paths
from ccm_tui.auth.store import TokenEntry, TokenStore, TokenStoreError, format_time, parse_time

from auth_helpers import entry

WORKER = Path(__file__).with_name("store_worker.py")
REPO = Path(__file__).resolve().parents[2]

# claude-code-mux's own file, as its serde/chrono writes it (nanoseconds, Z), with a
# Gemini entry ccm-tui must leave alone and fields ccm-tui does not know.
CCM_FILE = """{
  "claude-max": {
    "provider_id": "claude-max",
    "access_token": "sk-ant-oat01-aaaaaaaaaaaaaaaaaaaaaaaa",
    "refresh_token": "sk-ant-ort01-bbbbbbbbbbbbbbbbbbbbbbbb",
    "expires_at": "2025-11-20T06:45:39.235367123Z",
    "enterprise_url": null
  },
  "gemini": {
    "provider_id": "gemini",
    "access_token": "ya29.cccccccccccccccccc",
    "refresh_token": "1//dddddddddddddddd",
    "expires_at": "2025-11-20T00:45:39+02:00",
    "project_id": "my-project"
  }
}
"""


@contextlib.contextmanager
def worker(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A store_worker.py process, SIGKILLed if still running at the end, pipes closed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()


def line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def test_missing_file_is_an_empty_store(store: TokenStore) -> None:
    assert store.load() == {}
    assert store.get("claude-max") is None
    assert not store.path.exists()


def test_default_path_is_in_the_xdg_data_dir(isolated_home: Path) -> None:
    assert TokenStore().path == paths.default_token_store_path()
    assert TokenStore().path == isolated_home / ".local/share/ccm-tui/oauth_tokens.json"


def test_round_trip_keeps_every_field(store: TokenStore) -> None:
    original = entry("claude-max", api_key="sk-ant-api03-derived-kkkkkkkkkkkk", extra={"x": [1]})
    store.put(original)
    assert store.get("claude-max") == original
    assert store.load() == {"claude-max": original}


def test_reads_claude_code_mux_file_with_any_rfc3339_offset(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(CCM_FILE)
    entries = store.load()
    assert entries["claude-max"].expires_at == datetime(2025, 11, 20, 6, 45, 39, 235367, UTC)
    assert entries["gemini"].expires_at == datetime(2025, 11, 19, 22, 45, 39, tzinfo=UTC)
    assert entries["claude-max"].extra == {"enterprise_url": None}
    assert entries["claude-max"].api_key is None


def test_unknown_fields_survive_a_rewrite_at_entry_and_top_level(store: TokenStore) -> None:
    document = json.loads(CCM_FILE)
    document["version"] = 3
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps(document))

    def refreshed(old: TokenEntry | None) -> TokenEntry:
        assert old is not None
        return replace(old, access_token="sk-ant-oat01-new-eeeeeeeeeeeeeeeeeeee", api_key="k")

    store.update("claude-max", refreshed)
    written = json.loads(store.path.read_text())
    assert written["version"] == 3
    assert written["gemini"] == document["gemini"]
    assert written["claude-max"]["enterprise_url"] is None
    assert written["claude-max"]["access_token"] == "sk-ant-oat01-new-eeeeeeeeeeeeeeeeeeee"
    assert written["claude-max"]["api_key"] == "k"


def test_expires_at_is_written_in_utc_with_z(store: TokenStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    store.put(replace(entry("claude-max"), expires_at=datetime(2030, 1, 1, 2, tzinfo=plus_two)))
    written = json.loads(store.path.read_text())["claude-max"]
    assert written["expires_at"] == "2030-01-01T00:00:00Z"
    assert written["provider_id"] == "claude-max"


def test_time_format_round_trips_fractions_and_offsets() -> None:
    value = datetime(2030, 5, 6, 7, 8, 9, 120000, UTC)
    assert format_time(value) == "2030-05-06T07:08:09.12Z"
    assert parse_time(format_time(value)) == value
    assert parse_time("2030-05-06t07:08:09z") == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_time("2030-05-06T07:08:09")  # no offset: not RFC 3339


def test_file_is_0600_and_new_directory_0700(store: TokenStore) -> None:
    store.put(entry("claude-max"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_existing_looser_file_mode_is_tightened_to_0600(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(CCM_FILE)
    store.path.chmod(0o644)
    store.put(entry("claude-max"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_corrupt_file_is_reported_and_left_untouched(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    corrupt = b'{\n  "claude-max": {\n    "access_token": sk-ant-oat01-unquoted\n'
    store.path.write_bytes(corrupt)
    with pytest.raises(TokenStoreError) as info:
        store.load()
    message = str(info.value)
    assert str(store.path) in message or paths.display(store.path) in message
    assert "not valid JSON (line 3)" in message
    assert "will not overwrite" in message
    assert "unquoted" not in message
    with pytest.raises(TokenStoreError):
        store.put(entry("claude-max"))
    with pytest.raises(TokenStoreError):
        store.delete("claude-max")
    assert store.path.read_bytes() == corrupt


def test_json_that_is_not_an_object_is_reported_and_left_untouched(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"[1, 2]")
    with pytest.raises(TokenStoreError, match="not a JSON object"):
        store.put(entry("claude-max"))
    assert store.path.read_bytes() == b"[1, 2]"


def test_unreadable_file_is_reported(store: TokenStore) -> None:
    store.path.mkdir(parents=True)  # a directory where the file should be: unreadable as a file
    with pytest.raises(TokenStoreError, match="cannot be read"):
        store.load()
    with pytest.raises(TokenStoreError, match="cannot be read"):
        store.put(entry("claude-max"))
    assert store.path.is_dir()


def test_malformed_entry_is_skipped_by_load_reported_by_get_and_kept(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"odd": {"access_token": 5}, "notes": "hi"}))
    assert store.load() == {}
    with pytest.raises(TokenStoreError, match='entry "odd" has no access_token'):
        store.get("odd")
    store.put(entry("claude-max"))
    written = json.loads(store.path.read_text())
    assert written["odd"] == {"access_token": 5}
    assert written["notes"] == "hi"


def test_delete_removes_only_that_entry(store: TokenStore) -> None:
    store.put(entry("a"))
    store.put(entry("b"))
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert set(store.load()) == {"b"}


def test_transaction_that_raises_writes_nothing(store: TokenStore) -> None:
    store.put(entry("a"))
    before = store.path.read_bytes()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put(entry("b"))
        raise RuntimeError("changed my mind")
    assert store.path.read_bytes() == before


def test_repr_never_shows_secrets(store: TokenStore) -> None:
    e = entry("a", api_key="sk-ant-api03-secret-key-zzzzzzzzzz", extra={"id_token": "id-secret"})
    shown = repr(e)
    for secret in (e.access_token, e.refresh_token, "sk-ant-api03-secret", "id-secret"):
        assert secret not in shown
    assert "'a'" in shown


def test_stale_temp_files_of_a_killed_writer_are_removed_by_the_next_write(
    store: TokenStore,
) -> None:
    store.put(entry("a"))
    stale = store.path.with_name(f".{store.path.name}.abc123.tmp")
    stale.write_text("half a token")
    store.put(entry("b"))
    assert not stale.exists()


def test_a_symlinked_store_stays_a_link_to_the_file_that_is_written(tmp_path: Path) -> None:
    real = tmp_path / "synced" / "oauth_tokens.json"
    real.parent.mkdir()
    link = tmp_path / "data" / "oauth_tokens.json"
    link.parent.mkdir()
    link.symlink_to(real)
    store = TokenStore(link)
    store.put(entry("a"))
    stale = real.with_name(f".{real.name}.abc123.tmp")  # a killed writer's, beside the target
    stale.write_text("half a token")
    store.put(entry("b"))
    assert link.is_symlink()
    assert set(json.loads(real.read_text())) == {"a", "b"}
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not stale.exists()


async def test_async_transactions_in_one_process_exclude_each_other(store: TokenStore) -> None:
    first_holds = asyncio.Event()
    release_first = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with store.transaction_async() as tx:
            first_holds.set()
            await release_first.wait()
            tx.put(entry("a", extra={"n": 1}))
            order.append("first wrote")

    async def second() -> None:
        await first_holds.wait()
        async with store.transaction_async() as tx:
            order.append("second read")
            current = tx.get("a")
            assert current is not None
            tx.put(replace(current, extra={"n": current.extra["n"] + 1}))

    task_first = asyncio.create_task(first())
    task_second = asyncio.create_task(second())
    await first_holds.wait()
    for _ in range(5):  # let the second transaction try (and fail) to get the lock
        await asyncio.sleep(0)
    assert order == []
    release_first.set()
    await asyncio.gather(task_first, task_second)
    assert order == ["first wrote", "second read"]
    stored = store.get("a")
    assert stored is not None
    assert stored.extra["n"] == 2


def test_lock_held_too_long_is_reported(store: TokenStore) -> None:
    impatient = TokenStore(store.path, lock_timeout_s=0.05)
    with store.transaction(), pytest.raises(TokenStoreError, match="stayed locked"):
        impatient.put(entry("a"))


def test_two_processes_updating_different_entries_lose_nothing(store: TokenStore) -> None:
    with (
        worker("count", str(store.path), "one", "50") as one,
        worker("count", str(store.path), "two", "50") as two,
    ):
        assert line(one) == line(two) == "ready"
        for proc in (one, two):  # start both together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert one.wait(timeout=60) == 0
        assert two.wait(timeout=60) == 0
    entries = store.load()
    assert entries["one"].extra["count"] == 50
    assert entries["two"].extra["count"] == 50


def assert_whole(store: TokenStore, size: int) -> int:
    """The file parses and holds one whole version of the big entry; returns its seq."""
    big = json.loads(store.path.read_bytes())["big"]
    seq = big["seq"]
    assert big["payload"] == "AB"[seq % 2] * size  # never a mix or a truncation
    assert big["access_token"] == f"access-{seq}"
    return seq


def test_process_killed_at_random_moments_while_writing_leaves_a_whole_file(
    store: TokenStore,
) -> None:
    size = 400_000
    bystander = entry("bystander")
    store.put(bystander)
    rng = random.Random(7)
    for _ in range(10):
        with worker("churn", str(store.path), "big", str(size)) as proc:
            # Killed (on leaving the block) after a random number of finished writes,
            # while it does the next one.
            for _ in range(rng.randint(1, 6)):
                last_written = int(line(proc))
        assert assert_whole(store, size) >= last_written
        assert store.get("bystander") == bystander


@pytest.mark.parametrize("step", ["mkstemp", "fsync", "replace"])
def test_process_killed_inside_a_write_leaves_the_old_file(store: TokenStore, step: str) -> None:
    size = 400_000
    store.put(entry("bystander"))
    for nth in (1, 3):
        before = store.path.read_bytes()
        with worker("churn", str(store.path), "big", str(size), step, str(nth)) as proc:
            written = [line(proc) for _ in range(nth)]
        assert written[-1] == "paused"  # killed inside write number `nth`
        if nth == 1:
            assert store.path.read_bytes() == before
        else:
            assert assert_whole(store, size) == int(written[-2])  # the last whole write
        stale = list(store.path.parent.glob(f".{store.path.name}.*.tmp"))
        assert len(stale) == 1  # the killed writer's temp file, never renamed
    store.put(entry("after"))
    assert list(store.path.parent.glob(f".{store.path.name}.*.tmp")) == []
