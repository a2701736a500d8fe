"""Themes are data: built-in and user TOML files load, bad ones are reported, cells get colours."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual.widgets import Static

from ccm_tui.tui.theming import (
    BUILTIN_ORDER,
    REQUIRED_VARIABLES,
    Palette,
    ThemeError,
    builtin_themes_dir,
    fallback_variables,
    load_theme_file,
    load_themes,
    no_color_requested,
    register_themes,
    resolve_theme_name,
)

REPO = Path(__file__).resolve().parents[2]
STATUS_VARIABLES = [v for v in REQUIRED_VARIABLES if v.startswith("ccm-status-")]
SIGNAL_VARIABLES = [
    v
    for v in REQUIRED_VARIABLES
    if v.startswith(("ccm-status-", "ccm-urgency-", "ccm-breaker-")) or v == "ccm-failover"
]


def builtin_text(name: str) -> str:
    return (builtin_themes_dir() / f"{name}.toml").read_text()


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio."""

    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            s = v / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture
def no_user_themes(tmp_path: Path) -> Path:
    empty = tmp_path / "no-user-themes"
    empty.mkdir()
    return empty


# --- built-in themes ---------------------------------------------------------------------


def test_builtin_themes_are_dark_light_and_ansi_in_that_order(no_user_themes):
    theme_set = load_themes(no_user_themes)
    assert theme_set.problems == []
    assert theme_set.names == list(BUILTIN_ORDER)


@pytest.mark.parametrize("name", BUILTIN_ORDER)
def test_builtin_theme_defines_exactly_the_ccm_variables(name):
    theme = load_theme_file(builtin_themes_dir() / f"{name}.toml")
    assert theme.name == name
    ccm = [key for key in theme.variables if key.startswith("ccm-")]
    assert sorted(ccm) == sorted(REQUIRED_VARIABLES)


@pytest.mark.parametrize("name", ["ccm-dark", "ccm-light"])
def test_signal_colours_are_readable_on_every_background(name):
    theme = load_theme_file(builtin_themes_dir() / f"{name}.toml")
    for ground in (theme.background, theme.surface, theme.panel):
        assert ground is not None
        for variable in SIGNAL_VARIABLES:
            ratio = contrast(Color.parse(theme.variables[variable]), Color.parse(ground))
            assert ratio >= 4.5, (variable, ground, round(ratio, 2))


@pytest.mark.parametrize("name", BUILTIN_ORDER)
def test_status_colours_differ_from_the_background_and_from_each_other(name):
    theme = load_theme_file(builtin_themes_dir() / f"{name}.toml")
    statuses = [theme.variables[v] for v in STATUS_VARIABLES]
    assert theme.background not in statuses
    assert len(set(statuses)) == len(statuses)


def test_ansi_theme_uses_only_the_terminals_palette():
    theme = load_theme_file(builtin_themes_dir() / "ccm-ansi.toml")
    assert theme.ansi is True
    colours = [theme.primary, theme.secondary, theme.accent, theme.warning, theme.error]
    colours += [theme.success, theme.foreground, theme.background, theme.surface, theme.panel]
    colours += [theme.variables[v] for v in REQUIRED_VARIABLES]
    assert all(c is not None and c.startswith("ansi_") for c in colours), colours
    # Black and white vanish on one scheme or the other; text never uses them.
    text = {theme.variables[v] for v in REQUIRED_VARIABLES}
    assert not text & {"ansi_black", "ansi_white", "ansi_bright_white", "ansi_default"}


# --- user themes -------------------------------------------------------------------------


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """One good theme, one overriding ccm-dark, and three broken files."""
    directory = tmp_path / "themes"
    directory.mkdir()
    dark, light = builtin_text("ccm-dark"), builtin_text("ccm-light")
    (directory / "mine.toml").write_text(dark.replace('name = "ccm-dark"', 'name = "mine"'))
    (directory / "my-dark.toml").write_text(
        light.replace('name = "ccm-light"', 'name = "ccm-dark"')
    )
    (directory / "broken-toml.toml").write_text(dark.replace("dark = true", "dark = "))
    status_ok = load_theme_file(builtin_themes_dir() / "ccm-dark.toml").variables["ccm-status-ok"]
    (directory / "bad-colour.toml").write_text(
        dark.replace('name = "ccm-dark"', 'name = "bad-colour"').replace(
            f'ccm-status-ok = "{status_ok}"', 'ccm-status-ok = "greeen"'
        )
    )
    (directory / "no-tool.toml").write_text(
        "\n".join(
            line.replace('"ccm-dark"', '"no-tool"')
            for line in dark.splitlines()
            if not line.startswith("ccm-text-tool")
        )
    )
    (directory / "notes.txt").write_text("not a theme")
    return directory


def test_user_themes_follow_the_builtins_and_override_by_name(user_dir):
    theme_set = load_themes(user_dir)
    assert theme_set.names == [*BUILTIN_ORDER, "mine"]
    light = load_theme_file(builtin_themes_dir() / "ccm-light.toml")
    assert theme_set.themes["ccm-dark"].primary == light.primary
    assert theme_set.sources["ccm-dark"] == user_dir / "my-dark.toml"
    assert theme_set.sources["ccm-light"].parent == builtin_themes_dir()


def test_each_bad_user_theme_is_reported_once_with_its_problem(user_dir):
    problems = load_themes(user_dir).problems
    assert len(problems) == 3
    by_file = {name: [p for p in problems if name in p] for name in ("broken-toml", "bad-colour")}
    by_file["no-tool"] = [p for p in problems if "no-tool.toml" in p]
    assert all(len(found) == 1 for found in by_file.values()), problems
    assert "line 6" in by_file["broken-toml"][0]
    assert "not valid TOML" in by_file["broken-toml"][0]
    colour = by_file["bad-colour"][0]
    assert "[variables] ccm-status-ok" in colour
    assert '"greeen" is not a colour' in colour
    assert "did you mean green?" in colour
    assert "line " in colour
    assert "missing ccm-text-tool" in by_file["no-tool"][0]


def test_two_user_files_with_one_name_keep_the_first(tmp_path):
    directory = tmp_path / "themes"
    directory.mkdir()
    mine = builtin_text("ccm-dark").replace('name = "ccm-dark"', 'name = "mine"')
    (directory / "a.toml").write_text(mine)
    (directory / "b.toml").write_text(mine)
    theme_set = load_themes(directory)
    assert theme_set.sources["mine"] == directory / "a.toml"
    assert len(theme_set.problems) == 1
    assert "b.toml" in theme_set.problems[0]
    assert "a.toml" in theme_set.problems[0]


def test_a_missing_user_directory_is_not_a_problem(tmp_path):
    assert load_themes(tmp_path / "nowhere").problems == []


def test_user_themes_default_to_the_xdg_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    directory = tmp_path / "ccm-tui" / "themes"
    directory.mkdir(parents=True)
    (directory / "x.toml").write_text(
        builtin_text("ccm-ansi").replace('name = "ccm-ansi"', 'name = "x"')
    )
    assert load_themes().names[-1] == "x"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("dark = true", "drak = true", ["line 6, drak: unknown key; did you mean dark?"]),
        ('name = "ccm-dark"\n', "", ['name: missing (expected name = "my-theme"']),
        ('name = "ccm-dark"', 'name = "my theme"', ["line 5, name:", "is not a theme name"]),
        ("dark = true", 'dark = "yes"', ["dark:", "is not true or false"]),
        ("text_alpha = 0.95", "text_alpha = 2", ["text_alpha:", "from 0 to 1"]),
        ("ccm-muted =", "ccm-mute =", ["[variables] ccm-mute: unknown ccm variable; did you mean"]),
        ("[variables]", "[variable]", ["variable: unknown key; did you mean variables?"]),
        (
            'footer-key-foreground = "',
            'footer-key-foreground = "bold #',
            ["[variables] footer-key-foreground:", "not a colour"],
        ),
    ],
)
def test_a_bad_theme_file_says_where_and_what_was_expected(tmp_path, old, new, expected):
    text = builtin_text("ccm-dark")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in expected:
        assert fragment in message


# --- names -------------------------------------------------------------------------------


def test_resolve_theme_name_accepts_known_names_in_any_case(no_user_themes):
    theme_set = load_themes(no_user_themes)
    assert resolve_theme_name("ccm-light", theme_set) == "ccm-light"
    assert resolve_theme_name("CCM-Ansi", theme_set.themes) == "ccm-ansi"


def test_unknown_theme_name_lists_the_valid_ones(no_user_themes):
    with pytest.raises(ThemeError) as caught:
        resolve_theme_name("ccm-drak", load_themes(no_user_themes))
    assert str(caught.value) == (
        'unknown theme "ccm-drak"; did you mean ccm-dark? (themes: ccm-dark, ccm-light, ccm-ansi)'
    )


# --- palette -----------------------------------------------------------------------------


def test_palette_maps_hex_colours_to_rich_styles():
    theme = load_theme_file(builtin_themes_dir() / "ccm-dark.toml")
    palette = Palette.from_theme(theme)
    for variable in REQUIRED_VARIABLES:
        assert palette.style(variable) == Style(color=theme.variables[variable])


def test_palette_maps_ansi_names_to_the_terminals_colours():
    palette = Palette({"a": "ansi_red", "b": "ansi_bright_black", "c": "ansi_default"})
    assert palette.style("a") == Style(color="red")
    assert palette.style("b") == Style(color="bright_black")
    assert palette.style("c") == Style(color="default")


def test_palette_blends_translucent_colours_into_the_background():
    light = load_theme_file(builtin_themes_dir() / "ccm-light.toml")
    fg, bg = light.foreground, light.background
    assert fg is not None and bg is not None
    palette = Palette({"background": bg, "half": f"{fg} 50%"})
    expected = Color.parse(bg).blend(Color.parse(fg), 0.5)
    assert palette.style("half") == Style(color=expected.rich_color)


def test_palette_without_a_theme_draws_plain_and_rejects_misspellings():
    palette = Palette({})
    assert palette.style("ccm-status-ok") == Style()
    with pytest.raises(KeyError, match="ccm-status-ok"):
        palette.style("ccm-status-okk")


def test_textual_themes_get_ccm_colours_from_their_own_palette():
    nord = BUILTIN_THEMES["nord"]
    variables = fallback_variables(nord)
    assert set(variables) == set(REQUIRED_VARIABLES)
    failed = Palette.from_theme(nord).style("ccm-status-failed").color
    assert failed is not None and failed.triplet is not None
    error = Color.parse(nord.error or "")
    assert max(abs(a - b) for a, b in zip(failed.triplet, error.rgb, strict=True)) <= 1


# --- in a running app --------------------------------------------------------------------


class ThemedApp(App[None]):
    CSS = "#failed { color: $ccm-status-failed; }"

    def __init__(self, theme_set) -> None:
        super().__init__()
        self.theme_set = theme_set

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return fallback_variables(self.current_theme)

    def compose(self) -> ComposeResult:
        yield Static("failed", id="failed")

    def on_mount(self) -> None:
        register_themes(self, self.theme_set)
        self.theme = "ccm-dark"


async def test_app_switches_among_the_builtin_themes_and_palette_follows(no_user_themes):
    theme_set = load_themes(no_user_themes)
    app = ThemedApp(theme_set)
    async with app.run_test(size=(80, 24)) as pilot:
        for name in [*BUILTIN_ORDER, "nord", "ccm-dark"]:
            app.theme = name
            await pilot.pause()
            palette = Palette.from_app(app)
            expected = app.current_theme.variables.get(
                "ccm-status-failed", fallback_variables(app.current_theme)["ccm-status-failed"]
            )
            assert palette.style("ccm-status-failed") == Palette({"x": expected}).style("x")
            assert app.query_one("#failed").styles.color == Color.parse(expected)


# --- environment and packaging -----------------------------------------------------------


def test_no_color_is_requested_by_its_presence_alone(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert not no_color_requested()
    monkeypatch.setenv("NO_COLOR", "")
    assert no_color_requested()


@pytest.mark.timeout(180)
def test_the_wheel_ships_the_themes_and_loads_them(tmp_path):
    """Builds the wheel (a few seconds) and loads themes from the unpacked package."""
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(out)],
        cwd=REPO,
        check=True,
    )
    (wheel,) = out.glob("ccm_tui-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert {f"ccm_tui/themes/{name}.toml" for name in BUILTIN_ORDER} <= names
    code = (
        "from pathlib import Path\n"
        "from ccm_tui.tui.theming import builtin_themes_dir, load_themes\n"
        "print(builtin_themes_dir())\n"
        "print(','.join(load_themes(Path('no-such-dir')).names))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    where, names_line = run.stdout.splitlines()
    assert Path(where) == tmp_path / "site" / "ccm_tui" / "themes"
    assert names_line == ",".join(BUILTIN_ORDER)


def test_the_installed_package_finds_its_themes_from_any_directory(tmp_path):
    """Package data beside the imported package: the editable install here, a wheel in CI."""
    code = (
        "from pathlib import Path\n"
        "import ccm_tui\n"
        "from ccm_tui.tui.theming import builtin_themes_dir, load_themes\n"
        "print(Path(ccm_tui.__file__).parent)\n"
        "print(builtin_themes_dir())\n"
        "print(','.join(load_themes(Path('no-such-dir')).names))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    package, themes, names = run.stdout.splitlines()
    assert Path(themes) == Path(package) / "themes"
    assert names == ",".join(BUILTIN_ORDER)
