from __future__ import annotations

from ccm_tui.entry import main

raise SystemExit(main())
