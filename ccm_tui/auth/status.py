"""What ccm-tui knows about one token beyond its stored entry, and the errors that report it.

The refresh state, its message and its failure belong together, as do a refusal and its
retry time: each change of state is one named transition, so they never disagree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from ccm_tui.auth.oauth import OAuthError, login_hint
from ccm_tui.auth.store import TokenEntry
from ccm_tui.backoff import Backoff
from ccm_tui.events import RefreshState, TokenStateChanged


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

    def again(self) -> RefreshFailed:
        """The same failure raised anew (a stored exception would pile up tracebacks)."""
        return RefreshFailed(self.message, self.status, token_id=self.token_id, cause=self.cause)


class NotLoggedIn(OAuthError):
    """The store has no entry for the token id."""

    @classmethod
    def of(cls, token_id: str, login_name: str) -> NotLoggedIn:
        return cls(f'no OAuth token "{token_id}" in the token store: run {login_hint(login_name)}')


@dataclass(frozen=True, slots=True)
class Refusal:
    """The server refused `refresh_token` (invalid_grant) `count` times in a row: it is sent
    again at `retry_at` (epoch seconds), or never once a new login replaces it."""

    refresh_token: str = field(repr=False)
    failure: RefreshFailed
    count: int
    retry_at: float


@dataclass(slots=True)
class TokenStatus:
    refresh: RefreshState = RefreshState.IDLE
    message: str = ""  # masked
    failure: RefreshFailed | None = None  # None while FAILED: the store cannot be read
    logged_out: bool = False  # the store has no entry; `message` says how to log in
    refreshed_at: float | None = None
    lifetime_s: float | None = None  # of the last grant: caps the margin for short-lived tokens
    refusal: Refusal | None = None
    derived_in_use: bool = False
    # Why the key a provider needs (use_derived_key) could not be derived; masked, "" if none.
    derive_message: str = ""
    # A refresh whose result could not be written: the server already rotated the stored
    # refresh token away, so this entry (not the stale stored one) is the live login until
    # it is saved. `unsaved_over` is the stored refresh token it replaces.
    unsaved: TokenEntry | None = field(default=None, repr=False)
    unsaved_over: str | None = field(default=None, repr=False)
    published: TokenStateChanged | None = None

    # the refresh state ----------------------------------------------------------------------

    def _show(
        self,
        refresh: RefreshState,
        message: str = "",
        failure: RefreshFailed | None = None,
        *,
        logged_out: bool = False,
    ) -> None:
        self.refresh, self.message, self.failure = refresh, message, failure
        self.logged_out = logged_out

    def refreshing(self) -> None:
        self._show(RefreshState.REFRESHING)

    def granted(self, lifetime_s: float) -> None:
        """The server granted tokens (saved or not yet): their lifetime caps the margin."""
        self.lifetime_s = lifetime_s

    def refreshed(self, at: float) -> None:
        """A refresh was saved: whatever was refused before is over."""
        self._show(RefreshState.OK)
        self.refusal = None
        self.refreshed_at = at

    def logged_in(self, at: float, lifetime_s: float) -> None:
        """A new login was saved: it replaces unsaved tokens as well as any refusal."""
        self.granted(lifetime_s)
        self.refreshed(at)
        self.forget_unsaved()

    def failed(self, failure: RefreshFailed) -> None:
        """A refresh failed; a refusal from before stays, its retry time passed or not."""
        self._show(RefreshState.FAILED, failure.message, failure)

    def refused(
        self,
        refresh_token: str,
        failure: RefreshFailed,
        now: float,
        backoff: Backoff,
        rng: random.Random,
    ) -> Refusal:
        """invalid_grant for `refresh_token`: not sent again before the backoff has passed,
        longer for each refusal in a row."""
        before = self._refusal_of(refresh_token)
        count = before.count + 1 if before is not None else 1
        self.failed(failure)
        self.refusal = Refusal(refresh_token, failure, count, now + backoff.delay(count, rng))
        return self.refusal

    def store_unreadable(self, message: str) -> None:
        self._show(RefreshState.FAILED, message)

    def not_logged_in(self, login_name: str) -> None:
        self._show(
            RefreshState.IDLE, f"not logged in: run {login_hint(login_name)}", logged_out=True
        )

    def settle(self, entry: TokenEntry) -> None:
        """`entry` is what the store holds now: a refusal of another refresh token (a new
        login replaced it) is over; one of this refresh token is shown again."""
        self.refusal = self._refusal_of(entry.refresh_token)
        if self.refusal is None:
            self._show(RefreshState.IDLE)
        else:
            self.failed(self.refusal.failure)

    def _refusal_of(self, refresh_token: str) -> Refusal | None:
        refusal = self.refusal
        return refusal if refusal is not None and refusal.refresh_token == refresh_token else None

    def waiting(self, entry: TokenEntry, now: float) -> Refusal | None:
        """The refusal of `entry`'s refresh token while its backoff has not passed."""
        refusal = self._refusal_of(entry.refresh_token)
        return refusal if refusal is not None and now < refusal.retry_at else None

    def outdated_by(self, entry: TokenEntry) -> bool:
        """Whether `entry` ends what is shown: a refusal of a refresh token it replaced, a
        store that could not be read (it was just read), or a logout (it exists)."""
        if self.refusal is not None and self._refusal_of(entry.refresh_token) is None:
            return True
        unreadable = self.refresh is RefreshState.FAILED and self.failure is None
        return unreadable or self.logged_out

    @property
    def retry_at(self) -> float | None:
        """When a refused refresh token is tried again, while that refusal is what is shown."""
        refusal = self.refusal
        if refusal is not None and self.failure is refusal.failure:
            return refusal.retry_at
        return None

    # tokens refreshed but not saved ---------------------------------------------------------

    def keep_unsaved(self, entry: TokenEntry, over: str) -> None:
        self.unsaved, self.unsaved_over = entry, over

    def forget_unsaved(self) -> None:
        self.unsaved = self.unsaved_over = None

    def current(self, stored: TokenEntry | None) -> TokenEntry | None:
        """`stored`, or the unsaved refresh result when `stored` is the entry it replaced.

        Sending the stale stored refresh token would get invalid_grant from a rotating server
        and lose the login. Any other change to the stored entry (a new login, an entry
        removed) is someone's deliberate act and wins; so does a save of the unsaved tokens.
        """
        unsaved = self.unsaved
        if unsaved is None:
            return stored
        if stored is not None and stored.refresh_token == self.unsaved_over:
            # Only the tokens are newer: a key derived or fields added meanwhile are kept.
            return replace(
                stored,
                access_token=unsaved.access_token,
                refresh_token=unsaved.refresh_token,
                expires_at=unsaved.expires_at,
            )
        self.forget_unsaved()
        return stored

    # derived keys -----------------------------------------------------------------------------

    def use_derived(self, in_use: bool) -> bool:
        """Whether the provider sends the derived key; True when that changed."""
        changed = self.derived_in_use != in_use
        self.derived_in_use = in_use
        if not in_use:
            self.derive_message = ""
        return changed

    def derive_failed(self, message: str) -> None:
        self.derive_message = message

    def key_derived(self) -> None:
        """A key was derived and written with the token: any unsaved tokens are saved too."""
        self.derive_message = ""
        self.forget_unsaved()
