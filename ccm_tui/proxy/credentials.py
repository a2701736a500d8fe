"""Which credential a provider sends for an attempt, and what a failure says about it.

apikey and passthrough are fixed. oauth and the derived key come from the token manager.
After a failed attempt the resolver gives a verdict: a 401 "expired" earns a refreshed
token and a derived key refused with 401 a new one (RETRY: the same provider once more);
a provider with `auto_derive_api_key` refused with the Claude-Code-only 400 should move
to its derived key (SWITCH: the resolver does not change any configuration itself);
anything else is the provider's failure (GIVE_UP).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable

from ccm_tui.auth import OAuthError, TokenManager
from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode, Failure
from ccm_tui.providers.anthropic import Credential

log = logging.getLogger(__name__)

REDERIVE_QUIET_S = 300.0


class CredentialUnavailable(Exception):
    """The provider has no usable credential now; the attempt is an auth_error."""

    def __init__(self, mode: AuthMode, message: str) -> None:
        super().__init__(message)
        self.mode = mode
        self.message = message


class Verdict(enum.Enum):
    RETRY = "retry"  # the credential was renewed: try the same provider once more
    SWITCH = "switch"  # move the provider to its derived key, then try it once more
    GIVE_UP = "give_up"  # the failure stands: on to the next candidate


def mode_of(provider: ProviderConfig) -> AuthMode:
    """The credential kind the provider uses now (for display)."""
    if provider.auth_type is AuthMode.OAUTH and provider.use_derived_key:
        return AuthMode.DERIVED_KEY
    return provider.auth_type


class Credentials:
    def __init__(self, tokens: TokenManager | None = None) -> None:
        self.tokens = tokens
        # Providers whose automatic switch was refused (no org:create_api_key), with the
        # token that was refused: asking again with it on every Claude-Code-only 400 would
        # only repeat the refusal, but a new login (`login --console`) deserves a new try.
        self._switch_refused: dict[str, str] = {}
        # The key each token's last re-derivation gave, and when: an upstream that refuses
        # even a brand-new key would otherwise get a new key minted on every request.
        self._rederived: dict[str, tuple[str, float]] = {}

    def configure(self, providers: Iterable[ProviderConfig]) -> None:
        """A new config (start, reload): which tokens are in use, and how."""
        if self.tokens is not None:
            self.tokens.set_providers(tuple(providers))

    def forget(self, name: str) -> None:
        """The provider's credential choice changed: a past refusal says nothing now."""
        self._switch_refused.pop(name, None)

    def switch_refused(self, name: str, secret: str | None) -> None:
        if secret is not None:
            self._switch_refused[name] = secret

    async def credential(self, provider: ProviderConfig) -> Credential:
        if provider.auth_type is AuthMode.APIKEY:
            if not provider.api_key:
                raise CredentialUnavailable(AuthMode.APIKEY, "no api_key configured")
            return Credential(AuthMode.APIKEY, provider.api_key)
        if provider.auth_type is AuthMode.PASSTHROUGH:
            return Credential(AuthMode.PASSTHROUGH)
        mode = mode_of(provider)
        token_id = provider.oauth_provider or provider.name
        if self.tokens is None:
            raise CredentialUnavailable(mode, "OAuth providers need the token manager")
        try:
            if mode is AuthMode.DERIVED_KEY:
                key = await self.tokens.derived_key(token_id, provider.name)
                return Credential(mode, key, token_id)
            return Credential(mode, await self.tokens.access_token(token_id), token_id)
        except OAuthError as err:
            raise CredentialUnavailable(mode, str(err)) from None

    async def verdict(
        self, provider: ProviderConfig, credential: Credential, failure: Failure, status: int | None
    ) -> Verdict:
        """What the failure of an attempt made with `credential` calls for. Renewing a
        token is the token manager's (single-flight) and happens here."""
        token_id, secret = credential.token_id, credential.secret
        if self.tokens is None or token_id is None or secret is None:
            return Verdict.GIVE_UP
        try:
            if status == 401 and credential.mode is AuthMode.OAUTH:
                await self.tokens.after_unauthorized(token_id, secret)
                return Verdict.RETRY
            if status == 401 and credential.mode is AuthMode.DERIVED_KEY:
                last = self._rederived.get(token_id)
                now = time.monotonic()
                if last is not None and last[0] == secret and now - last[1] < REDERIVE_QUIET_S:
                    log.warning("%s: a freshly derived key was refused too", provider.name)
                    return Verdict.GIVE_UP
                key = await self.tokens.rederive(token_id, provider.name, secret)
                self._rederived[token_id] = (key, now)
                return Verdict.RETRY
        except OAuthError as err:
            log.warning("%s: could not renew its credential: %s", provider.name, err)
            return Verdict.GIVE_UP
        if (
            failure is Failure.OAUTH_SCOPE
            and credential.mode is AuthMode.OAUTH
            and provider.auto_derive_api_key
            and self._switch_refused.get(provider.name) != secret
        ):
            return Verdict.SWITCH
        return Verdict.GIVE_UP
