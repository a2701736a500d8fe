"""Whatever a config file holds, loading it never raises anything but ConfigError, and every
problem names the file, the line (when what it is about is in the file) and the key."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ccm_tui.config import (
    STARTER_CONFIG,
    Config,
    ConfigError,
    ConfigProblem,
    load_config,
    parse_config,
)
from ccm_tui.config.schema import ignored_keys, keys_of

FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
ENV = {"ZAI": "zai-key"}

# Text a person would not type but a file can hold: controls, bidi overrides, astral planes.
odd_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from("\x00\x1b\u202e\n\"'\\"),
    max_size=12,
)
keys = st.sampled_from(
    sorted(
        {name for cls in (Config, *(k.table or k.many for k in keys_of(Config).values()
                                    if k.table or k.many))
         for name in (*keys_of(cls), *ignored_keys(cls))}
        | {"mappings", "provder_type", "sever", "nmae", "$ZAI"}
    )
) | odd_text  # fmt: skip
scalars = (
    odd_text
    | st.sampled_from(["anthropic", "oauth", "passthrough", "sonnet", "$UNSET", "(", "https://x"])
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 1, 1))
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=4,
)
tables = st.dictionaries(keys, values, max_size=4)
sections = st.fixed_dictionaries(
    {},
    optional={
        "server": st.dictionaries(keys, values | tables, max_size=4),
        "router": tables,
        "breaker": tables,
        "tui": tables,
        "oauth": tables,
        "providers": st.lists(tables | values, max_size=2),
        "models": st.lists(
            st.dictionaries(keys, values | st.lists(tables, max_size=2), max_size=3) | values,
            max_size=2,
        ),
    },
)
documents = st.builds(
    lambda extra, known: {**extra, **known}, st.dictionaries(keys, values, max_size=2), sections
)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties") / "config.toml"


def loaded(path: Path, data: bytes, *, from_file: bool = False) -> list[ConfigProblem]:
    """What loading `data` reports; fails the test on anything but a Config or ConfigError.
    Only bytes need the file: parse_config is what load_config does with the text."""
    try:
        if from_file:
            path.write_bytes(data)
            config = load_config(path, env=ENV)
        else:
            config = parse_config(data.decode("utf-8"), path, env=ENV)
    except ConfigError as err:
        assert err.problems, "a ConfigError says what is wrong"
        return err.problems
    assert isinstance(config, Config)
    return list(config.warnings)


def assert_located(problems: list[ConfigProblem], path: Path, data: bytes) -> None:
    lines = data.decode("utf-8", "replace").split("\n")  # TOML's lines, not splitlines()
    for problem in problems:
        shown = f"{problem}\nin:\n{data.decode('utf-8', 'replace')}"
        assert problem.path == path
        assert all(line.isprintable() for line in str(problem).split("\n")), shown
        if problem.message.startswith("no models defined"):
            continue  # about what the file lacks: no line to name
        assert problem.line is not None, shown
        assert 1 <= problem.line <= len(lines), shown
        if problem.message.startswith("not UTF-8"):
            continue
        assert problem.where, shown
        last = problem.where.split()[-1].strip("[]").split(".")[-1]
        if BARE.fullmatch(last):
            assert last in lines[problem.line - 1], (shown, lines[problem.line - 1])


def toml_text(doc: dict[str, object]) -> bytes:
    try:
        return tomlkit.dumps(doc).encode("utf-8")
    except (TypeError, ValueError):  # e.g. a value tomlkit cannot write: write what it can
        return repr(doc).encode("utf-8")


@FAST
@given(doc=documents)
def test_any_toml_document_loads_or_is_a_config_error_naming_file_line_and_key(config_file, doc):
    data = toml_text(doc)
    assert_located(loaded(config_file, data), config_file, data)


NEW_VALUES = ["1", "true", "[]", "{}", '""', "-5", "1979-05-27", '"$UNSET"']
NEW_KEYS = ["provder_type", "prot", "x", '"\\u001b"', "server.port", "'a b'"]


@st.composite
def edited(draw: st.DrawFn) -> bytes:
    """The starter config with lines dropped, repeated or changed, and odd text put in."""
    lines = STARTER_CONFIG.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "repeat", "insert", "value", "key"]))
        if edit == "drop":
            del lines[at]
        elif edit == "repeat":
            lines.insert(at, lines[at])
        elif edit == "insert":
            lines.insert(at, draw(odd_text))
        elif "=" in lines[at]:
            key, _, value = lines[at].partition("=")
            if edit == "value":
                lines[at] = key + "= " + draw(st.sampled_from(NEW_VALUES))
            else:
                lines[at] = draw(st.sampled_from(NEW_KEYS)) + " =" + value
    return "\n".join(lines).encode("utf-8")


@FAST
@given(data=edited())
def test_an_edited_starter_config_loads_or_is_a_config_error_naming_file_line_and_key(
    config_file, data
):
    assert_located(loaded(config_file, data), config_file, data)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=40).map(lambda junk: STARTER_CONFIG.encode()[:200] + junk))
@example(data=STARTER_CONFIG.encode()[:200] + b"\r\x00")  # tomlkit counts a lone CR as a line
@example(data=b"a = 1\x0c\nb = \x00")  # ... and a form feed
def test_bytes_that_are_not_utf8_or_toml_are_a_config_error_with_a_line(config_file, data):
    assert_located(loaded(config_file, data, from_file=True), config_file, data)
