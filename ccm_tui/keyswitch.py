"""The switch claude-code-mux issue 7 asked for: an OAuth provider onto its derived key, and back.

One implementation for every way in (the TUI's `k`, `ccm-tui derive-key`, the admin
endpoint, the automatic switch), so the key is derived, stored and the choice saved in
config.toml the same way each time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ccm_tui.auth.tokens import TokenManager
from ccm_tui.config import Config, ProviderConfig, set_provider_option
from ccm_tui.events import AuthMode
from ccm_tui.masking import mask
from ccm_tui.paths import display


class SwitchError(ValueError):
    """The switch cannot be made; the message says why and what to do."""


def oauth_provider(config: Config, name: str, back: bool = False) -> ProviderConfig:
    """The named provider, if it is an OAuth one (`back`: for switching back to OAuth)."""
    provider = config.provider(name)
    if provider is None:
        known = ", ".join(p.name for p in config.providers) or "none"
        raise SwitchError(f"no provider named {name} (configured: {known})")
    if provider.auth_type is not AuthMode.OAUTH:
        why = (
            "there is no OAuth login to switch back to"
            if back
            else "a derived API key is made from a Claude Pro/Max or Console OAuth login, "
            "so there is nothing to derive one from"
        )
        raise SwitchError(
            f'{name} does not use OAuth (auth_type = "{provider.auth_type.value}"): {why}'
        )
    return provider


def persist(path: Path | None, name: str, use_derived_key: bool) -> str:
    """Saves the choice in the provider's own table; returns a note for the user."""
    if path is None:
        return " (not saved: no config file)"
    try:
        set_provider_option(path, name, "use_derived_key", use_derived_key)
    except (OSError, KeyError) as err:
        return f" (not saved to {display(path)}: {err})"
    return f" (saved in {display(path)})"


def with_provider(config: Config, provider: ProviderConfig) -> Config:
    providers = tuple(provider if p.name == provider.name else p for p in config.providers)
    return dataclasses.replace(config, providers=providers)


async def switch_to_derived(config: Config, tokens: TokenManager, name: str) -> tuple[Config, str]:
    """Derives (or reuses) the key, then saves `use_derived_key = true`. Raises OAuthError
    subclasses (ScopeRefused: the provider stays on OAuth) or SwitchError."""
    provider = oauth_provider(config, name)
    token_id = provider.oauth_provider or name
    key = await tokens.derived_key(token_id, name)
    note = persist(config.path, name, True)
    tokens.set_derived_in_use(token_id, True)
    new = with_provider(config, dataclasses.replace(provider, use_derived_key=True))
    return new, f"{name}: now sending derived API key {mask(key)}{note}"


def switch_to_oauth(config: Config, tokens: TokenManager | None, name: str) -> tuple[Config, str]:
    provider = oauth_provider(config, name, back=True)
    note = persist(config.path, name, False)
    if tokens is not None:
        tokens.set_derived_in_use(provider.oauth_provider or name, False)
    new = with_provider(config, dataclasses.replace(provider, use_derived_key=False))
    return new, f"{name}: back on its OAuth token{note}"
