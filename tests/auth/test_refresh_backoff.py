"""A refresh token the server refused (invalid_grant) is sent again after a backoff, on a
clock the test moves: at once never, after the wait once, and never in a storm."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ccm_tui.auth.refresh import REFUSAL_BACKOFF
from ccm_tui.auth.store import TokenStore
from ccm_tui.auth.tokens import RefreshFailed, TokenManager
from ccm_tui.backoff import Backoff
from ccm_tui.events import RefreshState, Subscription
from ccm_tui.sim import Simulator

from auth_helpers import ID, MakeManager, refreshes, seed, token_events

# No jitter: the retry times are exact.
MINUTE_TO_HALF_HOUR = Backoff(60.0, 1800.0, jitter=0.0)


class Clock:
    """The manager's clock, moved by the test (the simulator keeps the wall clock).
    Whole seconds, so that waits computed from it are exact."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def refuse(sim: Simulator, times: int | None = None) -> None:
    """The token endpoint answers invalid_grant (without spending the refresh token)."""
    sim.scenario("oauth", status=400, error_type="invalid_grant", times=times)


def refusing_manager(
    sim: Simulator,
    store: TokenStore,
    make_manager: MakeManager,
    times: int | None,
    **kwargs: Any,
) -> tuple[TokenManager, Clock]:
    """A manager on a clock of its own, with a due token whose next `times` refreshes
    (None: every one) the server refuses; the backoff is MINUTE_TO_HALF_HOUR unless given."""
    seed(store, sim, expires_in_s=60)
    refuse(sim, times)
    clock = Clock()
    kwargs.setdefault("refusal_backoff", MINUTE_TO_HALF_HOUR)
    return make_manager(clock=clock, **kwargs), clock


async def refused_waits(
    manager: TokenManager, events: Subscription, clock: Clock, refusals: int
) -> list[float]:
    """The wait after each of `refusals` refusals in a row, each retry made when it ends."""
    waits = []
    for _ in range(refusals):
        with pytest.raises(RefreshFailed):
            await manager.access_token(ID)
        retry_at = token_events(events)[-1].retry_at
        assert retry_at is not None
        waits.append(retry_at - clock.now)
        clock.now = retry_at
    return waits


async def test_a_refused_refresh_is_sent_again_only_after_the_backoff_and_then_recovers(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    manager, clock = refusing_manager(sim, store, make_manager, 1)
    refused = store.get(ID)
    assert refused is not None
    with pytest.raises(RefreshFailed, match="`ccm-tui login claude-max`"):
        await manager.access_token(ID)
    failed = token_events(events)[-1]
    assert failed.refresh is RefreshState.FAILED
    assert failed.retry_at == clock.now + 60

    clock.now += 59  # the backoff has not passed: the refusal at once, nothing sent
    with pytest.raises(RefreshFailed):
        await manager.access_token(ID)
    assert len(refreshes(sim)) == 1
    assert token_events(events) == []  # nothing changed, nothing published

    clock.now += 1
    token = await manager.access_token(ID)
    assert sim.oauth.access_status(token)[0] == "ok"
    assert [r["refresh_token"] for r in refreshes(sim)] == [refused.refresh_token] * 2
    ok = token_events(events)[-1]
    assert (ok.refresh, ok.retry_at, ok.refresh_message) == (RefreshState.OK, None, "")


async def test_each_refusal_in_a_row_doubles_the_wait_up_to_the_cap(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    manager, clock = refusing_manager(
        sim, store, make_manager, None, refusal_backoff=Backoff(60.0, 200.0, jitter=0.0)
    )
    waits = await refused_waits(manager, events, clock, 4)
    assert waits == [60, 120, 200, 200]
    assert len(refreshes(sim)) == 4  # one per backoff, none in between


async def test_a_successful_refresh_starts_the_backoff_over(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    manager, clock = refusing_manager(sim, store, make_manager, 2)
    for wait in (60, 120):
        with pytest.raises(RefreshFailed):
            await manager.access_token(ID)
        assert token_events(events)[-1].retry_at == clock.now + wait
        clock.now += wait
    await manager.access_token(ID)  # accepted
    clock.now += 8 * 3600  # due again, and refused again: the first wait again
    refuse(sim, times=1)
    with pytest.raises(RefreshFailed):
        await manager.access_token(ID)
    assert token_events(events)[-1].retry_at == clock.now + 60


async def test_a_new_login_ends_the_backoff_at_once(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    manager, clock = refusing_manager(sim, store, make_manager, 1)
    with pytest.raises(RefreshFailed):
        await manager.access_token(ID)
    assert token_events(events)[-1].retry_at == clock.now + 60
    login = seed(store, sim, expires_in_s=60)  # `ccm-tui login` elsewhere; due soon too
    token = await manager.access_token(ID)  # the new refresh token is sent, backoff or not
    assert refreshes(sim)[-1]["refresh_token"] == login.refresh_token
    assert sim.oauth.access_status(token)[0] == "ok"
    published = token_events(events)
    assert [e.refresh for e in published] == [
        RefreshState.IDLE,  # the refusal is over as soon as the new login is read
        RefreshState.REFRESHING,
        RefreshState.OK,
    ]
    assert all(e.retry_at is None for e in published)


async def test_requests_during_the_backoff_fail_at_once_and_after_it_share_one_refresh(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    manager, clock = refusing_manager(sim, store, make_manager, 1)
    with pytest.raises(RefreshFailed):
        await manager.access_token(ID)
    during = await asyncio.gather(
        *(manager.access_token(ID) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, RefreshFailed) for r in during)
    assert len(refreshes(sim)) == 1

    clock.now += 60
    sim.scenario("oauth", latency_ms=200)  # every request arrives while the retry is out
    after = await asyncio.gather(*(manager.access_token(ID) for _ in range(20)))
    assert len(set(after)) == 1
    assert len(refreshes(sim)) == 2


async def test_the_background_check_waits_for_the_backoff_then_retries(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    manager, clock = refusing_manager(sim, store, make_manager, 1, check_interval_s=3600)
    assert await manager.check() == 60  # refused: the next pass is due when the wait ends
    clock.now += 45
    assert await manager.check() == 15  # still waiting: nothing sent
    assert len(refreshes(sim)) == 1
    clock.now += 15
    await manager.check()
    assert len(refreshes(sim)) == 2
    assert token_events(events)[-1].refresh is RefreshState.OK


async def test_the_wait_has_a_little_jitter_and_never_exceeds_the_cap(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    # The default: 1 min doubling to 30, 10% jitter.
    manager, clock = refusing_manager(
        sim, store, make_manager, None, refusal_backoff=REFUSAL_BACKOFF
    )
    waits = await refused_waits(manager, events, clock, 7)
    for wait, base in zip(waits, (60, 120, 240, 480, 960, 1800, 1800), strict=True):
        assert base - 1e-6 <= wait <= min(base * 1.1, 1800) + 1e-6
