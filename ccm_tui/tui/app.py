"""The monitor: renders a `MonitorState` and sends commands through a `ProxyControl`.

It knows nothing of where the state comes from (a proxy in this process, a remote one
through `attach`, the demo): it reads the state, watches the bus for what changed, and
asks the control to change things.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Container, Vertical
from textual.geometry import Size
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Static, Tab, Tabs

from ccm_tui.actions import Action, ActionRefused
from ccm_tui.control import ProxyControl
from ccm_tui.events import ConnectionChanged, EventBus, Level
from ccm_tui.heap import settle_heap
from ccm_tui.monitor import MonitorState
from ccm_tui.proxy_process import Ownership
from ccm_tui.tui import chrome
from ccm_tui.tui.filtering import RequestFilter
from ccm_tui.tui.messages import BusAdapter, MonitorUpdated
from ccm_tui.tui.screens import ConfirmQuitScreen, FilterScreen, HelpScreen, QuitChoice
from ccm_tui.tui.theming import Palette, ThemeSet, fallback_variables, register_themes
from ccm_tui.tui.widgets.detail import DetailView
from ccm_tui.tui.widgets.keybar import KeyBar
from ccm_tui.tui.widgets.line import TextLine
from ccm_tui.tui.widgets.providers import ProvidersTable, offered_actions
from ccm_tui.tui.widgets.requests import RequestsTable
from ccm_tui.tui.widgets.table import LiveTable
from ccm_tui.tui.widgets.tokens import TokensTable
from ccm_tui.tui.widgets.usage import UsageTable, gauges, limits_lines, usage_caption

PANES = ("requests", "providers", "tokens", "detail", "usage")
PANE_TITLES = {
    "requests": "Requests",
    "providers": "Providers",
    "tokens": "Tokens",
    "detail": "Detail",
    "usage": "Usage",
}
WIDE = (120, 32)  # at least this many columns and rows: every pane at once
PANE_GROUP = Binding.Group("Panes")
SEVERITY = {Level.INFO: "information", Level.WARNING: "warning", Level.ERROR: "error"}
PALETTE_TITLES = {  # a provider's actions in the command palette
    Action.DERIVE_KEY: "Use a derived API key for {}",
    Action.USE_OAUTH: "Switch {} back to OAuth",
    Action.ENABLE: "Enable {}",
    Action.DISABLE: "Disable {}",
    Action.RESET: "Reset counters of {}",
}


class CcmApp(App[int]):
    CSS_PATH = "ccm.tcss"
    TITLE = "ccm-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
        Binding("q", "request_quit", "Quit", id="app.request_quit"),
        Binding("d", "detach", "Detach", id="app.detach"),
        Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
        Binding("t", "next_theme", "Theme", id="app.theme"),
        Binding("ctrl+r", "reload", "Reload", id="app.reload"),
        Binding("1", "pane('requests')", "Requests", id="app.pane.requests", group=PANE_GROUP),
        Binding("2", "pane('providers')", "Providers", id="app.pane.providers", group=PANE_GROUP),
        Binding("3", "pane('tokens')", "Tokens", id="app.pane.tokens", group=PANE_GROUP),
        Binding("4", "pane('detail')", "Detail", id="app.pane.detail", group=PANE_GROUP),
        Binding("5", "pane('usage')", "Usage", id="app.pane.usage", group=PANE_GROUP),
        Binding("escape", "back", "Back", id="app.back", show=False),
    ]

    def __init__(
        self,
        state: MonitorState,
        bus: EventBus,
        control: ProxyControl,
        *,
        themes: ThemeSet,
        theme: str,
        source: str,
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        ansi_color: bool | None = None,
        owns_process: bool = False,
        ownership: Ownership = Ownership.OWNED,
        keep_serving: bool = False,
    ) -> None:
        """`owns_process`: the app is the process (ccm-tui, demo, attach), so what exists
        once the screen is up lives as long as it (`heap.settle_heap` then).
        `ownership`: what quitting does to the proxy (`keep_serving` is read on exit)."""
        super().__init__(ansi_color=ansi_color)
        self.owns_process = owns_process
        self.ownership = ownership
        self.keep_serving = keep_serving
        self.state = state
        self.bus = bus
        self.control = control
        self.themes = themes
        self.initial_theme = theme
        self.source = source
        self.clock = clock
        self.tick_s = tick_s
        self.connection: ConnectionChanged | None = None
        self.active_pane = "requests"
        self.palette = Palette({})
        self.adapter = BusAdapter(bus, self)
        self.requests = RequestsTable(self.state, self.palette, id="requests-table")
        self.providers = ProvidersTable(self.state, self.palette, clock, id="providers-table")
        self.tokens = TokensTable(self.state, self.palette, clock, id="tokens-table")
        self.detail = DetailView(self.palette, id="detail-view")
        self.usage = UsageTable(self.state, self.palette, clock, id="usage-table")
        self.usage_caption = TextLine(id="usage-caption", classes="caption")
        self.usage_limits = Static(id="usage-limits", classes="caption")
        # Held, not queried: they are updated several times a second, and a tick that
        # fires while the app shuts down must not fail to find them.
        self.status_line = TextLine(id="status-line")
        self.requests_caption = TextLine(id="requests-caption", classes="caption")
        self.providers_caption = TextLine(id="providers-caption", classes="caption")
        self.panes = {pane: Vertical(id=f"pane-{pane}", classes="pane") for pane in PANES}
        self.keybar = KeyBar(id="keybar")
        self.tokens_empty = Static(
            "No credentials with an expiry: OAuth providers (ccm-tui login NAME) and "
            "Claude Code's own login appear here.",
            id="tokens-empty",
            classes="caption",
        )

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Textual's own themes (the palette offers them) lack the ccm-* variables.
        return fallback_variables(self.current_theme)

    # -- building ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.status_line
        # The tabs carry their keys (1-4), so the narrow footer can leave them out.
        yield Tabs(
            *(Tab(f"{n} {PANE_TITLES[p]}", id=f"tab-{p}") for n, p in enumerate(PANES, 1)),
            id="pane-tabs",
        )
        with Container(id="panes"):
            # Grid order (wide): requests | detail, then providers and tokens full width.
            with self.panes["requests"]:
                yield self.requests_caption
                yield self.requests
            with self.panes["detail"]:
                yield self.detail
            with self.panes["providers"]:
                yield self.providers
                yield self.providers_caption
            with self.panes["tokens"]:
                yield self.tokens
                yield self.tokens_empty
            with self.panes["usage"]:
                yield self.usage_caption
                yield self.usage
                yield self.usage_limits
        yield self.keybar

    def on_mount(self) -> None:
        register_themes(self, self.themes)
        self.theme = self.initial_theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.palette = Palette.from_app(self)
        for widget in (self.requests, self.providers, self.tokens, self.detail, self.usage):
            widget.palette = self.palette
        for name, pane in self.panes.items():
            pane.border_title = PANE_TITLES[name]
        self._apply_layout()
        with self.batch_update():
            self.providers.update_providers()
            self.tokens.update_tokens()
            self.usage.update_usage()
            self.requests.rebuild()
        self._refresh_chrome()
        self.adapter.start()
        self.set_interval(self.tick_s, self._tick)
        self.requests.focus()

    def on_ready(self) -> None:
        if self.owns_process:
            settle_heap()

    def on_unmount(self) -> None:
        self.adapter.stop()

    # -- layout --------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size)

    @property
    def wide(self) -> bool:
        return self.requests.screen.has_class("-wide")

    def _apply_layout(self, size: Size | None = None) -> None:
        size = size or self.size
        wide = size.width >= WIDE[0] and size.height >= WIDE[1]
        screen = self.requests.screen  # the monitor's screen, whichever modal is on top
        screen.set_class(wide, "-wide")
        screen.set_class(not wide, "-narrow")
        self.keybar.hide_group(None if wide else PANE_GROUP)
        self._show_panes()

    def _show_panes(self) -> None:
        """Narrow: the active pane alone; wide: all of them, the focused one's border in
        the accent colour. Set on each pane alone: a class or a :focus-within rule would
        restyle everything inside the pane, tables included, on every key."""
        wide = self.wide
        focused = self.focused
        accent = self.palette.style("ccm-accent").color
        for name, pane in self.panes.items():
            shown = wide or name == self.active_pane
            if pane.display != shown:  # setting it, even unchanged, asks for a new layout
                pane.display = shown
            lit = wide and accent is not None and focused is not None and pane in focused.ancestors
            if lit != ("border_top" in pane.styles.inline.get_rules()):  # each set repaints
                if lit:
                    pane.styles.border = ("round", Color.from_rich_color(accent))
                else:
                    pane.styles.border = None  # the stylesheet's

    def on_descendant_focus(self, _: events.DescendantFocus) -> None:
        self._show_panes()

    def action_pane(self, pane: str) -> None:
        self.active_pane = pane
        self.query_one("#pane-tabs", Tabs).active = f"tab-{pane}"
        self._show_panes()
        widget = {
            "requests": self.requests,
            "providers": self.providers,
            "tokens": self.tokens,
            "detail": self.detail,
            "usage": self.usage,
        }[pane]
        widget.focus()
        if pane == "detail":
            self._show_selected()
        if pane == "usage":
            self._refresh_chrome()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        pane = (event.tab.id or "tab-requests").removeprefix("tab-")
        if pane != self.active_pane:
            self.action_pane(pane)

    async def action_back(self) -> None:
        if self.active_pane != "requests":
            self.action_pane("requests")

    # -- the stream of changes ------------------------------------------------------------

    def on_monitor_updated(self, _: MonitorUpdated) -> None:
        dirty = self.adapter.dirty.take()
        with self.batch_update():
            if dirty.everything:
                self.requests.rebuild()
                self.providers.rebuild()
                self.tokens.rebuild()
                self.usage.rebuild()
            else:
                if dirty.requests:
                    self.requests.update_requests(dirty.requests)
                if dirty.providers:
                    self.providers.update_providers(dirty.providers)
                if dirty.tokens:
                    self.tokens.update_tokens()
                if dirty.usage:
                    self.usage.update_usage()
            if self.detail.request_id in dirty.requests or dirty.everything:
                self._show_selected()
        if dirty.connection is not None:
            self._connection_changed(dirty.connection)
        for notice in dirty.notices:
            if notice.origin and notice.origin == self.control.origin:
                continue  # of an action asked from here: its answer is on screen already
            self.toast(notice.message, SEVERITY[notice.level])
        self._refresh_chrome()

    def toast(self, message: str, severity: str = "information", timeout: float = 6) -> None:
        """A notification, its text broken between words to fit the screen."""
        text = chrome.toast_text(message, self.size.width)
        self.notify(text, severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]

    def _tick(self) -> None:
        with self.batch_update():
            self.tokens.update_tokens()
            self.providers.tick()
        self._refresh_chrome()

    def _connection_changed(self, change: ConnectionChanged) -> None:
        previous = self.connection
        self.connection = change
        if previous is None or previous.connected != change.connected:
            self.notify(
                chrome.toast_text(change.message, self.size.width),
                severity="information" if change.connected else "warning",
                timeout=4,
                markup=False,
            )

    def _refresh_chrome(self) -> None:
        now = self.clock()
        where, counts = chrome.status_line(
            self.state, self.source, self.connection, self.palette, now
        )
        self.status_line.show(where, counts)
        self.requests_caption.show(chrome.requests_caption(self.requests, self.palette))
        stats = self.state.providers.get(self.providers.selected or "")
        caption = chrome.provider_caption(stats, self.palette, now)
        observed = self.state.usage.latest_limits(stats.name) if stats is not None else None
        shown = gauges(observed, now, self.palette)
        if shown:  # its windows, where the provider reported them
            caption.append(" · ", self.palette.style("ccm-muted"))
            caption.append_text(shown)
        self.providers_caption.show(caption)
        self.tokens_empty.display = not self.state.tokens
        if self.wide or self.active_pane == "usage":
            width = self.size.width
            self.usage_caption.show(usage_caption(self.state, self.palette, now, width))
            self.usage_limits.update(limits_lines(self.state, self.palette, now))

    # -- selection and detail --------------------------------------------------------------

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        if event.table is self.requests:
            self._show_selected()
        if event.table is self.requests or event.table is self.providers:
            self._refresh_chrome()  # following or not; the selected provider's caption

    def on_requests_table_open_detail(self, event: RequestsTable.OpenDetail) -> None:
        self.action_pane("detail")

    def _show_selected(self, force: bool = False) -> None:
        selected = self.requests.cursor_key
        self.detail.show(self.state.requests.get(selected) if selected else None, force)

    # -- actions -----------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(list(self._all_bindings())))

    def _all_bindings(self) -> Iterable[tuple[str, str, str, str]]:
        for where, bindings in (
            ("global", self.BINDINGS),
            ("requests", RequestsTable.BINDINGS),
            ("providers", ProvidersTable.BINDINGS),
        ):
            listed: set[str | None] = set()
            for binding in bindings:
                # One row per id: k and o have a second binding where they do not apply.
                if not isinstance(binding, Binding) or binding.id in listed:
                    continue
                if where == "global" and not self.check_action(binding.action, ()):
                    continue  # d, where there is no proxy of its own to leave serving
                listed.add(binding.id)
                yield (
                    where,
                    binding.key_display or binding.key,
                    binding.description,
                    binding.id or "",
                )

    def action_filter(self) -> None:
        def apply(result: RequestFilter | None) -> None:
            if result is not None:
                self.requests.filter = result
                with self.batch_update():
                    self.requests.rebuild()
                self._refresh_chrome()

        self.push_screen(FilterScreen(self.requests.filter), apply)

    def action_toggle_pause(self) -> None:
        with self.batch_update():
            self.requests.set_paused(not self.requests.paused)
        self._refresh_chrome()

    def action_toggle_follow(self) -> None:
        self.requests.follow = not self.requests.follow
        if self.requests.follow:
            self.requests.move_cursor(self.requests.row_count - 1)
        self._refresh_chrome()

    def action_clear(self) -> None:
        with self.batch_update():
            self.requests.clear_requests(self.clock())
        self._show_selected()
        self._refresh_chrome()

    def action_next_theme(self) -> None:
        names = list(self.themes.themes)
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def _theme_changed(self, _: Theme) -> None:
        self.palette = Palette.from_app(self)
        with self.batch_update():
            self.requests.restyle(self.palette)
            for table in (self.providers, self.tokens):
                table.palette = self.palette
                table.rebuild()
            self.detail.palette = self.palette
            self._show_selected(force=True)
            for pane in self.panes.values():
                pane.styles.border = None  # drawn again below in the new accent
            self._show_panes()
        self._refresh_chrome()

    def action_reload(self) -> None:
        self._send(Action.RELOAD, None)

    def on_providers_table_action_requested(self, event: ProvidersTable.ActionRequested) -> None:
        self._send(event.action, event.provider)

    @work(exclusive=False, group="control")
    async def _send(self, action: Action, provider: str | None) -> None:
        """The action's answer, or its refusal, is the one message it gets on screen."""
        if action is Action.DERIVE_KEY:
            self.toast(f"{provider}: deriving an API key…", timeout=2)
        try:
            message = await self.control.run(action, provider)
        except ActionRefused as refused:
            self.toast(refused.message, "error", timeout=12)
            return
        self.toast(message)

    def action_request_quit(self) -> None:
        """Asks first only where quitting would cut requests off: the proxy is this
        ccm-tui's own (an attached or simulated one is left alone, or matters not)."""
        in_flight = len(self.state.live) if self.ownership is Ownership.OWNED else 0
        if not in_flight:
            self.exit(0)
            return

        def answer(choice: QuitChoice | None) -> None:
            if choice is QuitChoice.DETACH:
                self.action_detach()
            elif choice is QuitChoice.QUIT:
                self.exit(0)

        self.push_screen(ConfirmQuitScreen(in_flight), answer)

    def action_detach(self) -> None:
        """Quits the screen and leaves the proxy serving, for `ccm-tui attach` later."""
        self.keep_serving = True
        self.exit(0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "detach":  # only a proxy this ccm-tui started can be left behind
            return self.ownership is Ownership.OWNED
        return True

    def hang_up(self) -> None:
        """The terminal went away (SIGHUP): nobody can answer a prompt. Requests in flight
        keep their proxy serving (its pid is in the log); an idle one stops."""
        if self.ownership is Ownership.OWNED and self.state.live:
            self.keep_serving = True
        self.exit(0)

    async def action_quit(self) -> None:
        self.exit(0)

    # -- the command palette ---------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for bindings, target in ((self.BINDINGS, None), (RequestsTable.BINDINGS, self.requests)):
            for binding in bindings:
                if isinstance(binding, Binding) and binding.id not in ("app.quit", "app.back"):
                    yield SystemCommand(
                        binding.description,
                        f"{binding.description} ({binding.key_display or binding.key})",
                        lambda a=binding.action, t=target: self.run_action(a, t),
                    )
        for name, stats in self.state.providers.items():
            for action in offered_actions(stats):
                yield SystemCommand(
                    PALETTE_TITLES[action].format(name),
                    f"provider {name}",
                    lambda a=action, n=name: self._send(a, n),
                )
