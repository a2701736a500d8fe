"""Valid OAuth tokens and derived API keys on demand, for the proxy and the CLI.

`TokenManager` is the one face of the parts: the record of tokens (`book`), the
single-flight refresh with its backoff for refused refresh tokens (`refresh`), derived
keys (`derive`) and the watch on Claude Code's own login (`claude_code_watch`). It adds
logins and the background task that refreshes ahead of expiry and publishes changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from ccm_tui.auth.book import TokenBook
from ccm_tui.auth.claude_code_watch import ClaudeCodeWatch
from ccm_tui.auth.derive import KeyDeriver
from ccm_tui.auth.oauth import (
    OAuthError,
    Pkce,
    TokenGrant,
    exchange_code,
    parse_pasted_code,
)
from ccm_tui.auth.refresh import REFUSAL_BACKOFF, Refresher
from ccm_tui.auth.status import NotLoggedIn, RefreshFailed
from ccm_tui.auth.store import TokenEntry, TokenStore, TokenStoreError
from ccm_tui.backoff import Backoff
from ccm_tui.config import OAuthSettings, ProviderConfig
from ccm_tui.events import EventBus
from ccm_tui.masking import mask_text

__all__ = ["CHECK_INTERVAL_S", "NotLoggedIn", "RefreshFailed", "TokenManager"]

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0
_MIN_DELAY_S = 0.5


class TokenManager:
    """Hands out access tokens valid for longer than the margin, and derived API keys.

    `refusal_backoff` spaces the retries of a refresh token the server refused.
    """

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
        refusal_backoff: Backoff = REFUSAL_BACKOFF,
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.clock = clock
        self.check_interval_s = check_interval_s
        self.book = TokenBook(store, bus, clock, refresh_margin_s)
        self.refresher = Refresher(self.book, settings, client, refusal_backoff)
        self.keys = KeyDeriver(self.book, settings, client, self.refresher)
        self.claude_code = ClaudeCodeWatch(bus, claude_code_path)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.set_providers(providers)

    def set_providers(self, providers: Sequence[ProviderConfig]) -> None:
        """Which token ids are ours to refresh (config reload calls this again)."""
        self.book.set_providers(providers)
        if self._task is not None:
            # A reload (`ccm-tui login`, `derive-key` or `use-oauth` changed the store or the
            # config): use and show the new state now, and refresh what is due, without
            # waiting for the next check.
            self.book.publish_store(only_changes=True)
            self.wake()

    # tokens and keys ------------------------------------------------------------------------

    async def access_token(self, token_id: str) -> str:
        """A token valid for longer than the margin; waits for a refresh when needed."""
        return await self.refresher.access_token(token_id)

    async def after_unauthorized(self, token_id: str, rejected: str) -> str:
        """The upstream said `rejected` expired: use a newer stored token, or refresh once."""
        return await self.refresher.after_unauthorized(token_id, rejected)

    async def refresh(self, token_id: str, force: bool = False) -> TokenEntry:
        """Refreshes when due, or (force) now; either way one refresh however many ask."""
        return await self.refresher.refresh(token_id, force)

    async def derived_key(self, token_id: str, provider_name: str) -> str:
        """The stored derived key, or a new one from create_api_key, stored beside the token."""
        return await self.keys.derived_key(token_id, provider_name)

    async def rederive(self, token_id: str, provider_name: str, rejected_key: str) -> str:
        """The stored key was refused (401): a new one, unless the store already has another."""
        return await self.keys.rederive(token_id, provider_name, rejected_key)

    def set_derived_in_use(self, token_id: str, in_use: bool) -> None:
        self.keys.set_derived_in_use(token_id, in_use)

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
            login_name=self.book.login_name(token_id),
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
        self.book.status(token_id).logged_in(self.clock(), grant.expires_in)
        self.book.remember(token_id, entry)
        self.book.publish(token_id, entry)
        return entry

    # publishing and the background task --------------------------------------------------------

    def publish_all(self) -> None:
        """A TokenStateChanged for every known credential: store entries, and Claude Code's."""
        self.book.publish_store(only_changes=False)
        self.claude_code.check(self.book.passthrough, force=True)

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
        await self.refresher.close()

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
        """One pass: refresh what is due, publish what changed; returns seconds to the next pass.

        A refused refresh token is sent again when its backoff has passed: the pass after
        that is due then.
        """
        book = self.book
        entries = book.publish_store(only_changes=True)
        delay = self.check_interval_s
        for token_id in book.users:
            entry = entries.get(token_id)
            if entry is None:
                continue
            status = book.status(token_id)
            due_in = book.due_in(token_id, entry)
            if due_in > 0:
                delay = min(delay, due_in)
                if status.unsaved is None:
                    continue
                # A refresh could not be saved: the refresh transaction retries the write.
            if status.waiting(entry, self.clock()) is None:
                try:
                    await self.refresher.ensure(token_id, functools.partial(book.fresh, token_id))
                except RefreshFailed:
                    pass  # already logged and published; retried at the next pass
                except OAuthError as err:
                    log.warning("OAuth token %s: %s", token_id, mask_text(str(err)))
            now = self.clock()
            refusal = status.waiting(entry, now)
            if refusal is not None:  # refused: sent again after the backoff (or a new login)
                delay = min(delay, refusal.retry_at - now)
        self.claude_code.check(book.passthrough)
        return max(delay, _MIN_DELAY_S)
