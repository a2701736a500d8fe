"""Attach and control are core: `serve` users and headless tools must not need Textual."""

from __future__ import annotations

import subprocess
import sys


def test_control_and_attach_import_without_textual():
    code = (
        "import sys, ccm_tui.control, ccm_tui.attach\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
