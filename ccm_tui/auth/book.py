"""The token manager's record: which tokens are ours, their entries and status, and what
each one shows on the event bus.

Only tokens named by an `auth_type = "oauth"` provider are ours to refresh; other entries
in a shared store (claude-code-mux's Gemini or Codex tokens) are only shown, read only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ccm_tui.auth.oauth import OAuthError
from ccm_tui.auth.status import NotLoggedIn, TokenStatus
from ccm_tui.auth.store import TokenEntry, TokenStore, TokenStoreError
from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode, EventBus, RefreshState, TokenStateChanged
from ccm_tui.masking import mask, mask_text


class TokenBook:
    """Per token: the entry last read (or refreshed), its status, the providers using it."""

    def __init__(
        self,
        store: TokenStore,
        bus: EventBus | None,
        clock: Callable[[], float],
        refresh_margin_s: float,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.refresh_margin_s = refresh_margin_s
        self.users: dict[str, tuple[str, ...]] = {}  # token id -> the oauth providers using it
        self.passthrough: tuple[str, ...] = ()  # the providers that forward Claude Code's login
        self._status: dict[str, TokenStatus] = {}
        self._cache: dict[str, TokenEntry] = {}

    # configuration ------------------------------------------------------------------------

    def set_providers(self, providers: Sequence[ProviderConfig]) -> None:
        users: dict[str, tuple[str, ...]] = {}
        derived: set[str] = set()
        for p in providers:
            if p.auth_type is AuthMode.OAUTH and p.oauth_provider:
                users[p.oauth_provider] = (*users.get(p.oauth_provider, ()), p.name)
                if p.use_derived_key:
                    derived.add(p.oauth_provider)
        for token_id in users:
            self.status(token_id).use_derived(token_id in derived)
        self.users = users
        self.passthrough = tuple(p.name for p in providers if p.auth_type is AuthMode.PASSTHROUGH)

    def status(self, token_id: str) -> TokenStatus:
        return self._status.setdefault(token_id, TokenStatus())

    def require_managed(self, token_id: str) -> None:
        if token_id not in self.users:
            raise OAuthError(
                f'token "{token_id}" is not the oauth_provider of any provider with '
                'auth_type = "oauth": ccm-tui neither uses nor refreshes it'
            )

    def login_name(self, token_id: str) -> str:
        users = self.users.get(token_id)
        return users[0] if users else token_id

    # freshness -----------------------------------------------------------------------------

    def due_in(self, token_id: str, entry: TokenEntry) -> float:
        """Seconds until `entry` is inside the refresh margin (negative: it is already)."""
        margin = self.refresh_margin_s
        lifetime = self.status(token_id).lifetime_s
        if lifetime:
            margin = min(margin, lifetime / 2)
        return entry.expires_at_epoch - margin - self.clock()

    def fresh(self, token_id: str, entry: TokenEntry) -> bool:
        return self.due_in(token_id, entry) > 0

    # entries --------------------------------------------------------------------------------

    def cached(self, token_id: str) -> TokenEntry | None:
        return self._cache.get(token_id)

    def remember(self, token_id: str, entry: TokenEntry) -> None:
        self._cache[token_id] = entry

    def current(self, token_id: str, stored: TokenEntry | None) -> TokenEntry | None:
        """The entry to use when the store holds `stored` (see `TokenStatus.current`)."""
        return self.status(token_id).current(stored)

    def not_logged_in(self, token_id: str, login_name: str | None = None) -> NotLoggedIn:
        self._cache.pop(token_id, None)
        return NotLoggedIn.of(token_id, login_name or self.login_name(token_id))

    def load(self, token_id: str) -> TokenEntry:
        """The entry to use, read now; store problems become OAuthErrors."""
        try:
            entry = self.current(token_id, self.store.get(token_id))
        except TokenStoreError as err:
            raise OAuthError(str(err)) from None
        if entry is None:
            raise self.not_logged_in(token_id)
        self.remember(token_id, entry)
        status = self.status(token_id)
        if status.outdated_by(entry):
            # A new login (`ccm-tui login` elsewhere) replaced a refused refresh token, say:
            # the failure that told the user to log in is over, whether or not a check ran.
            status.settle(entry)
            self.publish(token_id, entry)
        return entry

    # events -----------------------------------------------------------------------------------

    def event(self, token_id: str, entry: TokenEntry | None) -> TokenStateChanged:
        status = self.status(token_id)
        refresh, message = status.refresh, status.message
        if status.derive_message and status.derived_in_use and refresh is not RefreshState.FAILED:
            # The token is fine, but the key its provider sends could not be had.
            refresh, message = RefreshState.FAILED, status.derive_message
        return TokenStateChanged(
            token_id=token_id,
            source="store",
            providers=self.users.get(token_id, ()),
            access_token=mask(entry.access_token) if entry else "",
            expires_at=entry.expires_at_epoch if entry else None,
            refresh=refresh,
            refresh_message=message,
            refreshed_at=status.refreshed_at,
            derived_key=mask(entry.api_key) if entry and entry.api_key else "",
            derived_key_in_use=status.derived_in_use,
            read_only=token_id not in self.users,
            retry_at=status.retry_at,
        )

    def publish(
        self, token_id: str, entry: TokenEntry | None = None, *, only_changes: bool = False
    ) -> None:
        if entry is None:
            entry = self._cache.get(token_id)
        event = self.event(token_id, entry)
        status = self.status(token_id)
        if only_changes and event == status.published:
            return
        status.published = event
        if self.bus is not None:
            self.bus.publish(event)

    def publish_store(self, only_changes: bool) -> dict[str, TokenEntry]:
        """Reads the whole store and publishes every entry (with `only_changes`, those whose
        event differs from the last one); returns the entries to use."""
        try:
            entries = self.store.load()
        except TokenStoreError as err:
            message = mask_text(str(err))
            for token_id in self.users:
                self.status(token_id).store_unreadable(message)
                self.publish(token_id, only_changes=only_changes)
            return {}
        entries = dict(entries)
        for token_id in self.users:
            status = self.status(token_id)
            entry = status.current(entries.get(token_id))
            if entry is None:
                self._cache.pop(token_id, None)
                status.not_logged_in(self.login_name(token_id))
            else:
                entries[token_id] = entry
                if status.outdated_by(entry):
                    status.settle(entry)
                self.remember(token_id, entry)
            self.publish(token_id, entry, only_changes=only_changes)
        for token_id, entry in entries.items():
            if token_id not in self.users:
                self.publish(token_id, entry, only_changes=only_changes)
        return entries
