"""`ccm-tui demo`: a newcomer's first run, with no config and no credentials of their own.

A simulated upstream plays four providers: a Claude Pro/Max login that Anthropic refuses
for anything but Claude Code's own traffic (claude-code-mux issue 7), a flaky provider
that answers 429 and 529 now and then, a healthy one, and a second subscription login
(claude-pro) whose rate-limit windows are minutes long, so they fill, send its traffic on
(`prefer_below`) and reset while you watch. Its tokens live two minutes so the countdowns
move and refresh. The demo's config, token store and usage history persist in the XDG
state dir (its own history file, never the user's), so pressing `k` (derived key) and the
Usage totals survive a restart, as they would for real.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import tomlkit

from ccm_tui.atomicfile import atomic_write_text
from ccm_tui.auth import TokenEntry, TokenStore
from ccm_tui.sim import Simulator

TOKEN_LIFETIME_S = 120
OAUTH_PROVIDER = "claude-max"
WINDOWED_PROVIDER = "claude-pro"  # its windows last minutes, not hours (set_scenarios)
# Short windows: the 5-hour one fills in a minute or two of demo traffic and resets.
DEMO_WINDOWS = {
    "window_5h_tokens": 4_000,
    "window_5h_s": 120,
    "window_7d_tokens": 40_000,
    "window_7d_s": 900,
}

CONFIG_TEMPLATE = """\
# The demo's config: ccm-tui demo rewrites the URLs on each start (the simulator's port
# changes) and keeps everything else, including use_derived_key.

[server]
host = "127.0.0.1"
port = 0

[router]
default = "sonnet"
background = "haiku"

[[providers]]
name = "claude-max"
provider_type = "anthropic"
auth_type = "oauth"
oauth_provider = "claude-max"
use_derived_key = false
base_url = ""

[[providers]]
name = "flaky"
provider_type = "z.ai"
auth_type = "apikey"
api_key = "zai-demo-key-0123456789"
base_url = ""

[[providers]]
name = "zai"
provider_type = "z.ai"
auth_type = "apikey"
api_key = "zai-demo-key-9876543210"
base_url = ""

[[providers]]
name = "claude-pro"
provider_type = "anthropic"
auth_type = "oauth"
oauth_provider = "claude-pro"
prefer_below = 0.9
base_url = ""

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "claude-max"
actual_model = "claude-sonnet-4-5-20250929"
[[models.mappings]]
priority = 2
provider = "flaky"
actual_model = "glm-4.6"
[[models.mappings]]
priority = 3
provider = "zai"
actual_model = "glm-4.6"

[[models]]
name = "haiku"
[[models.mappings]]
priority = 1
provider = "claude-pro"
actual_model = "claude-haiku-4-5-20251001"
[[models.mappings]]
priority = 2
provider = "flaky"
actual_model = "glm-4.5-air"
[[models.mappings]]
priority = 3
provider = "zai"
actual_model = "glm-4.5-air"

[oauth]

[tui]
theme = "ccm-dark"
history = 1000

[history]

[pricing]  # USD per million tokens, for the providers the shipped table does not know
"glm-4.6" = { input = 0.6, output = 2.2 }
"glm-4.5-air" = { input = 0.2, output = 1.1 }
"""


def prepare(directory: Path, sim: Simulator) -> Path:
    """Writes (or updates) the demo config for this simulator and logs the demo provider in."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "config.toml"
    text = path.read_text(encoding="utf-8") if path.exists() else CONFIG_TEMPLATE
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError:
        doc = tomlkit.parse(CONFIG_TEMPLATE)  # the demo's own file, damaged: start afresh
    names = [str(t.get("name")) for t in doc.get("providers", [])]
    if WINDOWED_PROVIDER not in names:  # an older demo's file: today's, keeping the key choice
        derived = any(
            t.get("name") == OAUTH_PROVIDER and t.get("use_derived_key")
            for t in doc.get("providers", [])
        )
        doc = tomlkit.parse(CONFIG_TEMPLATE)
        doc["providers"][0]["use_derived_key"] = derived
    for table in doc.get("providers", []):
        table["base_url"] = sim.url(str(table["name"]))
    oauth = doc.setdefault("oauth", tomlkit.table())
    oauth["authorize_url"] = sim.authorize_url("max")
    oauth["console_authorize_url"] = sim.authorize_url("console")
    oauth["token_url"] = sim.token_url
    oauth["create_api_key_url"] = sim.create_api_key_url
    oauth["token_store"] = str(directory / "oauth_tokens.json")
    history = doc.setdefault("history", tomlkit.table())
    history["path"] = str(directory / "history.sqlite3")  # the demo's own, not the user's
    atomic_write_text(path, tomlkit.dumps(doc), mode=0o600)

    # A fresh login each start: a key derived from the last run's simulator means nothing
    # to this one, so none is kept; with use_derived_key on, one is derived on first use.
    store = TokenStore(directory / "oauth_tokens.json")
    for provider in (OAUTH_PROVIDER, WINDOWED_PROVIDER):
        grant = sim.issue_tokens(lifetime_s=TOKEN_LIFETIME_S)
        store.put(
            TokenEntry(
                provider,
                grant.access_token,
                grant.refresh_token,
                datetime.fromtimestamp(grant.expires_at, UTC),
            )
        )
    return path


def set_scenarios(sim: Simulator) -> None:
    streaming = {"event_interval_ms": 45, "output_chunks": 24}
    sim.scenario(OAUTH_PROVIDER, claude_code_only=True, **streaming)
    sim.scenario(WINDOWED_PROVIDER, **streaming, **DEMO_WINDOWS)
    sim.scenario("zai", **streaming)
    sim.scenario("flaky", status=529, probability=0.35, **streaming)


async def vary_flaky(sim: Simulator, period_s: float = 40.0) -> None:
    """The flaky provider alternates between overloaded spells and rate limiting."""
    streaming = {"event_interval_ms": 45, "output_chunks": 24}
    while True:
        await asyncio.sleep(period_s)
        sim.scenario("flaky", status=429, retry_after=8, probability=0.3, **streaming)
        await asyncio.sleep(period_s)
        sim.scenario("flaky", status=529, probability=0.35, **streaming)
