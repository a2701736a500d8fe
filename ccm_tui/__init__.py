"""ccm-tui: a gateway and live terminal monitor for Claude Code."""

from __future__ import annotations

__version__ = "0.1.0"
