"""Shared helpers for the unit tests: the real Claude Code request fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# One real request as the Claude Code CLI sends it (see ../shared/WIRE.md). The copy in
# tests/fixtures is byte-identical to ../shared/fixtures/claude-code-request.json.
_SHARED = Path("/work/shared/fixtures/claude-code-request.json")
_IN_REPO = Path(__file__).parents[1] / "fixtures" / "claude-code-request.json"
FIXTURE = _SHARED if _SHARED.exists() else _IN_REPO


@pytest.fixture
def claude_code_body() -> dict[str, Any]:
    """The body of the captured request, freshly parsed for each test."""
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["body"]
