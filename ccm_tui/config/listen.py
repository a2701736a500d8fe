"""Which addresses the proxy may listen on: the one rule `serve` enforces and `check` reports."""

from __future__ import annotations

import contextlib
import ipaddress

from ccm_tui.config.locate import Locator
from ccm_tui.config.model import Config
from ccm_tui.config.problems import ConfigProblem

LOOPBACK_NAMES = frozenset({"localhost", "::1", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name: it may resolve anywhere


def listen_refusal(host: str, api_key: str | None) -> str | None:
    """Why the proxy must not listen on `host`, or None: off loopback only with a proxy key,
    or anyone who can reach the address spends the user's credentials."""
    if is_loopback(host) or api_key:
        return None
    return (
        f"refusing to listen on {host} without server.api_key: anyone who can reach "
        "this address could spend your credentials. Set [server] api_key "
        '(e.g. api_key = "$CCM_KEY") or listen on 127.0.0.1.'
    )


def listen_problem(config: Config, host: str | None = None) -> ConfigProblem | None:
    """`listen_refusal` for `config` (and `--host`, which overrides it) as `check` says it:
    the file, the line of `[server] host` and the key."""
    refusal = listen_refusal(host or config.server.host, config.server.api_key)
    if refusal is None:
        return None
    if host:
        return ConfigProblem(config.path, None, "--host", refusal)
    line = None
    # Should the file have gone since it loaded, the message still names the key.
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if config.path is not None:
            line = Locator(config.path.read_text(encoding="utf-8")).line("server", "host")
    return ConfigProblem(config.path, line, "[server] host", refusal)
