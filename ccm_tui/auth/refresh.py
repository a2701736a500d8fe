"""Access tokens valid for longer than the margin: one refresh per token however many wait.

Concurrent callers in this process share one refresh task, and the task re-reads the
store under its file lock first, so a token another process already refreshed is used,
not refreshed again. The refresh task is shielded from the callers: a request that goes
away cannot cancel a refresh halfway and lose a rotated refresh token.

A refresh token the server refused (invalid_grant) is sent again only after a backoff
(1 minute, doubling to 30), so that a refusal that was not for good heals by itself;
meanwhile whoever needs the token gets the refusal at once, without a request.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace

import httpx

from ccm_tui.auth.book import TokenBook
from ccm_tui.auth.oauth import InvalidGrant, OAuthError, TokenGrant, refresh_grant
from ccm_tui.auth.status import RefreshFailed
from ccm_tui.auth.store import StoreTransaction, TokenEntry, TokenStoreError
from ccm_tui.backoff import Backoff
from ccm_tui.config import OAuthSettings
from ccm_tui.events import RefreshState
from ccm_tui.humanize import countdown
from ccm_tui.masking import mask, mask_text

log = logging.getLogger(__name__)

# After the n-th invalid_grant in a row for one refresh token: 1 min, 2, 4, ... 30 min.
REFUSAL_BACKOFF = Backoff(60.0, 1800.0, jitter=0.1)

Acceptable = Callable[[TokenEntry], bool]


class Refresher:
    """Hands out fresh access tokens, refreshing each token at most once at a time."""

    def __init__(
        self,
        book: TokenBook,
        settings: OAuthSettings,
        client: httpx.AsyncClient,
        backoff: Backoff = REFUSAL_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        self.book = book
        self.settings = settings
        self.client = client
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._inflight: dict[str, asyncio.Task[tuple[TokenEntry, bool]]] = {}

    # what callers ask for -------------------------------------------------------------------

    async def access_token(self, token_id: str) -> str:
        """A token valid for longer than the margin; waits for a refresh when needed."""
        book = self.book
        book.require_managed(token_id)
        cached = book.cached(token_id)
        if cached is not None and book.fresh(token_id, cached):
            return cached.access_token
        entry = book.load(token_id)
        if book.fresh(token_id, entry):
            return entry.access_token
        entry = await self.ensure(token_id, lambda e: book.fresh(token_id, e))
        return entry.access_token

    async def after_unauthorized(self, token_id: str, rejected: str) -> str:
        """The upstream said `rejected` expired: use a newer stored token, or refresh once."""
        book = self.book
        book.require_managed(token_id)

        def acceptable(entry: TokenEntry) -> bool:
            return entry.access_token != rejected and book.fresh(token_id, entry)

        entry = book.load(token_id)
        if acceptable(entry):
            return entry.access_token
        entry = await self.ensure(token_id, acceptable)
        return entry.access_token

    async def refresh(self, token_id: str, force: bool = False) -> TokenEntry:
        """Refreshes when due, or (force) now; either way one refresh however many ask."""
        book = self.book
        book.require_managed(token_id)
        entry = book.load(token_id)
        if not force:
            if book.fresh(token_id, entry):
                return entry
            return await self.ensure(token_id, lambda e: book.fresh(token_id, e))
        current = entry.access_token
        return await self.ensure(token_id, lambda e: e.access_token != current)

    async def close(self) -> None:
        """Waits for the refreshes in flight: each saves what the server rotated."""
        pending = list(self._inflight.values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # one refresh at a time ---------------------------------------------------------------------

    async def ensure(self, token_id: str, acceptable: Acceptable) -> TokenEntry:
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
        book = self.book
        status = book.status(token_id)
        new: TokenEntry | None = None
        stored: TokenEntry | None = None
        try:
            async with book.store.transaction_async() as tx:
                stored = tx.get(token_id)
                entry = book.current(token_id, stored)
                if entry is None:
                    raise book.not_logged_in(token_id)
                if entry is not stored:
                    tx.put(entry)  # an earlier refresh could not be saved: try again now
                if not acceptable(entry):
                    new = await self._refresh_entry(token_id, entry, tx)
        except TokenStoreError as err:
            if new is not None and stored is not None:
                # Refreshed but not saved: the stored refresh token is spent, so this process
                # keeps the new one, in preference to the stored one, until a save succeeds.
                status.keep_unsaved(new, stored.refresh_token)
                book.remember(token_id, new)
            raise self._fail(token_id, f"token refresh: {err}", None) from None
        status.forget_unsaved()  # whatever we hold is on disk now
        if new is None:
            # Another process (or a login) got there first, or only a save was due.
            if status.refresh is RefreshState.FAILED:
                status.settle(entry)
            book.remember(token_id, entry)
            book.publish(token_id, entry)
            return entry, False
        status.refreshed(book.clock())
        book.remember(token_id, new)
        book.publish(token_id, new)
        log.info("refreshed OAuth token %s (now %s)", token_id, mask(new.access_token))
        return new, True

    async def _refresh_entry(
        self, token_id: str, entry: TokenEntry, tx: StoreTransaction
    ) -> TokenEntry:
        """Refreshes `entry` (inside the store transaction) and puts the result."""
        status = self.book.status(token_id)
        refusal = status.waiting(entry, self.book.clock())
        if refusal is not None:
            raise refusal.failure.again()  # refused before, and the backoff has not passed
        status.refreshing()
        self.book.publish(token_id, entry)
        grant = await self._grant(token_id, entry)
        new = replace(
            entry,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
        )
        tx.put(new)
        status.granted(grant.expires_in)
        return new

    async def _grant(self, token_id: str, entry: TokenEntry) -> TokenGrant:
        try:
            return await refresh_grant(
                self.client,
                self.settings,
                entry.refresh_token,
                login_name=self.book.login_name(token_id),
                clock=self.book.clock,
            )
        except InvalidGrant as err:
            raise self._fail(token_id, err.message, err.status, err, entry.refresh_token) from None
        except OAuthError as err:
            raise self._fail(token_id, err.message, err.status, err) from None
        except Exception as err:  # a refresh failure must never take the proxy down
            raise self._fail(token_id, f"token refresh: {type(err).__name__}", None) from None

    def _fail(
        self,
        token_id: str,
        message: str,
        status_code: int | None,
        cause: OAuthError | None = None,
        refused: str | None = None,
    ) -> RefreshFailed:
        """Records and publishes the failure; `refused` is the refresh token the server
        refused, sent again after the backoff."""
        message = mask_text(message)
        failure = RefreshFailed(message, status_code, token_id=token_id, cause=cause)
        status = self.book.status(token_id)
        retry = ""
        if refused is None:
            status.failed(failure)
        else:
            now = self.book.clock()
            refusal = status.refused(refused, failure, now, self.backoff, self._rng)
            retry = (
                f" (refusal {refusal.count}; tried again in {countdown(refusal.retry_at - now)})"
            )
        self.book.publish(token_id)
        log.warning("refresh of OAuth token %s failed: %s%s", token_id, message, retry)
        return failure


def _retrieve(task: asyncio.Task[tuple[TokenEntry, bool]]) -> None:
    """Marks a refresh task's exception as seen: its callers have been told."""
    if not task.cancelled():
        task.exception()
