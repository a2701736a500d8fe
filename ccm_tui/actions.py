"""What a person may do to a running proxy, named once, done in one place.

`Action` is the vocabulary every way in shares (the monitor's keys and palette,
`ProxyControl`, the admin API's URLs, the CLI); `ActionRefused` carries a `Refusal` code
rather than a sentence to parse. `ProxyActions` does them on a running proxy, for
`LocalControl` and the admin routes alike; `switch_in_config` is the derived-key switch
for `ccm-tui derive-key`/`use-oauth` with no proxy running. The switch of claude-code-mux
issue 7 is one implementation for all of them, the automatic one included.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ccm_tui.auth import OAuthError, TokenManager
from ccm_tui.config import Config, ConfigError, ProviderConfig, load_config, set_provider_option
from ccm_tui.events import AuthMode, EventBus, Level, Notice
from ccm_tui.masking import mask, mask_text
from ccm_tui.monitor import MonitorState
from ccm_tui.paths import display
from ccm_tui.proxy.upstreams import Upstreams

log = logging.getLogger(__name__)

ORIGIN_HEADER = "x-ccm-origin"  # the admin API's way to say which control asked


class Action(enum.StrEnum):
    """The values are the admin API's names: `POST /_ccm/providers/NAME/{value}`."""

    ENABLE = "enable"
    DISABLE = "disable"
    RESET = "reset"
    RELOAD = "reload"  # the whole proxy: `POST /_ccm/reload`
    DERIVE_KEY = "derive-key"
    USE_OAUTH = "use-oauth"

    @property
    def per_provider(self) -> bool:
        return self is not Action.RELOAD


class Refusal(enum.StrEnum):
    """Why an action was not done; the values travel as the admin API's `refusal`."""

    UNKNOWN_PROVIDER = "unknown_provider"
    NOT_APPLICABLE = "not_applicable"  # to this provider (no OAuth) or proxy (no config file)
    SWITCH_REFUSED = "switch_refused"  # upstream or token store said no (e.g. the scope)
    CONFIG_INVALID = "config_invalid"
    UNAVAILABLE = "unavailable"  # cannot be done now: no token manager, proxy unreachable
    UNAUTHORIZED = "unauthorized"  # the proxy wants its server.api_key

    @property
    def status(self) -> int:
        """The admin API's HTTP status for it."""
        return _STATUS[self]


_STATUS = {
    Refusal.UNKNOWN_PROVIDER: 404,
    Refusal.NOT_APPLICABLE: 409,
    Refusal.SWITCH_REFUSED: 409,
    Refusal.CONFIG_INVALID: 422,
    Refusal.UNAVAILABLE: 503,
    Refusal.UNAUTHORIZED: 401,
}


class ActionRefused(Exception):
    """An action was not done; `message` (masked) says why and what to do."""

    def __init__(self, refusal: Refusal, message: str) -> None:
        self.refusal = refusal
        self.message = mask_text(message)
        super().__init__(self.message)


# -- which provider, and whether the action applies to it -----------------------------------


def provider_named(action: Action, name: str | None) -> str:
    if name is None:
        raise ActionRefused(Refusal.UNKNOWN_PROVIDER, f"{action.value}: which provider?")
    return name


def require_provider(config: Config, name: str) -> ProviderConfig:
    provider = config.provider(name)
    if provider is None:
        known = ", ".join(p.name for p in config.providers) or "none"
        raise ActionRefused(
            Refusal.UNKNOWN_PROVIDER, f"no provider named {name} (configured: {known})"
        )
    return provider


def not_oauth(action: Action, name: str, auth: AuthMode) -> ActionRefused:
    """Why the key switch does not apply to a provider that is not an OAuth one; the
    monitor says it at once, the proxy when asked anyway."""
    why = (
        "there is no OAuth login to switch back to"
        if action is Action.USE_OAUTH
        else "a derived API key is made from a Claude Pro/Max or Console OAuth login, "
        "so there is nothing to derive one from"
    )
    return ActionRefused(
        Refusal.NOT_APPLICABLE, f'{name} does not use OAuth (auth_type = "{auth.value}"): {why}'
    )


def oauth_provider(config: Config, name: str, action: Action = Action.DERIVE_KEY) -> ProviderConfig:
    """The named provider, if it has an OAuth login (for the switch, `login`, `import`)."""
    provider = require_provider(config, name)
    if provider.auth_type is not AuthMode.OAUTH:
        raise not_oauth(action, name, provider.auth_type)
    return provider


# -- the derived-key switch -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Switched:
    name: str
    key: str | None  # the derived key it sends now, None when back on OAuth

    def message(self, note: str) -> str:
        if self.key is None:
            return f"{self.name}: back on its OAuth token{note}"
        return f"{self.name}: now sending derived API key {mask(self.key)}{note}"


async def switch_key(
    provider: ProviderConfig, tokens: TokenManager | None, derived: bool
) -> Switched:
    """Derives (or reuses) the key and tells the token manager which credential is in use;
    saving the choice is the caller's (`persist`), so a request never waits on the file."""
    action = Action.DERIVE_KEY if derived else Action.USE_OAUTH
    if provider.auth_type is not AuthMode.OAUTH:
        raise not_oauth(action, provider.name, provider.auth_type)
    if tokens is None:
        raise ActionRefused(
            Refusal.UNAVAILABLE, "this proxy has no token manager: OAuth switches are unavailable"
        )
    token_id = provider.oauth_provider or provider.name
    key = None
    if derived:
        try:
            key = await tokens.derived_key(token_id, provider.name)
        except OAuthError as err:  # the scope above all: the provider stays on OAuth
            raise ActionRefused(Refusal.SWITCH_REFUSED, str(err)) from None
    tokens.set_derived_in_use(token_id, derived)
    return Switched(provider.name, key)


def persist(path: Path | None, name: str, use_derived_key: bool) -> str:
    """Saves the choice in the provider's own table (blocking: run it off the loop);
    returns a note for the user."""
    if path is None:
        return " (not saved: no config file)"
    try:
        set_provider_option(path, name, "use_derived_key", use_derived_key)
    except (OSError, KeyError) as err:
        return f" (not saved to {display(path)}: {err})"
    return f" (saved in {display(path)})"


async def switch_in_config(config: Config, tokens: TokenManager, name: str, derived: bool) -> str:
    """`ccm-tui derive-key` / `use-oauth`: the switch with no proxy running here (the CLI
    then asks one that serves this config to reload)."""
    switched = await switch_key(require_provider(config, name), tokens, derived)
    return switched.message(await asyncio.to_thread(persist, config.path, name, derived))


# -- on a running proxy -----------------------------------------------------------------------


class ProxyActions:
    """The actions on a running proxy. Each answers its caller; the other watchers hear of
    a change through a `Notice` that carries the caller's `origin`, so a monitor can leave
    out the notices of its own actions (it has their answers) and show everyone else's."""

    def __init__(self, upstreams: Upstreams, bus: EventBus, state: MonitorState) -> None:
        self.upstreams = upstreams
        self.bus = bus
        self.state = state
        self._saving: set[asyncio.Task[None]] = set()

    async def run(self, action: Action, name: str | None = None, origin: str = "") -> str:
        """Does `action` (on provider `name`) and answers; raises ActionRefused."""
        if action is Action.RELOAD:
            message = await self._reload()
        else:
            provider = require_provider(self.upstreams.config, provider_named(action, name))
            message = await self._on_provider(action, provider)
        self.bus.publish(Notice(Level.INFO, message, time.time(), origin))
        return message

    async def _on_provider(self, action: Action, provider: ProviderConfig) -> str:
        upstreams, name = self.upstreams, provider.name
        if action is Action.ENABLE or action is Action.DISABLE:
            upstreams.set_enabled(name, action is Action.ENABLE)
            return f"{name} {'enabled' if action is Action.ENABLE else 'disabled'}"
        if action is Action.RESET:
            upstreams.reset(name)
            return f"{name}: counters reset, breaker closed"
        derived = action is Action.DERIVE_KEY
        switched = await switch_key(provider, upstreams.tokens, derived)
        upstreams.use_derived_key(name, derived)
        note = await asyncio.to_thread(persist, upstreams.config.path, name, derived)
        return switched.message(note)

    async def _reload(self) -> str:
        """Re-reads config.toml; a bad file is refused and the running config kept."""
        config = self.upstreams.config
        if config.path is None:
            raise ActionRefused(
                Refusal.NOT_APPLICABLE, "this proxy was not started from a config file"
            )
        try:
            new = await asyncio.to_thread(load_config, config.path)
        except ConfigError as err:
            raise ActionRefused(Refusal.CONFIG_INVALID, str(err)) from None
        self.upstreams.apply(new)
        self.state.history = new.tui.history
        self.state.usage.prices = new.pricing  # requests finishing from now on
        self.upstreams.publish_all()
        moved = (new.server.host, new.server.port) != (config.server.host, config.server.port)
        return "config reloaded" + (" (host/port changes take effect on restart)" if moved else "")

    async def switch_automatically(self, name: str) -> bool:
        """The forwarder's SWITCH verdict (`auto_derive_api_key` and the Claude-Code-only
        400): the request waits for the key, then retries; the file is written after, and
        the notice (nobody asked for this) tells of it once it is saved."""
        provider = self.upstreams.provider(name)
        if provider is None or provider.use_derived_key:
            return provider is not None  # another request switched it meanwhile
        try:
            switched = await switch_key(provider, self.upstreams.tokens, True)
        except ActionRefused as err:
            log.warning("%s: automatic switch to a derived key failed: %s", name, err.message)
            self.bus.publish(Notice(Level.ERROR, err.message, time.time()))
            return False
        if self.upstreams.use_derived_key(name, True):  # not done meanwhile by another
            self._later(self._save_and_tell(switched))
        return True

    async def _save_and_tell(self, switched: Switched) -> None:
        path = self.upstreams.config.path
        note = await asyncio.to_thread(persist, path, switched.name, True)
        self.bus.publish(Notice(Level.INFO, switched.message(note), time.time()))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def close(self) -> None:
        """Lets a pending save finish: a switch must not be lost to a quick shutdown."""
        if self._saving:
            await asyncio.gather(*self._saving, return_exceptions=True)
