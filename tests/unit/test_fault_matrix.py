"""README's fault matrix names a test for every failure class, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from ccm_tui.events import Failure

ROOT = Path(__file__).resolve().parents[2]
MATRIX = (
    (ROOT / "README.md")
    .read_text(encoding="utf-8")
    .split("**Fault matrix.**", 1)[1]
    .split("\n## ")[0]
)


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names |= set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE))
    return names


def test_every_failure_class_has_a_row():
    rows = set(re.findall(r"^\| `(\w+)` \|", MATRIX, re.MULTILINE))
    assert rows >= {failure.value for failure in Failure}


def test_every_test_the_matrix_names_exists():
    named = set(re.findall(r"\b(test_\w+?)(?:\[\w+\])?`", MATRIX))
    files = set(re.findall(r"\b((?:tests/\S+/)?test_\w+\.py)\b", MATRIX))
    assert named, "the matrix names tests"
    assert named - {f.removesuffix(".py").rsplit("/", 1)[-1] for f in files} <= defined_tests()
    for file in files:
        found = list((ROOT / "tests").rglob(file.rsplit("/", 1)[-1]))
        assert found, file
