"""The core (proxy, routing, auth, monitor) works headless: it never imports Textual."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "ccm_tui.cli",
    "ccm_tui.config",
    "ccm_tui.events",
    "ccm_tui.monitor",
    "ccm_tui.requestlog",
    "ccm_tui.proxy.app",
    "ccm_tui.proxy.admin",
    "ccm_tui.proxy.forward",
    "ccm_tui.proxy.guard",
    "ccm_tui.proxy.relay",
    "ccm_tui.proxy.upstreams",
    "ccm_tui.providers.formats",
    "ccm_tui.providers.anthropic",
    "ccm_tui.auth.store",
    "ccm_tui.auth.oauth",
    "ccm_tui.sim",
    "ccm_tui.control",
    "ccm_tui.attach",
    "ccm_tui.actions",
]


def test_core_modules_import_without_textual():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
