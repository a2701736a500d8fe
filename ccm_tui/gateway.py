"""A proxy with its token manager and their HTTP clients: what `serve`, the TUI and the demo run."""

from __future__ import annotations

from pathlib import Path

import httpx

from ccm_tui.auth import TokenManager, TokenStore
from ccm_tui.auth.refresh import REFUSAL_BACKOFF
from ccm_tui.backoff import Backoff
from ccm_tui.config import Config
from ccm_tui.events import EventBus
from ccm_tui.monitor import MonitorState
from ccm_tui.paths import default_token_store_path
from ccm_tui.proxy.app import Proxy
from ccm_tui.proxy.credentials import Credentials


class Gateway:
    def __init__(
        self,
        config: Config,
        *,
        tokens_path: Path | None = None,
        claude_code_path: Path | None = None,
        refresh_margin_s: float = 300,
        refusal_backoff: Backoff = REFUSAL_BACKOFF,
    ) -> None:
        self.bus = EventBus()
        self.state = MonitorState(history=config.tui.history)
        # OAuth traffic (token refresh, create_api_key) is rare and not on the hot path.
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        store = TokenStore(tokens_path or config.oauth.token_store or default_token_store_path())
        self.tokens = TokenManager(
            store,
            config.oauth,
            self.bus,
            config.providers,
            self.http,
            refresh_margin_s,
            claude_code_path=claude_code_path,
            refusal_backoff=refusal_backoff,
        )
        self.proxy = Proxy(config, self.bus, self.state, Credentials(self.tokens))

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        url = await self.proxy.start(host, port)
        await self.tokens.start()
        return url

    async def stop(self) -> None:
        await self.tokens.close()
        await self.proxy.stop()
        await self.http.aclose()
