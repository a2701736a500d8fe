"""Line numbers for the tables and keys of a TOML text; tomlkit keeps none for values.

A path is what the loader walks: `("providers", 1, "api_key")`, `("models", 0, "mappings",
2)`. Lines inside multi-line strings and arrays are values, never keys or headers.
"""

from __future__ import annotations

import re
from typing import Any

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_LITERAL = re.compile(r"'([^'\n]*)'")
_DOT = re.compile(r"[ \t]*\.")
_EQUALS = re.compile(r"[ \t]*=")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_ESCAPED = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b"}


class Locator:
    """Where each table and key of `text` starts."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        self._arrays: dict[tuple[Any, ...], int] = {}  # array of tables → tables so far
        table: tuple[Any, ...] = ()
        depth, string = 0, ""  # inside a multi-line value: open brackets, open string
        # TOML ends lines with \n alone: splitlines() would also break at \x85 or \u2028,
        # which a quoted key or a string may hold.
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if depth or string:
                depth, string = _scan(line, 0, depth, string)
                continue
            start = _skip_blanks(line, 0)
            if line.startswith("[", start):
                array = line.startswith("[[", start)
                parsed = _dotted_key(line, start + (2 if array else 1))
                if parsed is not None:
                    table = self._header(parsed[0], array, number)
                continue
            parsed = _dotted_key(line, start)
            if parsed is None:
                continue
            parts, end = parsed
            equals = _EQUALS.match(line, end)
            if equals is not None:
                for end in range(1, len(parts) + 1):  # `a.b = 1` also defines table a
                    self.lines.setdefault((*table, *parts[:end]), number)
                depth, string = _scan(line, equals.end(), 0, "")

    def _header(self, parts: tuple[str, ...], array: bool, number: int) -> tuple[Any, ...]:
        path: tuple[Any, ...] = ()
        for part in parts[:-1] if array else parts:
            path = self._within((*path, part))
            self.lines.setdefault(path, number)  # `[a.b]` also defines table a
        if array:
            path = (*path, parts[-1])
            count = self._arrays.get(path, 0)
            self._arrays[path] = count + 1
            self.lines.setdefault(path, number)
            path = (*path, count)
        self.lines.setdefault(path, number)
        return path

    def _within(self, path: tuple[Any, ...]) -> tuple[Any, ...]:
        """A path that names an array of tables means its latest table."""
        count = self._arrays.get(path)
        return path if count is None else (*path, count - 1)

    def line(self, *path: Any) -> int | None:
        """The line of `path`, or of the nearest enclosing table or key that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _dotted_key(line: str, pos: int) -> tuple[tuple[str, ...], int] | None:
    """The key at `pos` (`a`, `a.b`, `"a b".'c'`) as its parts, and where it ends."""
    parts: list[str] = []
    while True:
        pos = _skip_blanks(line, pos)
        match = _BARE.match(line, pos) or _BASIC.match(line, pos) or _LITERAL.match(line, pos)
        if match is None:
            return None
        if match.re is _BARE:
            parts.append(match.group(0))
        elif match.re is _BASIC:
            parts.append(_ESCAPE.sub(_unescape, match.group(1)))
        else:
            parts.append(match.group(1))
        dot = _DOT.match(line, match.end())
        if dot is None:
            return tuple(parts), match.end()
        pos = dot.end()


def _skip_blanks(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "uU" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPED.get(code, code)


def _scan(line: str, pos: int, depth: int, string: str) -> tuple[int, str]:
    """Follows a value to the end of `line`: the brackets still open, the string still open."""
    while pos < len(line):
        if string:
            end = line.find(string, pos)
            if end < 0:
                return depth, string
            pos, string = end + 3, ""
            continue
        char = line[pos]
        if char == "#":
            break
        if line.startswith(('"""', "'''"), pos):
            string, pos = line[pos : pos + 3], pos + 3
            continue
        if char in "\"'":
            quoted = (_BASIC if char == '"' else _LITERAL).match(line, pos)
            pos = quoted.end() if quoted else len(line)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        pos += 1
    return depth, string
