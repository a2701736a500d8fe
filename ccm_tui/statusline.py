"""`ccm-tui statusline`: one line for Claude Code's `statusLine` setting, from the running proxy.

Claude Code runs the command after each message (at most every 300 ms), passes session JSON
on stdin, and shows the first line of stdout. So this side must be fast and never hang. The
proxy builds the line (`GET /_ccm/status?format=line`). The command only fetches it, with
one HTTP/1.0 GET over a plain socket and a short deadline. It imports nothing it can do
without: `_socket` rather than `socket` (whose enums cost more than the rest), no `json`,
no `pathlib`, no `typing`. When no proxy answers it prints a short line saying so, and it
never prints a traceback. It does not read stdin: everything it shows comes from the proxy.

The proxy's side: `status_body` is the compact JSON `GET /_ccm/status` answers, and
`format_line` turns it into the line.
"""

from __future__ import annotations

import _socket
import os
import sys
import time

from ccm_tui.humanize import compact_countdown

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it too)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from ccm_tui.monitor import MonitorState
    from ccm_tui.usage import UsageState

STATUS_PATH = "/_ccm/status"
LINE_QUERY = "format=line"
STATUS_VERSION = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 13456  # ccm_tui.config.DEFAULT_PORT; not imported, its imports cost the budget
DEADLINE_S = 0.3  # the whole exchange, connect to last byte
MAX_ANSWER = 64 * 1024
MAX_LINE = 200
WINDOWS_SHOWN = ("5h", "7d")


# -- the proxy's side: GET /_ccm/status ------------------------------------------------------


def status_body(state: MonitorState, usage: UsageState, now: float) -> dict[str, Any]:
    """What the statusline shows, and nothing else: a few hundred bytes, cheap to build.

    `provider` is the one the newest request went to (in flight or finished), "" before
    the first request; its windows and its OAuth token come with it.
    """
    provider = model = ""
    for request in reversed(state.requests.values()):
        if request.provider:
            provider, model = request.provider, request.actual_model
            break
    failures = attempts = 0
    since = int(now) - 60
    for stats in state.providers.values():
        for second, tried, failed in reversed(stats.recent):
            if second <= since:
                break
            attempts += tried
            failures += failed
    today = usage.today(now)
    return {
        "v": STATUS_VERSION,
        "at": now,
        "provider": provider,
        "model": model,
        "requests_1m": round(state.request_rate(60, now) * 60),
        "attempts_1m": attempts,
        "failures_1m": failures,
        "limits": _limits(usage, provider),
        "token": _token(state, provider),
        "today": {
            "tokens": today.tokens,
            "cost_usd": round(today.cost_usd, 4),
            "would_cost_usd": round(today.would_cost_usd, 4),
        },
    }


def _limits(usage: UsageState, provider: str) -> dict[str, Any] | None:
    observed = usage.latest_limits(provider) if provider else None
    if observed is None:
        return None
    limits = observed.limits
    return {
        "status": limits.status,
        "claim": limits.representative_claim,
        "rejected_until": limits.rejected_until,
        "windows": {
            w.name: {"utilization": w.utilization, "reset": w.reset, "status": w.status}
            for w in limits.windows
        },
        "at": observed.at,
    }


def _token(state: MonitorState, provider: str) -> dict[str, Any] | None:
    for token in state.tokens.values():
        if provider in token.providers:
            return {
                "id": token.token_id,
                "expires_at": token.expires_at,
                "refresh": token.refresh.value,
            }
    return None


# -- the command's side ---------------------------------------------------------------------


class Target:
    """Where the proxy listens, and the key it wants (None: it wants none)."""

    __slots__ = ("host", "key", "port")

    def __init__(self, host: str, port: int, key: str | None) -> None:
        self.host, self.port, self.key = host, port, key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and (self.host, self.port, self.key) == (
            other.host, other.port, other.key,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"Target({self.host!r}, {self.port}, key={'set' if self.key else None})"


def find_target(env: Mapping[str, str], config_path: str | None = None) -> Target:
    """Where the proxy listens and its key: `$CCM_TUI_URL`, else the config's [server].

    Reads only [server] host, port and api_key (with `$VAR` taken from the environment)
    with the standard library's TOML reader. A config it cannot read gives the defaults.
    """
    key = env.get("CCM_TUI_KEY") or None
    url = env.get("CCM_TUI_URL", "").strip()
    if url:
        host, port = _split_url(url)
        return Target(host, port, key)
    server = _server_table(config_path or _default_config(env))
    host = str(server.get("host") or DEFAULT_HOST)
    if host in ("0.0.0.0", "::"):  # listening everywhere: ask it on loopback
        host = DEFAULT_HOST
    configured = server.get("port")
    port = DEFAULT_PORT
    if isinstance(configured, int) and not isinstance(configured, bool) and 0 < configured < 65536:
        port = configured
    api_key = server.get("api_key")
    if isinstance(api_key, str) and api_key:
        key = _resolve(api_key, env) or key
    return Target(host, port, key)


def _default_config(env: Mapping[str, str]) -> str:
    base = env.get("XDG_CONFIG_HOME", "").strip()
    root = (
        base if base and os.path.isabs(base) else os.path.join(os.path.expanduser("~"), ".config")
    )
    return os.path.join(root, "ccm-tui", "config.toml")


def _server_table(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            import tomllib  # only when there is a config to read

            server = tomllib.load(f).get("server")
    except (OSError, ValueError):
        return {}
    return server if isinstance(server, dict) else {}


def _resolve(value: str, env: Mapping[str, str]) -> str | None:
    """`$VAR` and `${VAR}` as the config reads them; anything else as it is."""
    if value.startswith("$"):
        name = value[1:].strip("{}")
        return env.get(name) or None
    return value


def _split_url(url: str) -> tuple[str, int]:
    """`http://127.0.0.1:13456`, `[::1]:13456` or `localhost` as a host and a port."""
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    return host or DEFAULT_HOST, int(port) if port.isdigit() and 0 < int(
        port
    ) < 65536 else DEFAULT_PORT


class Unreachable(Exception):
    """No usable answer; the message is the line to print."""


def fetch_line(target: Target, deadline_s: float = DEADLINE_S) -> str:
    """The line the proxy builds, or Unreachable with a short line saying why."""
    where = f"{target.host}:{target.port}"
    end = time.monotonic() + deadline_s
    lines = [f"GET {STATUS_PATH}?{LINE_QUERY} HTTP/1.0", f"Host: {where}"]
    if target.key:
        lines.append(f"x-ccm-key: {target.key}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    data = b""
    try:
        # An ASCII host as bytes: a str would go through the IDNA codec, which imports `re`.
        host = target.host.encode() if target.host.isascii() else target.host
        family, kind, proto, _, address = _socket.getaddrinfo(
            host, target.port, 0, _socket.SOCK_STREAM
        )[0]
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline_s)
            sock.connect(address)
            sock.sendall(request)
            while len(data) < MAX_ANSWER:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
    except ConnectionRefusedError:
        raise Unreachable(f"ccm-tui: not running on {where}") from None
    except TimeoutError:
        raise Unreachable(f"ccm-tui: no answer from {where}") from None
    except OSError as err:
        raise Unreachable(f"ccm-tui: cannot reach {where} ({err.strerror or err})") from None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    code = status_line[1] if len(status_line) > 1 else b""
    if code == b"401":
        raise Unreachable("ccm-tui: the proxy wants its key (CCM_TUI_KEY, or [server] api_key)")
    if code == b"404":
        raise Unreachable(f"ccm-tui: {where} has no {STATUS_PATH} (an older ccm-tui?)")
    if code != b"200":
        raise Unreachable(f"ccm-tui: {where} answered {code.decode('latin-1') or 'nothing'}")
    line = body.decode("utf-8", "replace").split("\n", 1)[0]
    return _printable(line)[:MAX_LINE] or f"ccm-tui: {where} sent an empty line"


def format_line(status: Mapping[str, Any], now: float) -> str:
    """`ccm claude-max │ 5h 42% ↻2h13m │ 7d 18% ↻3d4h │ 0 failed/1m │ token 6h02m`."""
    provider = _text(status.get("provider")) or "no requests yet"
    parts = [f"ccm {provider}"]
    limits = status.get("limits")
    if isinstance(limits, dict):
        windows = limits.get("windows")
        windows = windows if isinstance(windows, dict) else {}
        for name in WINDOWS_SHOWN:
            window = windows.get(name)
            if isinstance(window, dict):
                parts.append(_window(name, window, now))
        until = _number(limits.get("rejected_until"))
        if _text(limits.get("status")) == "rejected":
            parts.append("rejected" + (f" ↻{compact_countdown(until - now)}" if until else ""))
    failures, attempts = _number(status.get("failures_1m")), _number(status.get("attempts_1m"))
    if failures is not None:
        total = f" of {attempts:.0f}" if attempts else ""
        parts.append(f"{failures:.0f}{total} failed/1m")
    token = status.get("token")
    if isinstance(token, dict):
        expires = _number(token.get("expires_at"))
        if expires is not None:
            left = expires - now
            parts.append(f"token {compact_countdown(left)}" if left > 0 else "token expired")
    return " │ ".join(parts)


def _window(name: str, window: Mapping[str, Any], now: float) -> str:
    used = _number(window.get("utilization"))
    text = f"{name} {used * 100:.0f}%" if used is not None else f"{name} ?"
    reset = _number(window.get("reset"))
    if reset is not None and reset > now:
        text += f" ↻{compact_countdown(reset - now)}"
    return text


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: Any) -> str:
    return _printable(value)[:40] if isinstance(value, str) else ""


def _printable(text: str) -> str:
    """No control characters: a name or an answer must not drive the terminal."""
    return "".join(c for c in text if c.isprintable())


def status_line(state: MonitorState, usage: UsageState, now: float) -> str:
    """The answer to `GET /_ccm/status?format=line`."""
    return format_line(status_body(state, usage, now), now)


def statusline(env: Mapping[str, str], config_path: str | None = None) -> str:
    try:
        return fetch_line(find_target(env, config_path))
    except Unreachable as err:
        return str(err)


def main(argv: Sequence[str] | None = None) -> int:
    """`ccm-tui statusline [--config PATH]`. Always prints one line and exits 0, so
    Claude Code shows the line instead of an error."""
    args = list(sys.argv[1:] if argv is None else argv)
    config = None
    if "--config" in args:
        at = args.index("--config")
        if at + 1 < len(args):
            config = os.path.expanduser(args[at + 1])
    try:
        line = statusline(os.environ, config)
    except Exception as err:  # a status line must print something, never a traceback
        line = f"ccm-tui: statusline failed ({type(err).__name__})"
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
