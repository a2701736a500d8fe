"""Which credential a provider sends for an attempt, and whether a failure can be mended.

apikey and passthrough are fixed; oauth and the derived key come from the token manager,
which refreshes, derives and switches (the seam the OAuth issue plugs into).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode
from ccm_tui.providers.anthropic import Credential

if TYPE_CHECKING:
    from ccm_tui.proxy.forward import Outcome


class CredentialUnavailable(Exception):
    """The provider has no usable credential now; the attempt is an auth_error."""

    def __init__(self, mode: AuthMode, message: str) -> None:
        super().__init__(message)
        self.mode = mode
        self.message = message


class Credentials:
    async def credential(self, provider: ProviderConfig) -> Credential:
        if provider.auth_type is AuthMode.APIKEY:
            if not provider.api_key:
                raise CredentialUnavailable(AuthMode.APIKEY, "no api_key configured")
            return Credential(AuthMode.APIKEY, provider.api_key)
        if provider.auth_type is AuthMode.PASSTHROUGH:
            return Credential(AuthMode.PASSTHROUGH)
        raise CredentialUnavailable(
            AuthMode.OAUTH, f"no OAuth token for {provider.oauth_provider}: run ccm-tui login"
        )

    async def recover(
        self, provider: ProviderConfig, credential: Credential, outcome: Outcome
    ) -> bool:
        """Whether to retry the same provider (its credential was renewed)."""
        return False

    def mode(self, provider: ProviderConfig) -> AuthMode:
        """The credential kind the provider uses now (for display)."""
        if provider.auth_type is AuthMode.OAUTH and provider.use_derived_key:
            return AuthMode.DERIVED_KEY
        return provider.auth_type

    async def switch_to_derived(self, name: str) -> str:
        raise ValueError(
            f"{name} does not use OAuth: the derived-key switch is for oauth providers"
        )

    async def switch_to_oauth(self, name: str) -> str:
        raise ValueError(f"{name} does not use OAuth: nothing to switch back to")
