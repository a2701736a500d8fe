"""The providers as requests see them now: the config snapshot, which are enabled, their
breakers and their credentials.

What changes at run time lives here and nowhere else: a reload replaces the snapshot, the
monitor's actions switch providers on and off, the key switch changes one provider. The
forwarder only reads it (and records outcomes against the breakers); every change is
published as the provider's `ProviderStateChanged`.
"""

from __future__ import annotations

import dataclasses
import time

from ccm_tui.auth import TokenManager
from ccm_tui.config import Config, ProviderConfig
from ccm_tui.events import EventBus, Failure, ProviderCountersReset, ProviderStateChanged
from ccm_tui.proxy.breaker import Breaker
from ccm_tui.proxy.credentials import Credentials, mode_of
from ccm_tui.ratelimits import RateLimits


class Upstreams:
    def __init__(self, config: Config, bus: EventBus, tokens: TokenManager | None = None) -> None:
        self.bus = bus
        self.credentials = Credentials(tokens)
        self.config = config
        self._providers: dict[str, ProviderConfig] = {}
        self._breakers: dict[str, Breaker] = {}
        self._enabled: dict[str, bool] = {}
        self._limits: dict[str, RateLimits] = {}  # the last heard, of opted-in providers
        self.apply(config)

    @property
    def tokens(self) -> TokenManager | None:
        return self.credentials.tokens

    def apply(self, config: Config) -> None:
        """A whole new config (start, reload): breakers are kept by name, enabled flags
        come from the file again."""
        self.config = config
        self._providers = {p.name: p for p in config.providers}
        settings = config.breaker
        self._breakers = {
            name: self._breakers.get(name) or Breaker(settings.failures, settings.cooldown_s)
            for name in self._providers
        }
        for breaker in self._breakers.values():
            breaker.failures_to_open, breaker.cooldown_s = settings.failures, settings.cooldown_s
        self._enabled = {p.name: p.enabled for p in config.providers}
        self._limits = {
            name: limits
            for name, limits in self._limits.items()
            if self._providers.get(name) and self._providers[name].prefer_below is not None
        }
        self.credentials.configure(config.providers)

    def use_derived_key(self, name: str, derived: bool) -> bool:
        """One provider's credential choice changed (the key switch); nothing else resets.
        Returns whether anything changed."""
        provider = self._providers.get(name)
        if provider is None or provider.use_derived_key == derived:
            return False
        provider = dataclasses.replace(provider, use_derived_key=derived)
        providers = tuple(provider if p.name == name else p for p in self.config.providers)
        self.config = dataclasses.replace(self.config, providers=providers)
        self._providers[name] = provider
        self.credentials.forget(name)
        self.publish(name)
        return True

    # -- what the forwarder reads --------------------------------------------------------

    def provider(self, name: str) -> ProviderConfig | None:
        """The provider as configured now: a request routed before a switch or a reload
        uses the new settings on its next attempt."""
        return self._providers.get(name)

    def is_enabled(self, name: str) -> bool:
        return self._enabled.get(name, False)

    def breaker(self, name: str) -> Breaker:
        return self._breakers[name]

    def pressed(self, name: str) -> str:
        """Why limit-aware routing tries this provider after the others ("" when it does
        not: also whenever the provider has no `prefer_below`)."""
        limits = self._limits.get(name)
        provider = self._providers.get(name)
        if limits is None or provider is None or provider.prefer_below is None:
            return ""
        return limits.pressure(provider.prefer_below, time.time())

    def limits_heard(self, name: str, limits: RateLimits) -> None:
        """An answer reported limits: kept for routing if the provider opted in, and a
        refusal with a reset time holds its breaker open until then."""
        provider = self._providers.get(name)
        if provider is None or provider.prefer_below is None:
            return
        self._limits[name] = limits
        until = limits.rejected_until
        if until is not None and self._breakers[name].hold_until(until):
            self.publish(name)

    def record(self, name: str, failure: Failure, retry_after_s: float | None) -> None:
        breaker = self._breakers.get(name)
        if breaker is not None and breaker.record(failure, retry_after_s):
            self.publish(name)

    # -- what the actions change -----------------------------------------------------------

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._enabled[name] = enabled
        self.publish(name)

    def reset(self, name: str) -> None:
        self._breakers[name].reset()
        self.bus.publish(ProviderCountersReset(name))
        self.publish(name)

    def publish(self, name: str) -> None:
        provider = self._providers.get(name)
        breaker = self._breakers.get(name)
        if provider is None or breaker is None:
            return
        self.bus.publish(
            ProviderStateChanged(
                provider=name,
                enabled=self.is_enabled(name),
                breaker=breaker.peek_state(),
                breaker_until=breaker.until_wall(),
                consecutive_failures=breaker.consecutive,
                auth=mode_of(provider),
            )
        )

    def publish_all(self) -> None:
        for name in self._providers:
            self.publish(name)
