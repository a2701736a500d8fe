"""The core (proxy, routing, auth, monitor) works headless: it never imports Textual.

Every module outside `ccm_tui.tui` is listed by pkgutil, so a new one is checked without
anyone adding it here; each is imported in turn in one fresh interpreter, and the first
that brings Textual in is named.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import ccm_tui

# Running as a program is what `__main__` does on import; what it imports is listed anyway.
CORE = sorted(
    m.name
    for m in pkgutil.walk_packages(ccm_tui.__path__, "ccm_tui.")
    if not (m.name == "ccm_tui.tui" or m.name.startswith("ccm_tui.tui."))
    and m.name.rsplit(".", 1)[-1] != "__main__"
)


def test_the_core_list_holds_every_package_outside_the_tui():
    assert {"ccm_tui.cli", "ccm_tui.gateway", "ccm_tui.demo", "ccm_tui.config.loader"} <= set(CORE)
    assert {"ccm_tui.proxy.app", "ccm_tui.auth.tokens", "ccm_tui.sim.app"} <= set(CORE)
    assert not [name for name in CORE if name.startswith("ccm_tui.tui")]


def test_every_core_module_imports_without_textual():
    code = (
        "import importlib, json, sys\n"
        "def textual():\n"
        "    return sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    importlib.import_module(name)\n"
        "    if textual():\n"
        "        sys.exit(f'{name} imports Textual: {textual()[:3]}')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, json.dumps(CORE)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
