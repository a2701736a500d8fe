"""TokenManager against the simulated upstream: one refresh per token, nothing leaked, no crash."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ccm_tui.auth.oauth import OAuthError, Pkce, ScopeRefused, authorize_url
from ccm_tui.auth.store import TokenStore
from ccm_tui.auth.tokens import NotLoggedIn, RefreshFailed, TokenManager
from ccm_tui.config import OAuthSettings
from ccm_tui.events import (
    AuthMode,
    RefreshState,
    Subscription,
    TokenStateChanged,
    event_to_dict,
)
from ccm_tui.sim import Simulator

from auth_helpers import (
    ID,
    NAME,
    MakeManager,
    entry,
    next_token_event,
    provider,
    refreshes,
    seed,
    token_events,
)

NO_KEY_SCOPES = ("user:profile", "user:inference")

# --- login -----------------------------------------------------------------------------------


async def test_login_exchange_end_to_end_stores_the_grant_under_the_id(
    sim: Simulator,
    settings: OAuthSettings,
    client: httpx.AsyncClient,
    store: TokenStore,
    make_manager: MakeManager,
    events: Subscription,
) -> None:
    manager = make_manager()
    pkce = Pkce.new()
    page = await client.get(authorize_url(settings, pkce, console=False))  # the user approves
    stored = await manager.complete_login(ID, page.text, pkce)  # and pastes CODE#STATE
    assert sim.authorize_requests[-1]["kind"] == "max"
    assert sim.authorize_requests[-1]["code_challenge"] == pkce.challenge
    assert sim.token_requests[-1]["grant_type"] == "authorization_code"
    assert sim.token_requests[-1]["code_verifier"] == pkce.verifier
    assert store.get(ID) == stored
    assert await manager.access_token(ID) == stored.access_token
    assert len(sim.token_requests) == 1
    (event,) = token_events(events)
    assert event.refresh is RefreshState.OK
    assert event.expires_at == stored.expires_at.timestamp()


async def test_console_login_goes_through_the_console_page(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient, make_manager: MakeManager
) -> None:
    manager = make_manager()
    pkce = Pkce.new()
    page = await client.get(authorize_url(settings, pkce, console=True))
    await manager.complete_login(ID, page.text, pkce)
    assert sim.authorize_requests[-1]["kind"] == "console"


async def test_new_login_keeps_unknown_fields_and_drops_the_old_derived_key(
    sim: Simulator,
    settings: OAuthSettings,
    client: httpx.AsyncClient,
    store: TokenStore,
    make_manager: MakeManager,
) -> None:
    seed(store, sim, api_key="sk-ant-api03-old-org-key-aaaaaaaaaaaa", extra={"note": "keep"})
    manager = make_manager()
    pkce = Pkce.new()
    page = await client.get(authorize_url(settings, pkce, console=False))
    await manager.complete_login(ID, page.text, pkce)
    stored = store.get(ID)
    assert stored is not None
    assert stored.api_key is None
    assert stored.extra == {"note": "keep"}


# --- one refresh however many wait --------------------------------------------------------


async def test_fifty_concurrent_requests_on_a_token_within_the_margin_refresh_once(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    old = seed(store, sim, expires_in_s=120)  # valid, but inside the 300 s margin
    manager = make_manager()
    tokens = await asyncio.gather(*(manager.access_token(ID) for _ in range(50)))
    assert len(refreshes(sim)) == 1
    assert refreshes(sim)[0]["refresh_token"] == old.refresh_token
    stored = store.get(ID)
    assert stored is not None
    assert set(tokens) == {stored.access_token}
    assert stored.access_token != old.access_token
    assert stored.seconds_left() > 8 * 3600 - 60


async def test_expired_token_is_never_handed_out(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    old = seed(store, sim, expires_in_s=-10)
    manager = make_manager()
    token = await manager.access_token(ID)
    assert token != old.access_token
    assert sim.oauth.access_status(token)[0] == "ok"


async def test_fresh_token_is_returned_without_a_token_request(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    grant = seed(store, sim)
    manager = make_manager()
    assert await manager.access_token(ID) == grant.access_token
    assert sim.token_requests == []


async def test_rotated_refresh_token_is_persisted(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    old = seed(store, sim, expires_in_s=60)
    manager = make_manager()
    await manager.refresh(ID)
    stored = store.get(ID)
    assert stored is not None
    assert stored.refresh_token != old.refresh_token
    # The stored (rotated) refresh token is the one the server now honours.
    assert sim.oauth._refresh.get(old.refresh_token) is None
    await manager.refresh(ID, force=True)
    assert refreshes(sim)[-1]["refresh_token"] == stored.refresh_token


async def test_refresh_keeps_the_derived_key_and_unknown_fields(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    seed(store, sim, expires_in_s=60, api_key="sk-ant-api03-derived-aaaaaaaaaaaa", extra={"x": 1})
    await make_manager().refresh(ID)
    stored = store.get(ID)
    assert stored is not None
    assert stored.api_key == "sk-ant-api03-derived-aaaaaaaaaaaa"
    assert stored.extra == {"x": 1}


async def test_second_manager_finds_the_token_already_refreshed_and_does_not_refresh(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    seed(store, sim, expires_in_s=60)
    first = make_manager()
    second = make_manager(store=TokenStore(store.path))  # another process, same file
    first.publish_all()
    second.publish_all()  # both have now seen the old, expiring token
    new = await first.access_token(ID)
    assert await second.access_token(ID) == new
    assert len(refreshes(sim)) == 1


async def test_two_managers_refreshing_at_once_hit_the_token_endpoint_once(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    seed(store, sim, expires_in_s=60)
    sim.scenario("oauth", latency_ms=200)  # the first refresh is still in flight...
    first = make_manager()
    second = make_manager(store=TokenStore(store.path))
    tokens = await asyncio.gather(first.access_token(ID), second.access_token(ID))
    assert tokens[0] == tokens[1]  # ...when the second waits on the file lock, then reads it
    assert len(refreshes(sim)) == 1


async def test_cancelled_request_does_not_cancel_the_refresh_it_started(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    old = seed(store, sim, expires_in_s=60)
    sim.scenario("oauth", latency_ms=200)
    manager = make_manager()
    request = asyncio.create_task(manager.access_token(ID))
    await next_token_event(events, lambda e: e.refresh is RefreshState.REFRESHING)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    token = await manager.access_token(ID)  # joins the refresh still in flight
    stored = store.get(ID)
    assert stored is not None
    assert stored.access_token == token
    assert stored.refresh_token != old.refresh_token  # the rotated token was saved
    assert len(refreshes(sim)) == 1


# --- after a 401 ---------------------------------------------------------------------------


async def test_after_unauthorized_with_a_token_already_replaced_returns_it_without_refresh(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    old = seed(store, sim)
    manager = make_manager()
    assert await manager.access_token(ID) == old.access_token
    newer = seed(store, sim)  # another process refreshed meanwhile
    assert await manager.after_unauthorized(ID, old.access_token) == newer.access_token
    assert sim.token_requests == []


async def test_after_unauthorized_refreshes_once_for_many_rejected_requests(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    old = seed(store, sim)  # looks fresh to us, but the server says it expired
    sim.expire(old.access_token)
    manager = make_manager()
    tokens = await asyncio.gather(
        *(manager.after_unauthorized(ID, old.access_token) for _ in range(20))
    )
    assert len(set(tokens)) == 1
    assert tokens[0] != old.access_token
    assert len(refreshes(sim)) == 1


# --- failures ------------------------------------------------------------------------------


async def test_invalid_grant_raises_refresh_failed_and_publishes_failed(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    store.put(entry(ID, refresh="sk-ant-ort01-revoked-aaaaaaaaaaaaaaaa", expires_in_s=60))
    manager = make_manager()
    with pytest.raises(RefreshFailed) as info:
        await manager.access_token(ID)
    assert "`ccm-tui login claude-max`" in info.value.message
    assert info.value.status == 400
    states = [e.refresh for e in token_events(events)]
    assert states == [RefreshState.REFRESHING, RefreshState.FAILED]
    # The dead refresh token is not sent again until a new login replaces it.
    with pytest.raises(RefreshFailed):
        await manager.access_token(ID)
    assert len(refreshes(sim)) == 1


async def test_server_error_fails_the_refresh_and_the_next_request_retries(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    seed(store, sim, expires_in_s=60)
    sim.scenario("oauth", status=500, times=1)
    manager = make_manager()
    with pytest.raises(RefreshFailed) as info:
        await manager.access_token(ID)
    assert info.value.status == 500
    token = await manager.access_token(ID)
    assert sim.oauth.access_status(token)[0] == "ok"
    assert [e.refresh for e in token_events(events)][-1] is RefreshState.OK


async def test_background_refresh_failure_is_logged_and_the_task_carries_on(
    sim: Simulator,
    store: TokenStore,
    make_manager: MakeManager,
    events: Subscription,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(store, sim, expires_in_s=60)
    sim.scenario("oauth", status=503)
    manager = make_manager()
    with caplog.at_level(logging.WARNING, logger="ccm_tui.auth"):
        await manager.start()
        failed = await next_token_event(events, lambda e: e.refresh is RefreshState.FAILED)
    assert "503" in failed.refresh_message
    assert "refresh of OAuth token claude-max failed" in caplog.text
    sim.scenario("oauth")  # healthy again
    manager.wake()
    ok = await next_token_event(events, lambda e: e.refresh is RefreshState.OK)
    stored = store.get(ID)
    assert stored is not None
    assert ok.expires_at == stored.expires_at.timestamp()
    assert ok.refreshed_at is not None


async def test_background_task_refreshes_ahead_of_expiry(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    old = seed(store, sim, expires_in_s=200)
    manager = make_manager()
    await manager.start()
    await next_token_event(events, lambda e: e.refresh is RefreshState.OK)
    stored = store.get(ID)
    assert stored is not None
    assert stored.access_token != old.access_token
    assert len(refreshes(sim)) == 1


async def test_only_tokens_of_oauth_providers_are_refreshed(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    seed(store, sim, expires_in_s=60)
    gemini = entry("gemini", "ya29.gemini-access-token", "1//gemini-refresh", expires_in_s=-60)
    store.put(gemini)
    store.put(entry("unused-anthropic", expires_in_s=-60))
    providers = (
        provider(NAME, ID),
        provider("zai", auth=AuthMode.APIKEY),
        provider("own", auth=AuthMode.PASSTHROUGH),
    )
    manager = make_manager(providers)
    await manager.start()
    await manager.check()
    sent = {r["refresh_token"] for r in sim.token_requests}
    assert "1//gemini-refresh" not in sent
    assert entry("unused-anthropic").refresh_token not in sent
    assert len(sent) == 1
    assert store.get("gemini") == gemini
    with pytest.raises(OAuthError, match="neither uses nor refreshes it"):
        await manager.access_token("gemini")
    shown = {e.token_id: e for e in events.drain() if isinstance(e, TokenStateChanged)}
    assert shown["gemini"].read_only is True
    assert shown["gemini"].providers == ()
    assert shown[ID].read_only is False
    assert shown[ID].providers == (NAME,)


async def test_missing_entry_is_not_logged_in_with_the_login_command(
    make_manager: MakeManager, events: Subscription
) -> None:
    manager = make_manager()
    with pytest.raises(NotLoggedIn, match="`ccm-tui login claude-max`"):
        await manager.access_token(ID)
    manager.publish_all()
    (event,) = token_events(events)
    assert event.access_token == ""
    assert event.expires_at is None
    assert event.refresh_message.startswith("not logged in")


async def test_corrupt_store_fails_the_request_and_is_left_untouched(
    store: TokenStore, make_manager: MakeManager
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{oops")
    manager = make_manager()
    with pytest.raises(OAuthError, match="not valid JSON"):
        await manager.access_token(ID)
    manager.publish_all()
    await manager.check()
    assert store.path.read_text() == "{oops"


# --- derived API keys ----------------------------------------------------------------------


async def test_derived_key_is_created_once_and_stored_beside_the_token(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    grant = seed(store, sim, extra={"note": "keep"})
    manager = make_manager()
    keys = await asyncio.gather(*(manager.derived_key(ID, NAME) for _ in range(10)))
    assert len(set(keys)) == 1
    assert len(sim.requests("create_api_key")) == 1
    raw = json.loads(store.path.read_text())[ID]
    assert raw["api_key"] == keys[0]
    assert raw["access_token"] == grant.access_token
    assert raw["note"] == "keep"
    assert sim.oauth.api_key_valid(keys[0])
    (event,) = token_events(events)
    assert event.derived_key.endswith(keys[0][-4:])
    assert keys[0] not in event.derived_key


async def test_derived_key_refreshes_and_retries_once_after_a_401(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    old = seed(store, sim)
    sim.expire(old.access_token)  # the server disagrees with the stored expiry
    manager = make_manager()
    key = await manager.derived_key(ID, NAME)
    assert sim.oauth.api_key_valid(key)
    assert len(refreshes(sim)) == 1
    assert len(sim.requests("create_api_key")) == 2


async def test_scope_refused_names_the_console_login_and_stores_nothing(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    seed(store, sim, scopes=NO_KEY_SCOPES)
    manager = make_manager()
    with pytest.raises(ScopeRefused) as info:
        await manager.derived_key(ID, NAME)
    assert "`ccm-tui login claude-max --console`" in info.value.message
    assert "stays on OAuth" in info.value.message
    stored = store.get(ID)
    assert stored is not None
    assert stored.api_key is None
    # The OAuth token itself still works.
    assert await manager.access_token(ID) == stored.access_token


async def test_rederive_replaces_a_rejected_key(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    seed(store, sim)
    manager = make_manager()
    first = await manager.derived_key(ID, NAME)
    sim.revoke_api_key(first)
    second = await manager.rederive(ID, NAME, first)
    assert second != first
    assert sim.oauth.api_key_valid(second)
    assert store.get(ID).api_key == second  # type: ignore[union-attr]


async def test_rederive_uses_a_key_already_replaced_without_creating_one(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    seed(store, sim, api_key="sk-ant-api03-replacement-aaaaaaaaaaaa")
    manager = make_manager()
    key = await manager.rederive(ID, NAME, "sk-ant-api03-rejected-bbbbbbbbbbbb")
    assert key == "sk-ant-api03-replacement-aaaaaaaaaaaa"
    assert sim.requests("create_api_key") == []


async def test_derived_key_in_use_is_published_and_starts_from_the_config(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    seed(store, sim)
    manager = make_manager((provider(NAME, ID, use_derived_key=True),))
    manager.publish_all()
    assert token_events(events)[-1].derived_key_in_use is True
    manager.set_derived_in_use(ID, False)
    assert token_events(events)[-1].derived_key_in_use is False
    manager.set_derived_in_use(ID, False)  # no change, no event
    assert token_events(events) == []


# --- nothing leaks ---------------------------------------------------------------------------


async def test_no_raw_token_or_key_reaches_the_log_or_any_event(
    sim: Simulator,
    store: TokenStore,
    make_manager: MakeManager,
    events: Subscription,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets: list[str] = []
    caplog.set_level(logging.DEBUG)
    old = seed(store, sim, expires_in_s=60)
    secrets += [old.access_token, old.refresh_token]
    manager = make_manager((provider(NAME, ID), provider("dead", "dead")))
    await manager.start()
    await next_token_event(events, lambda e: e.refresh is RefreshState.OK)
    new = store.get(ID)
    assert new is not None
    secrets += [new.access_token, new.refresh_token]
    secrets.append(await manager.derived_key(ID, NAME))
    dead = "sk-ant-ort01-dead-refresh-cccccccccccccccc"
    store.put(entry("dead", "sk-ant-oat01-dead-access-dddddddddddddd", dead, expires_in_s=-1))
    secrets += [dead, "sk-ant-oat01-dead-access-dddddddddddddd"]
    with pytest.raises(RefreshFailed) as info:
        await manager.access_token("dead")
    manager.set_derived_in_use(ID, True)
    manager.publish_all()
    await manager.close()
    published = [event_to_dict(e) for e in events.drain()]
    assert published
    text = json.dumps(published) + caplog.text + str(info.value) + repr(info.value)
    for secret in secrets:
        assert secret not in text
        assert secret[-12:] not in text  # not even most of it


# --- a clock that is not the wall clock -----------------------------------------------------


async def test_the_margin_is_measured_with_the_given_clock(
    sim: Simulator, store: TokenStore, make_manager: MakeManager
) -> None:
    grant = seed(store, sim)  # 8 h left by the wall clock
    stored = store.get(ID)
    assert stored is not None
    later = stored.expires_at.timestamp() - 100  # 100 s before expiry by this clock
    manager = make_manager(clock=lambda: later)
    token = await manager.access_token(ID)
    assert token != grant.access_token
    assert len(refreshes(sim)) == 1
    refreshed = store.get(ID)
    assert refreshed is not None
    assert refreshed.expires_at == datetime.fromtimestamp(int(later + 28800), UTC)


async def test_entry_changed_by_another_process_is_published_by_the_next_check(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    seed(store, sim)
    manager = make_manager()
    await manager.start()
    events.drain()
    newer = seed(store, sim)
    await manager.check()
    (event,) = token_events(events)
    assert event.access_token.endswith(newer.access_token[-4:])
    stored = store.get(ID)
    assert stored is not None
    assert event.expires_at == stored.expires_at.timestamp()


async def test_claude_code_login_is_published_when_its_file_appears_or_changes(
    tmp_path: Path, make_manager: MakeManager, events: Subscription
) -> None:
    path = tmp_path / "claude" / ".credentials.json"
    manager = make_manager((provider(NAME, ID), provider("own", auth=AuthMode.PASSTHROUGH)))
    await manager.start()
    assert token_events(events, "claude-code") == []  # no file, nothing to show
    path.parent.mkdir()
    login = {"accessToken": "sk-ant-oat01-cc-aaaaaaaaaaaaaaaa", "expiresAt": 1_900_000_000_000}
    path.write_text(json.dumps({"claudeAiOauth": login}))
    await manager.check()
    (appeared,) = token_events(events, "claude-code")
    assert appeared.expires_at == 1_900_000_000
    assert appeared.providers == ("own",)
    await manager.check()
    assert token_events(events, "claude-code") == []  # unchanged: nothing new
    path.write_text(json.dumps({"claudeAiOauth": {**login, "expiresAt": 1_900_000_600_000}}))
    await manager.check()
    (changed,) = token_events(events, "claude-code")
    assert changed.expires_at == 1_900_000_600
    path.write_text("{broken")
    await manager.check()
    (broken,) = token_events(events, "claude-code")
    assert broken.refresh is RefreshState.FAILED
    assert "not valid JSON" in broken.refresh_message
    path.unlink()
    await manager.check()
    (gone,) = token_events(events, "claude-code")
    assert gone.access_token == ""
    assert gone.refresh_message == "Claude Code is not logged in"


# --- a refresh that cannot be saved --------------------------------------------------------


async def refresh_while_the_store_is_unwritable(
    sim: Simulator, store: TokenStore, manager: TokenManager, events: Subscription
) -> None:
    """Refreshes with the store's directory moved away while the grant is in flight, so the
    rotated tokens cannot be written; the directory (and the old entry) then come back."""
    sim.scenario("oauth", latency_ms=200)
    request = asyncio.create_task(manager.access_token(ID))
    await next_token_event(events, lambda e: e.refresh is RefreshState.REFRESHING)
    home = store.path.parent
    away = home.with_name(home.name + ".away")
    home.rename(away)
    with pytest.raises(RefreshFailed, match="cannot be written"):
        await request
    away.rename(home)
    sim.scenario("oauth")


async def test_unsaved_refresh_is_kept_by_the_next_check_and_saved_then(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    old = seed(store, sim, expires_in_s=60)
    manager = make_manager()
    await refresh_while_the_store_is_unwritable(sim, store, manager, events)
    stale = store.get(ID)
    assert stale is not None and stale.refresh_token == old.refresh_token  # nothing saved

    # The stale entry on disk (due, and its refresh token already rotated away) must not
    # replace the rotated one: the check writes the rotated one instead of refreshing.
    await manager.check()
    saved = store.get(ID)
    assert saved is not None
    assert saved.refresh_token != old.refresh_token
    assert len(refreshes(sim)) == 1
    assert token_events(events)[-1].refresh is not RefreshState.FAILED
    assert await manager.access_token(ID) == saved.access_token
    await manager.refresh(ID, force=True)  # the saved refresh token is the live one
    assert refreshes(sim)[-1]["refresh_token"] == saved.refresh_token


async def test_unsaved_refresh_token_is_the_one_sent_when_the_token_is_due_again(
    sim: Simulator, store: TokenStore, make_manager: MakeManager, events: Subscription
) -> None:
    old = seed(store, sim, expires_in_s=60)
    now = [time.time()]
    manager = make_manager(clock=lambda: now[0])
    await refresh_while_the_store_is_unwritable(sim, store, manager, events)
    rotated = refreshes(sim)[0]
    now[0] += 8 * 3600  # the unsaved tokens are due now too
    token = await manager.access_token(ID)
    assert sim.oauth.access_status(token)[0] == "ok"
    sent = [r["refresh_token"] for r in refreshes(sim)]
    assert sent.count(old.refresh_token) == 1  # the rotated-away token was not sent again
    assert rotated["refresh_token"] == old.refresh_token
    saved = store.get(ID)
    assert saved is not None
    assert saved.access_token == token
