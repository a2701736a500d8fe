"""The footer: the keys that work here, in one line that repaints alone."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

HELP_KEY = "question_mark"


class KeyEntry(NamedTuple):
    keys: tuple[tuple[str, str], ...]  # (key, how it is shown)
    description: str
    enabled: bool


def key_entries(
    screen: Screen[Any], hidden_group: Binding.Group | None = None
) -> tuple[KeyEntry, ...]:
    """The shown bindings of the focused chain, one entry per action; the actions of a
    binding group (the pane keys) share one entry, as in Textual's Footer."""
    app = screen.app
    by_action: dict[str, tuple[Binding, bool]] = {}
    for _node, binding, enabled, _tooltip in screen.active_bindings.values():
        if binding.show and (hidden_group is None or binding.group != hidden_group):
            by_action.setdefault(binding.action, (binding, enabled))
    slots: list[list[tuple[Binding, bool]]] = []
    group_slots: dict[Binding.Group, list[tuple[Binding, bool]]] = {}
    for binding, enabled in by_action.values():
        if binding.group is not None and binding.group in group_slots:
            group_slots[binding.group].append((binding, enabled))
            continue
        slot = [(binding, enabled)]
        slots.append(slot)
        if binding.group is not None:
            group_slots[binding.group] = slot
    entries = []
    for slot in slots:
        first = slot[0][0]
        entries.append(
            KeyEntry(
                tuple((b.key, app.get_key_display(b)) for b, _ in slot),
                first.group.description if len(slot) > 1 and first.group else first.description,
                any(enabled for _, enabled in slot),
            )
        )
    return tuple(entries)


class KeyBar(Widget):
    """Textual's Footer mounts a widget per key and mounts them all again whenever focus
    moves, which made a pane key cost more than the pane it shows. This draws the same
    keys (clickable, coloured by the theme's footer variables) as one line of text."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        /* the keys are links (a click presses the key), drawn in the link colours */
        link-color: $footer-key-foreground;
        link-background: $footer-key-background;
        link-style: bold;
        link-color-hover: $footer-key-foreground;
        link-background-hover: $block-hover-background;
        link-style-hover: bold;
        .keybar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: tuple[KeyEntry, ...] = ()
        self._hidden_group: Binding.Group | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def hide_group(self, group: Binding.Group | None) -> None:
        """Leaves out a group's keys that the screen shows elsewhere (the pane tabs)."""
        if group != self._hidden_group:
            self._hidden_group = group
            self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        entries = key_entries(screen, self._hidden_group)
        if entries != self.entries:
            self.entries = entries
            self.refresh()

    def render(self) -> Text:
        description_style = self.get_component_rich_style("keybar--description")
        pieces = [self._piece(entry, description_style) for entry in self.entries]
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        for piece in self._fitted(pieces, self.size.width):
            line.append_text(piece)
        return line

    def _piece(self, entry: KeyEntry, description_style: Style) -> Text:
        piece = Text(end="")
        dim = Style(dim=not entry.enabled)
        piece.append(" ")
        for index, (key, shown) in enumerate(entry.keys):
            click = Style.from_meta({"@click": f"app.simulate_key({key!r})"})
            piece.append(f"{' ' if index else ''}{shown}", dim + click)
        piece.append(f" {entry.description}", description_style + dim)
        return piece

    def _fitted(self, pieces: list[Text], width: int) -> list[Text]:
        """All of them if they fit; else the first ones, " …", and the help key last, so
        the way to every key is never the one cut off."""
        if width <= 0 or sum(p.cell_len for p in pieces) <= width:
            return pieces
        entries = zip(pieces, self.entries, strict=True)
        helps = [piece for piece, entry in entries if HELP_KEY in dict(entry.keys)]
        tail = [Text(" …", end=""), *helps]
        room = width - sum(p.cell_len for p in tail)
        kept: list[Text] = []
        for piece in pieces:
            if any(piece is h for h in helps):
                continue
            if piece.cell_len > room:
                break
            kept.append(piece)
            room -= piece.cell_len
        return [*kept, *tail]
