"""usagereport.py: what `ccm-tui usage [--since 7d] [--json]` prints from the history."""

from __future__ import annotations

import time

import orjson
import pytest

from ccm_tui.events import AuthMode
from ccm_tui.history import History, HistoryError, HistoryReader, HistorySettings
from ccm_tui.usagereport import parse_since, render_usage

from support import RequestFeed

NOW = time.time()


@pytest.fixture
def reader(tmp_path) -> HistoryReader:
    path = tmp_path / "history.sqlite3"
    history = History(HistorySettings(path))
    assert history.open()
    feed = RequestFeed(history)
    feed.request("today-sub", NOW - 60, auth=AuthMode.OAUTH, tokens=(1_000, 1_000, 0, 0))
    feed.request("today-api", NOW - 30, auth=AuthMode.APIKEY, tokens=(1_000, 1_000, 0, 0))
    feed.request("today-glm", NOW - 20, auth=AuthMode.APIKEY, model="glm-4.6")
    feed.request("last-week", NOW - 6 * 86400, tokens=(50_000, 0, 0, 0))
    feed.request("last-month", NOW - 20 * 86400, tokens=(7, 0, 0, 0))
    history.close()
    return HistoryReader(path)


def day(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(epoch))


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("24h", 86400), ("7d", 604800),
                                                ("2w", 1209600), (" 7D ", 604800)])  # fmt: skip
def test_since_reads_a_number_and_a_unit(text, seconds):
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["7", "d", "7 days", "-1d", "1.5h", ""])
def test_since_refuses_anything_else_with_a_hint(text):
    with pytest.raises(ValueError, match="like 24h, 7d or 2w"):
        parse_since(text)


def test_json_lists_each_day_provider_and_model_since_then(reader):
    data = orjson.loads(render_usage(reader, 7 * 86400, as_json=True, now=NOW))
    assert data["since_day"] == day(NOW - 7 * 86400)
    assert [(d["day"], d["model"], d["requests"]) for d in data["days"]] == [
        (day(NOW), "claude-sonnet-4-5-20250929", 2),
        (day(NOW), "glm-4.6", 1),
        (day(NOW - 6 * 86400), "claude-sonnet-4-5-20250929", 1),
    ]
    total = data["total"]
    assert total["requests"] == 4
    assert total["input_tokens"] == 1_000 + 1_000 + 1200 + 50_000
    assert total["cost_usd"] == pytest.approx((1_000 * 3 + 1_000 * 15) / 1e6)
    assert total["would_cost_usd"] > 0
    assert total["unpriced"] == 1


def test_since_leaves_out_older_days(reader):
    data = orjson.loads(render_usage(reader, 86400, as_json=True, now=NOW))
    assert {d["day"] for d in data["days"]} <= {day(NOW), day(NOW - 86400)}
    wide = orjson.loads(render_usage(reader, 30 * 86400, as_json=True, now=NOW))
    assert wide["total"]["requests"] == 5


def test_the_table_has_a_row_per_day_and_model_and_a_total(reader):
    text = render_usage(reader, 7 * 86400, now=NOW)
    lines = text.splitlines()
    assert lines[0].startswith(f"Usage since {day(NOW - 7 * 86400)}, from ")
    header = lines[2].split()
    assert header[:5] == ["day", "provider", "model", "requests", "input"]
    body = [line for line in lines[3:] if line.startswith(day(NOW))]
    assert len(body) == 2
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1] == "4"
    assert "$0.0180" in total  # the API-key request: 1k in, 1k out on Sonnet 4.5


def test_the_table_names_models_without_a_price(reader):
    text = render_usage(reader, 7 * 86400, now=NOW)
    assert "1 requests used models with no price (glm-4.6)" in text
    assert "[pricing]" in text


def test_no_history_yet_says_where_it_will_be(tmp_path):
    text = render_usage(HistoryReader(tmp_path / "none.sqlite3"), 86400, now=NOW)
    assert text.startswith("No history yet at ") and "none.sqlite3" in text


def test_no_usage_in_the_period_says_so(reader):
    text = render_usage(reader, 3600, now=NOW + 10 * 86400)
    assert text.startswith(f"No usage since {day(NOW + 10 * 86400 - 3600)} in ")


def test_a_damaged_history_is_an_error_to_show(tmp_path):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"\x00garbage" * 500)
    with pytest.raises(HistoryError):
        render_usage(HistoryReader(path), 86400, now=NOW)


def test_usage_without_history_points_a_demo_user_at_the_demos_own(tmp_path, monkeypatch, capsys):
    from ccm_tui import cli
    from ccm_tui.paths import demo_dir

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert cli.main(["usage"]) == cli.EXIT_OK
    assert "demo" not in capsys.readouterr().err  # no demo run yet: nothing to point at
    demo_dir().mkdir(parents=True)
    (demo_dir() / "config.toml").write_text("", encoding="utf-8")
    assert cli.main(["usage"]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert out.startswith("No history yet at ")
    assert "The demo keeps its own history: ccm-tui usage --config " in err
    assert err.rstrip().endswith("demo/config.toml")
