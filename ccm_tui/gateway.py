"""A proxy with its token manager, its history and their HTTP clients: what `serve`, the TUI
and the demo run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from ccm_tui.auth import TokenManager, TokenStore
from ccm_tui.auth.refresh import REFUSAL_BACKOFF
from ccm_tui.backoff import Backoff
from ccm_tui.config import Config
from ccm_tui.events import Event, EventBus, Level, Notice, RequestFinished
from ccm_tui.history import History, HistoryError, HistoryReader, HistorySettings
from ccm_tui.monitor import MonitorState, ProxyInstance
from ccm_tui.paths import default_token_store_path
from ccm_tui.proxy.app import Proxy


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
        self.state = MonitorState(
            history=config.tui.history,
            prices=config.pricing,
            instance=ProxyInstance.new(time.time(), keeps_history=config.history.enabled),
        )
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
        self.proxy = Proxy(config, self.bus, self.state, self.tokens)
        self.history: History | None = None
        if config.history.enabled:
            self.history = History(
                HistorySettings(
                    config.history.path,
                    max_age_days=config.history.max_age_days,
                    max_bytes=int(config.history.max_mb * 1024 * 1024),
                ),
                on_problem=self._history_problem,
            )
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        self._loop = asyncio.get_running_loop()
        if self.history is not None:
            await self._open_history(self.history)
        url = await self.proxy.start(host, port)
        await self.tokens.start()
        return url

    async def stop(self) -> None:
        await self.tokens.close()
        await self.proxy.stop()
        await self.http.aclose()
        if self.history is not None:
            await asyncio.to_thread(self.history.close)

    # -- history -----------------------------------------------------------------------------

    async def _open_history(self, history: History) -> None:
        """The monitor starts with what the file holds (today's requests, the per-day
        totals, the last week's windows); then every finished request is written. A file
        that cannot be used is reported, and the proxy runs without it."""
        if not await asyncio.to_thread(history.open):
            return
        reader = HistoryReader(history.settings.path)
        now = time.time()
        try:
            daily, records, requests = await asyncio.to_thread(
                lambda: (
                    reader.daily(),
                    reader.records(now - 7 * 86400),
                    reader.requests(now - 86400, self.state.history),
                )
            )
        except HistoryError as err:
            self._history_problem(str(err))
        else:
            self.state.usage.load(daily, records)
            self.state.restore(requests)
        self.bus.add_listener(self._write)

    def _write(self, event: Event) -> None:
        if type(event) is not RequestFinished or self.history is None:
            return
        view = self.state.requests.get(event.request_id)
        record = self.state.usage.last_record
        if view is not None:
            self.history.record(
                view, record if record and record.request_id == event.request_id else None
            )

    def _history_problem(self, message: str) -> None:
        """From any thread (the writer's too): a notice on the loop's bus."""
        notice = Notice(Level.WARNING, message, time.time())
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # logged by the history already
        loop.call_soon_threadsafe(self.bus.publish, notice)
