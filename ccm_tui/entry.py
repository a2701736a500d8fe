"""The `ccm-tui` command. `ccm-tui statusline` runs after every message Claude Code shows,
so it is dispatched here, before the CLI's imports (config, asyncio: ~200 ms) happen."""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["statusline"]:
        from ccm_tui.statusline import main as statusline

        return statusline(sys.argv[2:])
    from ccm_tui.cli import main as cli

    return cli()
