"""Which credential a provider sends for an attempt, and whether a failure can be mended.

apikey and passthrough are fixed. oauth and the derived key come from the token manager:
a 401 "expired" earns a refresh and one retry on the same provider, a derived key refused
with 401 is re-derived once, and a provider with `auto_derive_api_key` switches itself to
its derived key when the upstream says the token is for Claude Code only.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ccm_tui import keyswitch
from ccm_tui.auth import OAuthError, ScopeRefused, TokenManager
from ccm_tui.config import Config, ProviderConfig
from ccm_tui.events import AuthMode, Failure, Level
from ccm_tui.providers.anthropic import Credential

if TYPE_CHECKING:
    from ccm_tui.proxy.app import Proxy
    from ccm_tui.proxy.forward import Outcome

log = logging.getLogger(__name__)

REDERIVE_QUIET_S = 300.0


class CredentialUnavailable(Exception):
    """The provider has no usable credential now; the attempt is an auth_error."""

    def __init__(self, mode: AuthMode, message: str) -> None:
        super().__init__(message)
        self.mode = mode
        self.message = message


class Credentials:
    def __init__(self, tokens: TokenManager | None = None) -> None:
        self.tokens = tokens
        self._proxy: Proxy | None = None
        # Providers whose automatic switch was refused (no org:create_api_key), with the
        # token that was refused: asking again with it on every Claude-Code-only 400 would
        # only repeat the refusal, but a new login (`login --console`) deserves a new try.
        self._auto_refused: dict[str, str] = {}
        # The key each token's last re-derivation gave, and when: an upstream that refuses
        # even a brand-new key would otherwise get a new key minted on every request.
        self._rederived: dict[str, tuple[str, float]] = {}

    def bind(self, proxy: Proxy) -> None:
        self._proxy = proxy

    def configure(self, config: Config) -> None:
        """A new config (start, reload, a switch): which tokens are in use, and how."""
        if self.tokens is not None:
            self.tokens.set_providers(config.providers)

    def mode(self, provider: ProviderConfig) -> AuthMode:
        """The credential kind the provider uses now (for display)."""
        if provider.auth_type is AuthMode.OAUTH and provider.use_derived_key:
            return AuthMode.DERIVED_KEY
        return provider.auth_type

    def _current(self, provider: ProviderConfig) -> ProviderConfig:
        """The provider as configured now: a request routed before a switch (the automatic
        one in `recover`, or `k`/derive-key meanwhile) must use the new choice on its retry."""
        if self._proxy is None:
            return provider
        return self._proxy.config.provider(provider.name) or provider

    async def credential(self, provider: ProviderConfig) -> Credential:
        provider = self._current(provider)
        if provider.auth_type is AuthMode.APIKEY:
            if not provider.api_key:
                raise CredentialUnavailable(AuthMode.APIKEY, "no api_key configured")
            return Credential(AuthMode.APIKEY, provider.api_key)
        if provider.auth_type is AuthMode.PASSTHROUGH:
            return Credential(AuthMode.PASSTHROUGH)
        mode = self.mode(provider)
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

    async def recover(
        self, provider: ProviderConfig, credential: Credential, outcome: Outcome
    ) -> bool:
        """Whether to retry the same provider (its credential was renewed)."""
        token_id, secret = credential.token_id, credential.secret
        if self.tokens is None or token_id is None or secret is None:
            return False
        try:
            if outcome.status == 401 and credential.mode is AuthMode.OAUTH:
                await self.tokens.after_unauthorized(token_id, secret)
                return True
            if outcome.status == 401 and credential.mode is AuthMode.DERIVED_KEY:
                last = self._rederived.get(token_id)
                now = time.monotonic()
                if last is not None and last[0] == secret and now - last[1] < REDERIVE_QUIET_S:
                    log.warning("%s: a freshly derived key was refused too", provider.name)
                    return False
                key = await self.tokens.rederive(token_id, provider.name, secret)
                self._rederived[token_id] = (key, now)
                return True
        except OAuthError as err:
            log.warning("%s: could not renew its credential: %s", provider.name, err)
            return False
        if (
            outcome.failure is Failure.OAUTH_SCOPE
            and credential.mode is AuthMode.OAUTH
            and provider.auto_derive_api_key
            and self._auto_refused.get(provider.name) != secret
        ):
            try:
                await self.switch_to_derived(provider.name)
            except ValueError as err:
                self._auto_refused[provider.name] = secret
                log.warning("%s: automatic switch to a derived key failed: %s", provider.name, err)
                return False
            return True
        return False

    # -- the derived-key switch -------------------------------------------------------------

    def _require(self, name: str) -> tuple[Proxy, TokenManager]:
        if self._proxy is None:
            raise RuntimeError("Credentials.bind() was not called")
        keyswitch.oauth_provider(self._proxy.config, name)  # names the problem first
        if self.tokens is None:
            raise ValueError("this proxy has no token manager: OAuth switches are unavailable")
        return self._proxy, self.tokens

    async def switch_to_derived(self, name: str) -> str:
        """Raises ValueError with a message for the user (the provider stays on OAuth)."""
        proxy, tokens = self._require(name)
        try:
            config, message = await keyswitch.switch_to_derived(proxy.config, tokens, name)
        except ScopeRefused as err:
            proxy.notice(Level.ERROR, str(err))
            raise ValueError(str(err)) from None
        except OAuthError as err:
            raise ValueError(str(err)) from None
        self._auto_refused.pop(name, None)
        proxy.apply_provider_change(config, name)
        proxy.notice(Level.INFO, message)
        return message

    async def switch_to_oauth(self, name: str) -> str:
        proxy, tokens = self._require(name)
        config, message = keyswitch.switch_to_oauth(proxy.config, tokens, name)
        proxy.apply_provider_change(config, name)
        proxy.notice(Level.INFO, message)
        return message
