"""`k` in the monitor: a Pro/Max provider refused for non-Claude-Code use moves to its
derived API key, at once and for good (config.toml keeps every comment)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anthropic
import pytest
from scenes import until

from ccm_tui.auth import TokenEntry, TokenStore
from ccm_tui.config import load_config
from ccm_tui.control import LocalControl
from ccm_tui.events import AuthMode
from ccm_tui.gateway import Gateway
from ccm_tui.sim import Simulator
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.theming import load_themes

from support import HELLO

CONFIG = """\
# My gateway. These comments must survive the switch.
[server]
host = "127.0.0.1"  # loopback only
port = 0

[router]
default = "sonnet"

# The Max subscription: Anthropic refuses it for anything but Claude Code.
[[providers]]
name = "claude-max"
provider_type = "anthropic"
auth_type = "oauth"
oauth_provider = "max-login"
base_url = "{max_url}"
# (the switch adds its key below)

# Backup.
[[providers]]
name = "zai"
provider_type = "z.ai"
auth_type = "apikey"
api_key = "zai-key-0123456789"
base_url = "{zai_url}"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "claude-max"
actual_model = "claude-sonnet-4-5"
[[models.mappings]]
priority = 2
provider = "zai"
actual_model = "glm-4.6"

[oauth]
token_url = "{token_url}"
create_api_key_url = "{create_url}"
token_store = "{store}"
"""


@pytest.fixture
async def max_gateway(tmp_path: Path, sim: Simulator):
    store_path = tmp_path / "tokens.json"
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        CONFIG.format(
            max_url=sim.url("claude-max"),
            zai_url=sim.url("zai"),
            token_url=sim.token_url,
            create_url=sim.create_api_key_url,
            store=store_path,
        )
    )
    grant = sim.issue_tokens(lifetime_s=3600)
    TokenStore(store_path).put(
        TokenEntry(
            "max-login",
            grant.access_token,
            grant.refresh_token,
            datetime.fromtimestamp(grant.expires_at, UTC),
        )
    )
    sim.scenario("claude-max", claude_code_only=True)
    gateway = Gateway(load_config(config_path), claude_code_path=tmp_path / "none.json")
    await gateway.start("127.0.0.1", 0)
    yield gateway, config_path
    await gateway.stop()


async def test_k_moves_the_selected_provider_to_its_derived_key_and_saves_it(max_gateway, sim):
    gateway, config_path = max_gateway
    before = config_path.read_text()
    client = anthropic.AsyncAnthropic(base_url=gateway.proxy.url, api_key="x", max_retries=0)
    refused = await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    assert refused.content[0].text == sim.text("zai")  # claude-max ✗400 → zai

    app = CcmApp(
        gateway.state,
        gateway.bus,
        LocalControl(gateway.proxy.actions),
        themes=load_themes(),
        theme="ccm-dark",
        source="test",
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        app.providers.move_cursor(0)
        assert app.providers.selected == "claude-max"
        await pilot.press("k")
        await until(
            pilot,
            lambda: app.providers.cells("claude-max")["auth"].plain == "derived",
            "the derived key on screen",
        )
        assert gateway.state.providers["claude-max"].auth is AuthMode.DERIVED_KEY

    after = config_path.read_text()
    assert "use_derived_key = true" in after
    # Every line of the file is still there, comments included; only the key was added.
    assert [line for line in after.splitlines() if "use_derived_key" not in line] == (
        before.splitlines()
    )
    assert load_config(config_path).provider("claude-max").use_derived_key is True

    served = await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    assert served.content[0].text == sim.text("claude-max")
    upstream = sim.requests("claude-max")[-1]
    assert upstream.header("x-api-key").startswith("sk-ant-api03-")
    assert upstream.header("authorization") is None
    assert "oauth-2025-04-20" not in (upstream.header("anthropic-beta") or "")
