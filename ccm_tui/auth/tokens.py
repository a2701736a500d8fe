"""Valid OAuth tokens and derived API keys on demand, for the proxy and the CLI.

One refresh per token however many requests wait: concurrent callers in this
process share one refresh task, and the task re-reads the store under its file
lock first, so a token another process already refreshed is used, not
refreshed again. The refresh task is shielded from the callers: a request that
goes away cannot cancel a refresh halfway and lose a rotated refresh token.
Only tokens named by an `auth_type = "oauth"` provider are ever refreshed; other
entries in a shared store (claude-code-mux's Gemini or Codex tokens) are only
shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from ccm_tui.auth import claude_code
from ccm_tui.auth.oauth import (
    InvalidGrant,
    OAuthError,
    Pkce,
    ScopeRefused,
    TokenExpired,
    TokenGrant,
    create_api_key,
    exchange_code,
    login_hint,
    parse_pasted_code,
    refresh_grant,
    scope_refused_in_use_message,
)
from ccm_tui.auth.store import StoreTransaction, TokenEntry, TokenStore, TokenStoreError
from ccm_tui.config import OAuthSettings, ProviderConfig
from ccm_tui.events import AuthMode, EventBus, RefreshState, TokenStateChanged
from ccm_tui.masking import mask, mask_text
from ccm_tui.paths import claude_code_credentials_path, display

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0
_MIN_DELAY_S = 0.5


class RefreshFailed(OAuthError):
    """A token could not be refreshed; `cause` is the underlying failure when there was one."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        token_id: str,
        cause: OAuthError | None = None,
    ) -> None:
        super().__init__(message, status)
        self.token_id = token_id
        self.cause = cause


class NotLoggedIn(OAuthError):
    """The store has no entry for the token id."""


@dataclass(slots=True)
class _Status:
    refresh: RefreshState = RefreshState.IDLE
    message: str = ""  # masked
    refreshed_at: float | None = None
    derived_in_use: bool = False
    # Why the key a provider needs (use_derived_key) could not be derived; masked, "" if none.
    derive_message: str = ""
    lifetime_s: float | None = None  # of the last grant: caps the margin for short-lived tokens
    # A refresh token the server refused for good: not sent again until the entry changes.
    dead_refresh: str | None = field(default=None, repr=False)
    failure: RefreshFailed | None = None
    published: TokenStateChanged | None = None
    # A refresh whose result could not be written: the server already rotated the stored
    # refresh token away, so this entry (not the stale stored one) is the live login until
    # it is saved. `unsaved_over` is the stored refresh token it replaces.
    unsaved: TokenEntry | None = field(default=None, repr=False)
    unsaved_over: str | None = field(default=None, repr=False)


Acceptable = Callable[[TokenEntry], bool]


class TokenManager:
    """Hands out access tokens valid for longer than the margin, and derived API keys."""

    def __init__(
        self,
        store: TokenStore,
        settings: OAuthSettings,
        bus: EventBus | None,
        providers: Sequence[ProviderConfig],
        client: httpx.AsyncClient,
        refresh_margin_s: float = 300,
        clock: Callable[[], float] = time.time,
        *,
        claude_code_path: Path | None = None,
        check_interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self.store = store
        self.settings = settings
        self.bus = bus
        self.client = client
        self.refresh_margin_s = refresh_margin_s
        self.clock = clock
        self.check_interval_s = check_interval_s
        self.claude_code_path = claude_code_path
        self._status: dict[str, _Status] = {}
        self._cache: dict[str, TokenEntry] = {}
        self._inflight: dict[str, asyncio.Task[tuple[TokenEntry, bool]]] = {}
        self._derive_locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._claude_code_seen: bytes | None = None
        self._claude_code_published = False
        self._users: dict[str, tuple[str, ...]] = {}
        self._passthrough: tuple[str, ...] = ()
        self.set_providers(providers)

    # configuration ------------------------------------------------------------------------

    def set_providers(self, providers: Sequence[ProviderConfig]) -> None:
        """Which token ids are ours to refresh (config reload calls this again)."""
        users: dict[str, tuple[str, ...]] = {}
        derived: set[str] = set()
        for p in providers:
            if p.auth_type is AuthMode.OAUTH and p.oauth_provider:
                users[p.oauth_provider] = (*users.get(p.oauth_provider, ()), p.name)
                if p.use_derived_key:
                    derived.add(p.oauth_provider)
        for token_id in users:
            status = self._state(token_id)
            status.derived_in_use = token_id in derived
            if not status.derived_in_use:
                status.derive_message = ""
        self._users = users
        self._passthrough = tuple(p.name for p in providers if p.auth_type is AuthMode.PASSTHROUGH)
        if self._task is not None:
            # A reload (`ccm-tui login`, `derive-key` or `use-oauth` changed the store or the
            # config): use and show the new state now, and refresh what is due, without
            # waiting for the next check.
            self._publish_store(only_changes=True)
            self.wake()

    def _state(self, token_id: str) -> _Status:
        return self._status.setdefault(token_id, _Status())

    def _require_managed(self, token_id: str) -> None:
        if token_id not in self._users:
            raise OAuthError(
                f'token "{token_id}" is not the oauth_provider of any provider with '
                'auth_type = "oauth": ccm-tui neither uses nor refreshes it'
            )

    def _login_name(self, token_id: str) -> str:
        users = self._users.get(token_id)
        return users[0] if users else token_id

    def _margin(self, token_id: str) -> float:
        lifetime = self._state(token_id).lifetime_s
        if lifetime:
            return min(self.refresh_margin_s, lifetime / 2)
        return self.refresh_margin_s

    def _fresh(self, token_id: str, entry: TokenEntry) -> bool:
        return entry.expires_at_epoch - self.clock() > self._margin(token_id)

    def _remember(self, token_id: str, entry: TokenEntry) -> None:
        self._cache[token_id] = entry

    def _current(self, token_id: str, stored: TokenEntry | None) -> TokenEntry | None:
        """`stored`, or the unsaved refresh result when `stored` is the entry it replaced.

        Sending the stale stored refresh token would get invalid_grant from a rotating server
        and lose the login. Any other change to the stored entry (a new login, an entry
        removed) is someone's deliberate act and wins; so does a save of the unsaved tokens.
        """
        status = self._state(token_id)
        unsaved = status.unsaved
        if unsaved is None:
            return stored
        if stored is not None and stored.refresh_token == status.unsaved_over:
            # Only the tokens are newer: a key derived or fields added meanwhile are kept.
            return replace(
                stored,
                access_token=unsaved.access_token,
                refresh_token=unsaved.refresh_token,
                expires_at=unsaved.expires_at,
            )
        status.unsaved = status.unsaved_over = None
        return stored

    def _load(self, token_id: str) -> TokenEntry:
        """The entry to use, read now; store problems become OAuthErrors."""
        try:
            entry = self._current(token_id, self.store.get(token_id))
        except TokenStoreError as err:
            raise OAuthError(str(err)) from None
        if entry is None:
            self._cache.pop(token_id, None)
            raise NotLoggedIn(
                f'no OAuth token "{token_id}" in the token store: '
                f"run {login_hint(self._login_name(token_id))}"
            )
        self._remember(token_id, entry)
        status = self._state(token_id)
        if status.dead_refresh is not None and status.dead_refresh != entry.refresh_token:
            # A new login (`ccm-tui login` elsewhere) replaced the refused refresh token: the
            # failure that told the user to log in is over, whether or not a check ran since.
            status.refresh, status.message, status.failure = RefreshState.IDLE, "", None
            status.dead_refresh = None
            self._publish(token_id, entry)
        return entry

    # access tokens ------------------------------------------------------------------------

    async def access_token(self, token_id: str) -> str:
        """A token valid for longer than the margin; waits for a refresh when needed."""
        self._require_managed(token_id)
        cached = self._cache.get(token_id)
        if cached is not None and self._fresh(token_id, cached):
            return cached.access_token
        entry = self._load(token_id)
        if self._fresh(token_id, entry):
            return entry.access_token
        entry = await self._ensure(token_id, lambda e: self._fresh(token_id, e))
        return entry.access_token

    async def after_unauthorized(self, token_id: str, rejected: str) -> str:
        """The upstream said `rejected` expired: use a newer stored token, or refresh once."""
        self._require_managed(token_id)

        def acceptable(entry: TokenEntry) -> bool:
            return entry.access_token != rejected and self._fresh(token_id, entry)

        entry = self._load(token_id)
        if acceptable(entry):
            return entry.access_token
        entry = await self._ensure(token_id, acceptable)
        return entry.access_token

    async def refresh(self, token_id: str, force: bool = False) -> TokenEntry:
        """Refreshes when due, or (force) now; either way one refresh however many ask."""
        self._require_managed(token_id)
        entry = self._load(token_id)
        if not force:
            if self._fresh(token_id, entry):
                return entry
            return await self._ensure(token_id, lambda e: self._fresh(token_id, e))
        current = entry.access_token
        return await self._ensure(token_id, lambda e: e.access_token != current)

    async def _ensure(self, token_id: str, acceptable: Acceptable) -> TokenEntry:
        """Joins the refresh in flight, or starts one; returns an acceptable or refreshed entry."""
        while True:
            task = self._inflight.get(token_id)
            if task is None:
                task = asyncio.create_task(
                    self._refresh_task(token_id, acceptable), name=f"ccm-tui refresh {token_id}"
                )
                task.add_done_callback(_retrieve)
                self._inflight[token_id] = task
                entry, _ = await asyncio.shield(task)
                return entry
            entry, refreshed = await asyncio.shield(task)
            if refreshed or acceptable(entry):
                return entry

    async def _refresh_task(self, token_id: str, acceptable: Acceptable) -> tuple[TokenEntry, bool]:
        try:
            return await self._refresh_locked(token_id, acceptable)
        finally:
            if self._inflight.get(token_id) is asyncio.current_task():
                del self._inflight[token_id]

    async def _refresh_locked(
        self, token_id: str, acceptable: Acceptable
    ) -> tuple[TokenEntry, bool]:
        status = self._state(token_id)
        name = self._login_name(token_id)
        new: TokenEntry | None = None
        stored: TokenEntry | None = None
        try:
            async with self.store.transaction_async() as tx:
                stored = tx.get(token_id)
                entry = self._current(token_id, stored)
                if entry is None:
                    raise NotLoggedIn(
                        f'no OAuth token "{token_id}" in the token store: run {login_hint(name)}'
                    )
                if entry is not stored:
                    tx.put(entry)  # an earlier refresh could not be saved: try again now
                if not acceptable(entry):
                    new = await self._refresh_entry(token_id, entry, tx)
        except TokenStoreError as err:
            if new is not None and stored is not None:
                # Refreshed but not saved: the stored refresh token is spent, so this process
                # keeps the new one, in preference to the stored one, until a save succeeds.
                status.unsaved, status.unsaved_over = new, stored.refresh_token
                self._remember(token_id, new)
            raise self._fail(token_id, f"token refresh: {err}", None) from None
        status.unsaved = status.unsaved_over = None  # whatever we hold is on disk now
        if new is None:
            # Another process (or a login) got there first, or only a save was due.
            if status.refresh is RefreshState.FAILED:
                status.refresh, status.message, status.failure = RefreshState.IDLE, "", None
            self._remember(token_id, entry)
            self._publish(token_id, entry)
            return entry, False
        status.refresh = RefreshState.OK
        status.message = ""
        status.failure = None
        status.dead_refresh = None
        status.refreshed_at = self.clock()
        self._remember(token_id, new)
        self._publish(token_id, new)
        log.info("refreshed OAuth token %s (now %s)", token_id, mask(new.access_token))
        return new, True

    async def _refresh_entry(
        self, token_id: str, entry: TokenEntry, tx: StoreTransaction
    ) -> TokenEntry:
        """Refreshes `entry` (inside the store transaction) and puts the result."""
        status = self._state(token_id)
        dead = status.failure
        if dead is not None and status.dead_refresh == entry.refresh_token:
            # Refused for good before: no point asking the server again.
            raise RefreshFailed(dead.message, dead.status, token_id=token_id, cause=dead.cause)
        status.refresh = RefreshState.REFRESHING
        self._publish(token_id, entry)
        grant = await self._refresh_grant(token_id, entry)
        new = replace(
            entry,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
        )
        tx.put(new)
        status.lifetime_s = grant.expires_in
        return new

    async def _refresh_grant(self, token_id: str, entry: TokenEntry) -> TokenGrant:
        name = self._login_name(token_id)
        try:
            return await refresh_grant(
                self.client,
                self.settings,
                entry.refresh_token,
                login_name=name,
                clock=self.clock,
            )
        except OAuthError as err:
            failure = self._fail(token_id, err.message, err.status, cause=err)
            if isinstance(err, InvalidGrant):
                self._state(token_id).dead_refresh = entry.refresh_token
            raise failure from None
        except Exception as err:  # a refresh failure must never take the proxy down
            raise self._fail(token_id, f"token refresh: {type(err).__name__}", None) from None

    def _fail(
        self, token_id: str, message: str, status_code: int | None, cause: OAuthError | None = None
    ) -> RefreshFailed:
        message = mask_text(message)
        failure = RefreshFailed(message, status_code, token_id=token_id, cause=cause)
        status = self._state(token_id)
        status.refresh = RefreshState.FAILED
        status.message = message
        status.failure = failure
        self._publish(token_id)
        log.warning("refresh of OAuth token %s failed: %s", token_id, message)
        return failure

    # logins -----------------------------------------------------------------------------------

    async def complete_login(self, token_id: str, pasted: str, pkce: Pkce) -> TokenEntry:
        """`ccm-tui login`: the pasted CODE#STATE of this attempt, exchanged and stored."""
        code, state = parse_pasted_code(pasted, expected_state=pkce.verifier)
        grant = await exchange_code(
            self.client,
            self.settings,
            code,
            state,
            pkce.verifier,
            login_name=self._login_name(token_id),
            clock=self.clock,
        )
        return await self.save_grant(token_id, grant)

    async def save_grant(self, token_id: str, grant: TokenGrant) -> TokenEntry:
        """Stores a fresh login; a key derived from an earlier login is dropped (another org?)."""
        try:
            async with self.store.transaction_async() as tx:
                # put() keeps the unknown fields of whatever entry was there.
                tx.put(
                    TokenEntry(token_id, grant.access_token, grant.refresh_token, grant.expires_at)
                )
                entry = tx.get(token_id)
                assert entry is not None
        except TokenStoreError as err:
            raise OAuthError(str(err)) from None
        status = self._state(token_id)
        status.refresh, status.message, status.failure = RefreshState.OK, "", None
        status.dead_refresh = None
        status.unsaved = status.unsaved_over = None  # the new login replaces them
        status.refreshed_at = self.clock()
        status.lifetime_s = grant.expires_in
        self._remember(token_id, entry)
        self._publish(token_id, entry)
        return entry

    # derived API keys ---------------------------------------------------------------------

    async def derived_key(self, token_id: str, provider_name: str) -> str:
        """The stored derived key, or a new one from create_api_key, stored beside the token."""
        self._require_managed(token_id)
        cached = self._cache.get(token_id)
        if cached is not None and cached.api_key:
            return cached.api_key
        entry = self._load(token_id)
        if entry.api_key:
            return entry.api_key
        return await self._derive(token_id, provider_name, None)

    async def rederive(self, token_id: str, provider_name: str, rejected_key: str) -> str:
        """The stored key was refused (401): a new one, unless the store already has another."""
        self._require_managed(token_id)
        entry = self._load(token_id)
        if entry.api_key and entry.api_key != rejected_key:
            return entry.api_key
        return await self._derive(token_id, provider_name, rejected_key)

    async def _derive(self, token_id: str, provider_name: str, rejected_key: str | None) -> str:
        try:
            return await self._derive_locked(token_id, provider_name, rejected_key)
        except RefreshFailed:
            raise  # already a visible token state
        except OAuthError as err:
            status = self._state(token_id)
            if not status.derived_in_use:
                raise  # a switch that failed: the provider stays on OAuth, which works
            # The provider sends the derived key and has none: make that the token's state.
            if isinstance(err, ScopeRefused):  # "stays on OAuth" would not be true here
                err = ScopeRefused(scope_refused_in_use_message(provider_name), err.status)
            status.derive_message = mask_text(err.message)
            self._publish(token_id)
            raise err from None

    async def _derive_locked(
        self, token_id: str, provider_name: str, rejected_key: str | None
    ) -> str:
        lock = self._derive_locks.setdefault(token_id, asyncio.Lock())
        async with lock:
            access = await self.access_token(token_id)
            for attempt in (1, 2):
                key: str | None = None
                try:
                    async with self.store.transaction_async() as tx:
                        entry = self._current(token_id, tx.get(token_id))
                        if entry is None:
                            raise NotLoggedIn(
                                f'no OAuth token "{token_id}" in the token store: '
                                f"run {login_hint(provider_name)}"
                            )
                        if entry.api_key and entry.api_key != rejected_key:
                            self._remember(token_id, entry)
                            return entry.api_key
                        if entry.access_token != access and self._fresh(token_id, entry):
                            access = entry.access_token  # refreshed elsewhere meanwhile
                        try:
                            key = await create_api_key(
                                self.client, self.settings, access, provider_name
                            )
                        except TokenExpired:
                            if attempt == 2:
                                raise
                        else:
                            entry = replace(entry, api_key=key)
                            tx.put(entry)
                except TokenStoreError as err:
                    raise OAuthError(str(err)) from None
                if key is None:
                    # The token was refused: refresh once (outside the file lock) and retry.
                    access = await self.after_unauthorized(token_id, access)
                    continue
                self._remember(token_id, entry)
                status = self._state(token_id)
                status.derive_message = ""
                status.unsaved = status.unsaved_over = None  # written with the key
                self._publish(token_id, entry)
                log.info("derived an API key for %s (%s)", provider_name, mask(key))
                return key
        raise AssertionError("unreachable")  # pragma: no cover

    def set_derived_in_use(self, token_id: str, in_use: bool) -> None:
        status = self._state(token_id)
        if status.derived_in_use != in_use:
            status.derived_in_use = in_use
            if not in_use:
                status.derive_message = ""
            self._publish(token_id)

    # events -----------------------------------------------------------------------------------

    def _event(self, token_id: str, entry: TokenEntry | None) -> TokenStateChanged:
        status = self._state(token_id)
        managed = token_id in self._users
        refresh, message = status.refresh, status.message
        if status.derive_message and status.derived_in_use and refresh is not RefreshState.FAILED:
            # The token is fine, but the key its provider sends could not be had.
            refresh, message = RefreshState.FAILED, status.derive_message
        return TokenStateChanged(
            token_id=token_id,
            source="store",
            providers=self._users.get(token_id, ()),
            access_token=mask(entry.access_token) if entry else "",
            expires_at=entry.expires_at_epoch if entry else None,
            refresh=refresh,
            refresh_message=message,
            refreshed_at=status.refreshed_at,
            derived_key=mask(entry.api_key) if entry and entry.api_key else "",
            derived_key_in_use=status.derived_in_use,
            read_only=not managed,
        )

    def _publish(
        self, token_id: str, entry: TokenEntry | None = None, *, only_changes: bool = False
    ) -> None:
        if entry is None:
            entry = self._cache.get(token_id)
        event = self._event(token_id, entry)
        status = self._state(token_id)
        if only_changes and event == status.published:
            return
        status.published = event
        if self.bus is not None:
            self.bus.publish(event)

    def publish_all(self) -> None:
        """A TokenStateChanged for every known credential: store entries, and Claude Code's."""
        self._publish_store(only_changes=False)
        self._check_claude_code(force=True)

    def _publish_store(self, only_changes: bool) -> dict[str, TokenEntry]:
        try:
            entries = self.store.load()
        except TokenStoreError as err:
            message = mask_text(str(err))
            for token_id in self._users:
                status = self._state(token_id)
                status.refresh, status.message = RefreshState.FAILED, message
                self._publish(token_id, only_changes=only_changes)
            return {}
        entries = dict(entries)
        for token_id in self._users:
            entry = self._current(token_id, entries.get(token_id))
            if entry is not None:
                entries[token_id] = entry
            status = self._state(token_id)
            if entry is None:
                self._cache.pop(token_id, None)
                status.refresh, status.failure = RefreshState.IDLE, None
                status.message = f"not logged in: run {login_hint(self._login_name(token_id))}"
            else:
                stale_failure = status.refresh is RefreshState.FAILED and (
                    status.failure is None  # the store was unreadable, and is readable again
                    or (status.dead_refresh not in (None, entry.refresh_token))  # new login
                )
                if stale_failure or status.message.startswith("not logged in"):
                    status.refresh, status.message, status.failure = RefreshState.IDLE, "", None
                    status.dead_refresh = None
                self._remember(token_id, entry)
            self._publish(token_id, entry, only_changes=only_changes)
        for token_id, entry in entries.items():
            if token_id not in self._users:
                self._publish(token_id, entry, only_changes=only_changes)
        return entries

    def _check_claude_code(self, force: bool = False) -> None:
        """Publishes Claude Code's login when its file appears, changes or goes (read only)."""
        path = self.claude_code_path or claude_code_credentials_path()
        message = ""
        try:
            data: bytes | None = path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as err:
            data = b""
            reason = err.strerror or type(err).__name__
            message = f"Claude Code's credentials {display(path)} cannot be read ({reason})"
        # Compared by content: an in-place rewrite can keep size and (coarse) mtime.
        seen = hashlib.sha256(data).digest() if data is not None else None
        if not force and seen == self._claude_code_seen:
            return
        self._claude_code_seen = seen
        if data is None and not self._claude_code_published:
            return  # never had one, still none: nothing to show
        login: claude_code.ClaudeCodeLogin | None = None
        if data and not message:
            try:
                login = claude_code.parse_claude_code_login(data, path)
            except claude_code.ClaudeCodeCredentialsError as err:
                message = mask_text(str(err))
        if login is None and not message:
            if not self._claude_code_published:
                return
            message = "Claude Code is not logged in"
        self._claude_code_published = True
        broken = login is None and data is not None and message != "Claude Code is not logged in"
        event = TokenStateChanged(
            token_id=claude_code.TOKEN_ID,
            source="claude-code",
            providers=self._passthrough,
            access_token=mask(login.access_token) if login else "",
            expires_at=login.expires_at_epoch if login else None,
            refresh=RefreshState.FAILED if broken else RefreshState.IDLE,
            refresh_message=message,
            refreshed_at=None,
            derived_key="",
            derived_key_in_use=False,
            read_only=True,
        )
        if self.bus is not None:
            self.bus.publish(event)

    # the background task --------------------------------------------------------------------

    async def start(self) -> None:
        """Publishes every credential, then keeps the tokens fresh in the background."""
        if self._task is not None:
            return
        self.publish_all()
        self._task = asyncio.create_task(self._run(), name="ccm-tui token refresher")

    async def close(self) -> None:
        """Stops the background task; a refresh in flight is allowed to finish and save."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending = list(self._inflight.values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def wake(self) -> None:
        """Re-check now (after a login or config reload) instead of at the next due time."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                delay = await self.check()
            except Exception as err:  # the refresher must outlive any surprise
                log.error("token check failed: %s", mask_text(f"{type(err).__name__}: {err}"))
                delay = self.check_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()

    async def check(self) -> float:
        """One pass: refresh what is due, publish what changed; returns seconds to the next pass."""
        entries = self._publish_store(only_changes=True)
        delay = self.check_interval_s
        for token_id in self._users:
            entry = entries.get(token_id)
            if entry is None:
                continue
            status = self._state(token_id)
            due_in = entry.expires_at_epoch - self._margin(token_id) - self.clock()
            if due_in > 0:
                delay = min(delay, due_in)
                if status.unsaved is None:
                    continue
                # A refresh could not be saved: the refresh transaction retries the write.
            if status.dead_refresh == entry.refresh_token:
                continue  # refused for good; waits for a new login
            try:
                await self._ensure(token_id, lambda e, t=token_id: self._fresh(t, e))
            except RefreshFailed:
                pass  # already logged and published; retried at the next pass
            except OAuthError as err:
                log.warning("OAuth token %s: %s", token_id, mask_text(str(err)))
        self._check_claude_code()
        return max(delay, _MIN_DELAY_S)


def _retrieve(task: asyncio.Task[tuple[TokenEntry, bool]]) -> None:
    """Marks a refresh task's exception as seen: its callers have been told."""
    if not task.cancelled():
        task.exception()
