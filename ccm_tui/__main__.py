from __future__ import annotations

from ccm_tui.cli import main

raise SystemExit(main())
