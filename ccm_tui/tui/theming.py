"""Themes are data: TOML files become Textual themes, and Rich cells share their colours.

A theme file holds `textual.theme.Theme` fields plus a `[variables]` table that
must define every `ccm-*` variable in `REQUIRED_VARIABLES`; TCSS refers to them
as `$ccm-status-ok` and the like, and `Palette` turns the same variables into
`rich.style.Style`s for DataTable cells, which cannot use TCSS variables.

NO_COLOR: Textual 8.2.8 honours it itself (`App.__init__` reads the variable,
set to anything, even empty) and filters every rendered segment, Rich cells
included, so nothing here strips colours. But it picks the filter once, from
the theme active at construction: a truecolor theme gets `Monochrome`, which
turns ANSI colours into black on black once the app switches to `ccm-ansi`.
An app should therefore construct with `ansi_color=True` when
`no_color_requested()`, so Textual installs its `NoColor` filter (terminal
default colours, for every theme) instead, and prefer `ccm-ansi`, whose
reverse-video cursor still shows the selection without colour.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.color import ANSI_COLOR_NAMES
from rich.color import Color as RichColor
from rich.style import Style
from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.theme import Theme

import ccm_tui
from ccm_tui import paths

if TYPE_CHECKING:
    from textual.app import App


BUILTIN_ORDER: tuple[str, ...] = ("ccm-dark", "ccm-light", "ccm-ansi")
"""Built-in themes are listed in this order (the first is the default)."""

DEFAULT_THEME = BUILTIN_ORDER[0]

# Where a theme lacks a ccm variable (Textual's own themes, offered by the
# command palette), take the closest colour Textual generates for it.
_FALLBACK_SOURCE: dict[str, str] = {
    "ccm-status-ok": "success",
    "ccm-status-streaming": "primary",
    "ccm-status-pending": "secondary",
    "ccm-status-failed": "error",
    "ccm-status-client-error": "accent",
    "ccm-status-cancelled": "foreground-muted",
    "ccm-failover": "warning",
    "ccm-urgency-ok": "success",
    "ccm-urgency-low": "success",
    "ccm-urgency-medium": "warning",
    "ccm-urgency-high": "error",
    "ccm-urgency-expired": "error",
    "ccm-breaker-closed": "success",
    "ccm-breaker-half-open": "warning",
    "ccm-breaker-open": "error",
    "ccm-muted": "foreground-muted",
    "ccm-accent": "accent",
    "ccm-disabled": "foreground-muted",
    "ccm-text-thinking": "foreground-muted",
    "ccm-text-tool": "secondary",
}

REQUIRED_VARIABLES: tuple[str, ...] = tuple(_FALLBACK_SOURCE)
"""Every ccm theme defines exactly these; the TUI's TCSS and cell styles use them."""

_COLOUR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_BOOL_FIELDS = ("dark", "ansi")
_FRACTION_FIELDS = ("luminosity_spread", "text_alpha")
_THEME_FIELDS = {f.name for f in fields(Theme)}
_TOP_LEVEL_KEYS = ("name", *(f.name for f in fields(Theme) if f.name != "name"))

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PERCENT_RE = re.compile(r"^\d+(\.\d+)?%$")
_TOML_AT_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TABLE_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_COLOUR_EXPECTED = (
    "expected #rrggbb, rgb(…), hsl(…), a colour name, or an ANSI name such as ansi_red"
)
_ANSI_RICH_NAMES = {number: name for name, number in ANSI_COLOR_NAMES.items() if number < 16}


class ThemeError(Exception):
    """A theme file a person must fix: names the file, line and key, and what was expected."""


@dataclass
class ThemeSet:
    """The loaded themes, builtin first then user themes, and what was wrong with the rest."""

    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sources: dict[str, Traversable] = field(default_factory=dict)
    """The file each theme came from, so a screen can say which file to edit."""

    @property
    def names(self) -> list[str]:
        return list(self.themes)


def builtin_themes_dir() -> Traversable:
    """The shipped themes: package data in `ccm_tui/themes`, for a wheel, an editable install
    and a checkout alike."""
    return resources.files(ccm_tui) / "themes"


def _shown(source: Traversable) -> str:
    """A theme file as a message names it: `~/…` for a file, as it is for package data."""
    return paths.display(source) if isinstance(source, Path) else str(source)


def no_color_requested() -> bool:
    """NO_COLOR as Textual 8.2.8 reads it: present at all, even empty, means no colour."""
    return "NO_COLOR" in os.environ


# --- loading -----------------------------------------------------------------------------


class _Place:
    """Finds the line of a key in the file text, so errors can point at it."""

    def __init__(self, path: Traversable, text: str) -> None:
        self.file = _shown(path)
        self._lines = text.splitlines()

    def line_of(self, key: str | None, table: str | None = None) -> int | None:
        current: str | None = None
        quoted = re.escape(key) if key is not None else None
        key_re = re.compile(rf"""^\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*=""") if quoted else None
        for number, line in enumerate(self._lines, start=1):
            header = _TABLE_RE.match(line)
            if header:
                current = header.group(1).strip("\"'")
                if key is None and current == table:
                    return number
                continue
            if key_re is not None and current == table and key_re.match(line):
                return number
        return None

    def error(self, problem: str, key: str | None = None, table: str | None = None) -> ThemeError:
        parts = [self.file]
        line = self.line_of(key, table)
        if line is not None:
            parts.append(f"line {line}")
        label = " ".join(p for p in (f"[{table}]" if table else None, key) if p)
        if label:
            parts.append(label)
        return ThemeError(f"{', '.join(parts)}: {problem}")


def _quote(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _check_colour(place: _Place, key: str, value: object, table: str | None = None) -> str:
    if not isinstance(value, str):
        raise place.error(f"{_quote(value)} is not a colour ({_COLOUR_EXPECTED})", key, table)
    try:
        Color.parse(value)
    except ColorParseError as exc:
        hint = f"; did you mean {exc.suggested_color}?" if exc.suggested_color else ""
        raise place.error(
            f"{_quote(value)} is not a colour ({_COLOUR_EXPECTED}){hint}", key, table
        ) from None
    return value


def _check_textual_variable(place: _Place, key: str, value: object) -> str:
    """Textual's own variables: a text style, or a colour with an optional opacity."""
    if not isinstance(value, str) or not value.strip():
        raise place.error(
            f"{_quote(value)} is not a CSS value (expected a string)", key, "variables"
        )
    tokens = value.split()
    if key.endswith("style"):
        bad = [t for t in tokens if t not in VALID_STYLE_FLAGS]
        if bad:
            flags = ", ".join(sorted(VALID_STYLE_FLAGS))
            raise place.error(
                f"{_quote(value)} is not a text style (expected some of: {flags})", key, "variables"
            )
        return value
    colour, *rest = tokens
    ok_alpha = len(rest) == 0 or (len(rest) == 1 and _PERCENT_RE.match(rest[0]))
    if colour != "auto":
        try:
            Color.parse(colour)
        except ColorParseError:
            ok_alpha = False
    if not ok_alpha:
        raise place.error(
            f"{_quote(value)} is not a colour ({_COLOUR_EXPECTED}, optionally followed by an "
            "opacity such as 50%)",
            key,
            "variables",
        )
    return value


def _check_variables(place: _Place, raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise place.error(
            "expected a table: [variables] with one ccm-… = colour per line", "variables"
        )
    variables: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith("ccm-"):
            if key not in REQUIRED_VARIABLES:
                raise place.error(
                    f"unknown ccm variable{_suggest(key, REQUIRED_VARIABLES)} "
                    f"(ccm variables are: {', '.join(REQUIRED_VARIABLES)})",
                    key,
                    "variables",
                )
            variables[key] = _check_colour(place, key, value, "variables")
        else:
            variables[key] = _check_textual_variable(place, key, value)
    missing = [name for name in REQUIRED_VARIABLES if name not in variables]
    if missing:
        example = _shown(builtin_themes_dir() / f"{DEFAULT_THEME}.toml")
        raise place.error(
            f"missing {', '.join(missing)} (every theme defines all {len(REQUIRED_VARIABLES)} "
            f"ccm variables; copy them from {example})",
            table="variables",
        )
    return variables


def _theme_from_data(place: _Place, data: dict[str, Any]) -> Theme:
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            raise place.error(
                f"unknown key{_suggest(key, _TOP_LEVEL_KEYS)} "
                f"(expected one of: {', '.join(_TOP_LEVEL_KEYS)})",
                key,
            )
    name = data.get("name")
    if name is None:
        raise place.error('missing (expected name = "my-theme" at the top of the file)', "name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise place.error(
            f"{_quote(name)} is not a theme name (expected letters, digits, '-' and '_', "
            'such as "my-theme")',
            "name",
        )
    if "primary" not in data:
        raise place.error('missing (expected a colour, such as primary = "ansi_blue")', "primary")
    kwargs: dict[str, Any] = {"name": name}
    for key in _COLOUR_FIELDS:
        if key in data:
            kwargs[key] = _check_colour(place, key, data[key])
    for key in _BOOL_FIELDS:
        if key in data:
            if not isinstance(data[key], bool):
                raise place.error(f"{_quote(data[key])} is not true or false", key)
            kwargs[key] = data[key]
    for key in _FRACTION_FIELDS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise place.error(f"{_quote(value)} is not a number from 0 to 1", key)
            kwargs[key] = float(value)
    if "variables" not in data:
        raise place.error(
            "no [variables] table (expected one defining every ccm variable: "
            f"{', '.join(REQUIRED_VARIABLES)})"
        )
    kwargs["variables"] = _check_variables(place, data["variables"])
    assert set(kwargs) <= _THEME_FIELDS
    theme = Theme(**kwargs)
    try:
        theme.to_color_system().generate()
    except Exception as exc:  # Textual's own check is the last word; report, never crash.
        raise place.error(f"Textual cannot build this theme: {exc}") from None
    return theme


def load_theme_file(path: Traversable) -> Theme:
    """Read one theme file; a bad one raises ThemeError saying where and what was expected."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{_shown(path)}: cannot read: {exc}") from None
    place = _Place(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT_RE.search(message)
        where = place.file
        if at:
            message = message[: at.start()]
            where += f", line {at.group(1)}, column {at.group(2)}"
        raise ThemeError(
            f"{where}: not valid TOML: {message} (expected key = value lines, "
            "strings in double quotes)"
        ) from None
    return _theme_from_data(place, data)


def _builtin_files(directory: Traversable) -> list[Traversable]:
    def order(entry: Traversable) -> tuple[int, str]:
        stem = entry.name.removesuffix(".toml")
        rank = BUILTIN_ORDER.index(stem) if stem in BUILTIN_ORDER else len(BUILTIN_ORDER)
        return rank, stem

    return sorted((e for e in directory.iterdir() if e.name.endswith(".toml")), key=order)


def load_themes(user_dir: Path | None = None) -> ThemeSet:
    """Builtin themes, then the user's; a bad file is reported once in `problems` and skipped."""
    result = ThemeSet()
    for path in _builtin_files(builtin_themes_dir()):
        _add(result, path, user_paths=None)
    directory = paths.user_themes_dir() if user_dir is None else Path(user_dir)
    if directory.exists() and not directory.is_dir():
        result.problems.append(f"{paths.display(directory)}: not a directory (expected themes/)")
        return result
    user_paths: dict[str, Traversable] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.toml")):
            _add(result, path, user_paths)
    return result


def _add(result: ThemeSet, path: Traversable, user_paths: dict[str, Traversable] | None) -> None:
    try:
        theme = load_theme_file(path)
    except ThemeError as exc:
        result.problems.append(str(exc))
        return
    if user_paths is not None:
        earlier = user_paths.get(theme.name)
        if earlier is not None:
            result.problems.append(
                f"{_shown(path)}, name: theme {_quote(theme.name)} is already defined by "
                f"{_shown(earlier)}; skipped (give one of them another name)"
            )
            return
        user_paths[theme.name] = path
    result.themes[theme.name] = theme  # a user theme keeps a builtin's place when it overrides it
    result.sources[theme.name] = path


def resolve_theme_name(
    requested: str, themes: ThemeSet | Mapping[str, Theme] | Iterable[str]
) -> str:
    """The theme to use for `--theme` / `tui.theme`; unknown names list the valid ones."""
    names = list(themes.themes if isinstance(themes, ThemeSet) else themes)
    wanted = requested.strip()
    if wanted in names:
        return wanted
    folded = [n for n in names if n.casefold() == wanted.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise ThemeError(
        f"unknown theme {_quote(requested)}{_suggest(wanted, names)} "
        f"(themes: {', '.join(names) or 'none loaded'})"
    )


def register_themes(app: App[Any], theme_set: ThemeSet) -> None:
    """Make every loaded theme selectable (`app.theme = name`, command palette)."""
    for theme in theme_set.themes.values():
        app.register_theme(theme)


def fallback_variables(theme: Theme) -> dict[str, str]:
    """ccm variables derived from any Textual theme, for themes that do not define them.

    Textual's command palette offers its own themes too; an app returns this from
    `App.get_theme_variable_defaults()` so `$ccm-…` in TCSS always resolves.
    """
    generated = theme.to_color_system().generate()
    return {name: generated[source] for name, source in _FALLBACK_SOURCE.items()}


# --- palette -----------------------------------------------------------------------------


def _rich_color(value: str, background: Color | None) -> RichColor | None:
    """A theme value ("#rrggbb", "ansi_red", "#rrggbbaa", "ansi_default 50%") as a Rich colour."""
    tokens = value.split()
    if not tokens or len(tokens) > 2:
        return None
    try:
        colour = Color.parse(tokens[0])
    except ColorParseError:
        return None
    if colour.ansi is not None:  # the terminal's own colour: opacity cannot apply
        if colour.ansi < 0:
            return RichColor.default()
        return RichColor.parse(_ANSI_RICH_NAMES[colour.ansi])
    alpha = colour.a
    if len(tokens) == 2:
        if not _PERCENT_RE.match(tokens[1]):
            return None
        alpha *= float(tokens[1][:-1]) / 100
    if alpha < 1 and background is not None and background.ansi is None:
        colour = background.blend(colour.with_alpha(1.0), alpha)
    return colour.rich_color


class Palette:
    """Theme variables as Rich styles, for DataTable cells (Text) that cannot use TCSS variables.

    Build one when the theme changes (`app.theme_changed_signal`), not per cell. A ccm
    variable the theme lacks falls back as in `fallback_variables`; with nothing to go on
    (`Palette({})`) styles are plain, and only a misspelt name raises KeyError.
    """

    def __init__(self, variables: Mapping[str, str]) -> None:
        merged = dict(variables)
        for name, source in _FALLBACK_SOURCE.items():
            if name not in merged and source in merged:
                merged[name] = merged[source]
        self.variables: dict[str, str] = merged
        background = merged.get("background")
        self._background = _parse_background(background)
        self._styles: dict[str, Style] = {}

    @classmethod
    def from_app(cls, app: App[Any]) -> Palette:
        """The palette of the app's current theme, computed now (not from the last CSS refresh)."""
        return cls(app.get_css_variables())

    @classmethod
    def from_theme(cls, theme: Theme) -> Palette:
        generated = theme.to_color_system().generate()
        return cls({**generated, **theme.variables})

    def style(self, name: str) -> Style:
        """Foreground style for a variable, e.g. `palette.style("ccm-status-ok")`."""
        style = self._styles.get(name)
        if style is None:
            value = self.variables.get(name)
            if value is None and name in REQUIRED_VARIABLES:
                return Style()  # an empty palette (before the first theme) draws plain text
            if value is None:
                known = (*REQUIRED_VARIABLES, *self.variables)
                raise KeyError(f"no theme variable {name!r}{_suggest(name, known)}")
            colour = _rich_color(value, self._background)
            if colour is None:
                raise KeyError(f"theme variable {name!r} is not a colour: {value!r}")
            style = self._styles[name] = Style(color=colour)
        return style


def _parse_background(value: str | None) -> Color | None:
    if value is None:
        return None
    try:
        return Color.parse(value.split()[0])
    except (ColorParseError, IndexError):
        return None
