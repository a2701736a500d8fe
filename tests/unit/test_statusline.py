"""statusline.py: the status body, the line, and finding the proxy (no network here)."""

from __future__ import annotations

from ccm_tui import config
from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    Failure,
    RateLimitsObserved,
    RefreshState,
    RequestFinished,
    RequestStarted,
    TokenStateChanged,
)
from ccm_tui.monitor import MonitorState
from ccm_tui.ratelimits import parse_rate_limits
from ccm_tui.statusline import DEFAULT_PORT, Target, find_target, format_line, status_body
from ccm_tui.usage import UsageState

from support import Clock

NOW = 1_788_000_000.0


def folded(*events) -> tuple[MonitorState, UsageState]:
    state, usage = MonitorState(clock=Clock(NOW)), UsageState()
    for event in events:
        state.apply(event)
        usage.apply(event)
    return state, usage


def answered(rid: str, provider: str, at: float = NOW - 5, failed_first: str = ""):
    events = [
        RequestStarted(rid, at, "POST", "/v1/messages", "s", "s", "default", True, 1, 0, "", ())
    ]
    attempt = 1
    if failed_first:
        events += [
            AttemptStarted(rid, 1, failed_first, "m", AuthMode.OAUTH, at),
            AttemptFailed(
                rid, 1, failed_first, Failure.OVERLOADED, 529, "Overloaded", None, 3.0, at
            ),
        ]
        attempt = 2
    events += [
        AttemptStarted(rid, attempt, provider, "claude-sonnet-4-5", AuthMode.OAUTH, at),
        RequestFinished(rid, 200, Failure.OK, provider, "claude-sonnet-4-5", 10, 5, 0, 0,
                        "end_turn", 800.0, "", at + 0.8),
    ]  # fmt: skip
    return events


LIMITS = parse_rate_limits(
    [
        ("anthropic-ratelimit-unified-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
        ("anthropic-ratelimit-unified-5h-reset", str(int(NOW + 2 * 3600 + 13 * 60))),
        ("anthropic-ratelimit-unified-7d-utilization", "0.181"),
        ("anthropic-ratelimit-unified-7d-reset", str(int(NOW + 3 * 86400 + 4 * 3600))),
        ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
    ]
)
TOKEN = TokenStateChanged(
    "claude-max", "store", ("claude-max",), "sk-ant-oat01-…abcd", NOW + 6 * 3600 + 2 * 60,
    RefreshState.OK, "", None, "", False, False,
)  # fmt: skip


def test_the_body_names_the_provider_the_newest_request_went_to():
    state, usage = folded(*answered("a", "zai", NOW - 30), *answered("b", "claude-max"))
    body = status_body(state, usage, NOW)
    assert (body["provider"], body["model"]) == ("claude-max", "claude-sonnet-4-5")
    assert body["v"] == 1 and body["at"] == NOW


def test_the_body_counts_failed_attempts_of_the_last_minute_only():
    clock = Clock(NOW)
    state, usage = MonitorState(clock=clock), UsageState()
    # The monitor stamps attempt outcomes with its clock: the old request's are 100 s old.
    for now, rid in ((NOW - 100, "old"), (NOW, "new")):
        clock.now = now
        for event in answered(rid, "claude-max", now - 1, failed_first="zai"):
            state.apply(event)
    body = status_body(state, usage, NOW)
    assert body["failures_1m"] == 1 and body["attempts_1m"] == 2
    assert status_body(state, usage, NOW + 120)["failures_1m"] == 0


def test_the_body_carries_the_providers_windows_and_token():
    state, usage = folded(
        *answered("a", "claude-max"),
        RateLimitsObserved("claude-max", "claude-max", NOW - 5, 200, LIMITS),
        TOKEN,
    )
    body = status_body(state, usage, NOW)
    assert body["limits"]["windows"]["5h"] == {
        "utilization": 0.42,
        "reset": NOW + 2 * 3600 + 13 * 60,
        "status": "",
    }
    assert body["limits"]["claim"] == "five_hour"
    assert body["token"] == {"id": "claude-max", "expires_at": TOKEN.expires_at, "refresh": "ok"}
    assert body["today"]["tokens"] == 15


def test_the_line_shows_provider_windows_failures_and_token_time_left():
    state, usage = folded(
        *answered("a", "claude-max", failed_first="zai"),
        RateLimitsObserved("claude-max", "claude-max", NOW - 5, 200, LIMITS),
        TOKEN,
    )
    line = format_line(status_body(state, usage, NOW), NOW)
    assert line == (
        "ccm claude-max │ 5h 42% ↻2h13m │ 7d 18% ↻3d4h │ 1 of 2 failed/1m │ token 6h02m"
    )


def test_the_line_before_any_request():
    state, usage = folded()
    assert format_line(status_body(state, usage, NOW), NOW) == "ccm no requests yet │ 0 failed/1m"


def test_the_line_says_rejected_and_until_when():
    limits = parse_rate_limits(
        [
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-reset", str(int(NOW + 1800))),
            ("anthropic-ratelimit-unified-5h-utilization", "1.0"),
        ]
    )
    assert limits is not None
    state, usage = folded(
        *answered("a", "claude-max"),
        RateLimitsObserved("claude-max", "claude-max", NOW, 429, limits),
    )
    line = format_line(status_body(state, usage, NOW), NOW)
    assert "5h 100%" in line and "rejected ↻30m" in line


def test_an_expired_token_says_so():
    expired = TokenStateChanged(
        "claude-max", "store", ("claude-max",), "x", NOW - 1, RefreshState.FAILED, "", None,
        "", False, False,
    )  # fmt: skip
    state, usage = folded(*answered("a", "claude-max"), expired)
    assert format_line(status_body(state, usage, NOW), NOW).endswith("token expired")


def test_a_line_never_carries_control_characters():
    line = format_line({"provider": "evil\x1b[31m\nname", "failures_1m": 0}, NOW)
    assert line.isprintable() and "\x1b" not in line


def test_the_target_comes_from_ccm_tui_url_first(tmp_path):
    env = {"CCM_TUI_URL": "http://[::1]:14000/", "CCM_TUI_KEY": "k"}
    assert find_target(env, str(tmp_path / "none.toml")) == Target("::1", 14000, "k")
    assert find_target({"CCM_TUI_URL": "localhost"}) == Target("localhost", DEFAULT_PORT, None)


def test_the_target_comes_from_the_configs_server_table(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\nport = 14111\napi_key = "$MY_KEY"\n')
    assert find_target({"MY_KEY": "secret"}, str(path)) == Target("127.0.0.1", 14111, "secret")


def test_the_default_config_is_found_under_xdg_config_home(tmp_path):
    (tmp_path / "ccm-tui").mkdir()
    (tmp_path / "ccm-tui" / "config.toml").write_text("[server]\nport = 14222\n")
    assert find_target({"XDG_CONFIG_HOME": str(tmp_path)}).port == 14222


def test_an_unreadable_config_gives_the_defaults(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[server\nport = nonsense")
    assert find_target({}, str(path)) == Target("127.0.0.1", DEFAULT_PORT, None)
    path.write_text('[server]\nport = "14000"\n')
    assert find_target({}, str(path)).port == DEFAULT_PORT


def test_the_default_port_is_the_configs():
    assert DEFAULT_PORT == config.DEFAULT_PORT
