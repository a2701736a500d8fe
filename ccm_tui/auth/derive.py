"""API keys derived from an OAuth login (create_api_key), stored beside its token.

One key per token however many ask (a lock per token, and the store re-read under its
file lock, so a key another process derived is used). A key that cannot be had while
its provider sends it (`use_derived_key = true`) is the token's visible state.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import httpx

from ccm_tui.auth.book import TokenBook
from ccm_tui.auth.oauth import (
    OAuthError,
    ScopeRefused,
    TokenExpired,
    create_api_key,
    scope_refused_in_use_message,
)
from ccm_tui.auth.refresh import Refresher
from ccm_tui.auth.status import RefreshFailed
from ccm_tui.auth.store import TokenStoreError
from ccm_tui.config import OAuthSettings
from ccm_tui.masking import mask, mask_text

log = logging.getLogger(__name__)


class KeyDeriver:
    def __init__(
        self,
        book: TokenBook,
        settings: OAuthSettings,
        client: httpx.AsyncClient,
        refresher: Refresher,
    ) -> None:
        self.book = book
        self.settings = settings
        self.client = client
        self.refresher = refresher
        self._locks: dict[str, asyncio.Lock] = {}

    async def derived_key(self, token_id: str, provider_name: str) -> str:
        """The stored derived key, or a new one from create_api_key, stored beside the token."""
        book = self.book
        book.require_managed(token_id)
        cached = book.cached(token_id)
        if cached is not None and cached.api_key:
            return cached.api_key
        entry = book.load(token_id)
        if entry.api_key:
            return entry.api_key
        return await self._derive(token_id, provider_name, None)

    async def rederive(self, token_id: str, provider_name: str, rejected_key: str) -> str:
        """The stored key was refused (401): a new one, unless the store already has another."""
        self.book.require_managed(token_id)
        entry = self.book.load(token_id)
        if entry.api_key and entry.api_key != rejected_key:
            return entry.api_key
        return await self._derive(token_id, provider_name, rejected_key)

    def set_derived_in_use(self, token_id: str, in_use: bool) -> None:
        if self.book.status(token_id).use_derived(in_use):
            self.book.publish(token_id)

    async def _derive(self, token_id: str, provider_name: str, rejected_key: str | None) -> str:
        try:
            return await self._derive_locked(token_id, provider_name, rejected_key)
        except RefreshFailed:
            raise  # already a visible token state
        except OAuthError as err:
            status = self.book.status(token_id)
            if not status.derived_in_use:
                raise  # a switch that failed: the provider stays on OAuth, which works
            # The provider sends the derived key and has none: make that the token's state.
            if isinstance(err, ScopeRefused):  # "stays on OAuth" would not be true here
                err = ScopeRefused(scope_refused_in_use_message(provider_name), err.status)
            status.derive_failed(mask_text(err.message))
            self.book.publish(token_id)
            raise err from None

    async def _derive_locked(
        self, token_id: str, provider_name: str, rejected_key: str | None
    ) -> str:
        book = self.book
        async with self._locks.setdefault(token_id, asyncio.Lock()):
            access = await self.refresher.access_token(token_id)
            for attempt in (1, 2):
                key: str | None = None
                try:
                    async with book.store.transaction_async() as tx:
                        entry = book.current(token_id, tx.get(token_id))
                        if entry is None:
                            raise book.not_logged_in(token_id, provider_name)
                        if entry.api_key and entry.api_key != rejected_key:
                            book.remember(token_id, entry)
                            return entry.api_key
                        if entry.access_token != access and book.fresh(token_id, entry):
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
                    access = await self.refresher.after_unauthorized(token_id, access)
                    continue
                book.remember(token_id, entry)
                book.status(token_id).key_derived()
                book.publish(token_id, entry)
                log.info("derived an API key for %s (%s)", provider_name, mask(key))
                return key
        raise AssertionError("unreachable")  # pragma: no cover
