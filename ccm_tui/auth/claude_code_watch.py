"""Claude Code's own login on the event bus: published when its file appears, changes or goes.

Read only (Claude Code owns and refreshes that file); the file is compared by content,
since an in-place rewrite can keep its size and (coarse) mtime.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ccm_tui.auth import claude_code
from ccm_tui.events import EventBus, RefreshState, TokenStateChanged
from ccm_tui.masking import mask, mask_text
from ccm_tui.paths import claude_code_credentials_path, display

NOT_LOGGED_IN = "Claude Code is not logged in"


class ClaudeCodeWatch:
    def __init__(self, bus: EventBus | None, path: Path | None = None) -> None:
        self.bus = bus
        self.path = path  # None: wherever Claude Code keeps it now (CLAUDE_CONFIG_DIR)
        self._seen: bytes | None = None  # the hash of the content last seen
        self._published = False

    def check(self, providers: tuple[str, ...], force: bool = False) -> None:
        """Publishes the login if it changed (`force`: anyway); `providers` forward it."""
        path = self.path or claude_code_credentials_path()
        message = ""
        try:
            data: bytes | None = path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as err:
            data = b""
            reason = err.strerror or type(err).__name__
            message = f"Claude Code's credentials {display(path)} cannot be read ({reason})"
        seen = hashlib.sha256(data).digest() if data is not None else None
        if not force and seen == self._seen:
            return
        self._seen = seen
        if data is None and not self._published:
            return  # never had one, still none: nothing to show
        login: claude_code.ClaudeCodeLogin | None = None
        if data and not message:
            try:
                login = claude_code.parse_claude_code_login(data, path)
            except claude_code.ClaudeCodeCredentialsError as err:
                message = mask_text(str(err))
        if login is None and not message:
            if not self._published:
                return
            message = NOT_LOGGED_IN
        self._published = True
        broken = login is None and data is not None and message != NOT_LOGGED_IN
        event = TokenStateChanged(
            token_id=claude_code.TOKEN_ID,
            source="claude-code",
            providers=providers,
            access_token=mask(login.access_token) if login else "",
            expires_at=login.expires_at_epoch if login else None,
            refresh=RefreshState.FAILED if broken else RefreshState.IDLE,
            refresh_message=message,
            refreshed_at=None,
            derived_key="",
            derived_key_in_use=False,
            read_only=True,
        )
        if self.bus is not None:
            self.bus.publish(event)
