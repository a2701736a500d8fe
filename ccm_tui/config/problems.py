"""What is wrong with a config file, said so a person can fix it: file, line, key, expectation.

Values and keys from the file are shown escaped and short: a config file is text a
terminal prints, so a control character in it must not become one on the screen, and a
key pasted into the wrong place must not be echoed whole.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from ccm_tui.masking import mask_text
from ccm_tui.paths import display

_SHOWN_CHARS = 60
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def printable(text: str) -> str:
    """`text` with every character a terminal would act on written as an escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def quoted(text: str) -> str:
    """A string from the file in double quotes: masked, escaped and cut short."""
    text = mask_text(text)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return '"' + "".join(_escape(c) if c in '"\\' or not c.isprintable() else c for c in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}"


def shown(value: object) -> str:
    """A value from the file as a message shows it after "found"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return quoted(str(value))


def shown_key(name: str) -> str:
    """A key or a name as TOML writes it: bare when it can be, quoted otherwise."""
    return name if _BARE_KEY.fullmatch(name) else quoted(name)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: Path | None
    line: int | None
    where: str  # e.g. '[[models]] "sonnet" mapping 2: provider'
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "config warning" if self.warning else "config error"
        place = [display(self.path) if self.path else "<config>"]
        if self.line:
            place.append(f"line {self.line}")
        if self.where:
            place.append(printable(self.where))
        return f"{kind}: {', '.join(place)}:\n  {printable(self.message)}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:  # rendered when shown: a reload that fails may never be
        return "\n".join(str(p) for p in self.problems)


class ConfigNotFound(ConfigError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            [
                ConfigProblem(
                    path,
                    None,
                    "",
                    "no config file here. Create one with `ccm-tui init`, or try "
                    "`ccm-tui demo` to see ccm-tui at work without one.",
                )
            ]
        )
