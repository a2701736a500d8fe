"""Helpers for the OAuth integration tests: configs, seeded stores, Claude-Code-shaped
requests, `ccm-tui` subprocesses in an isolated home, and a `ccm-tui serve` process.

(A module of its own: conftest modules are not importable.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ccm_tui.auth import TokenEntry, TokenStore
from ccm_tui.gateway import Gateway
from ccm_tui.sim import Simulator
from ccm_tui.sim.oauth import TokenGrant
from ccm_tui.sim.traffic import claude_code_body, claude_code_headers

REPO = Path(__file__).resolve().parents[2]
CCM = [sys.executable, "-m", "ccm_tui"]

NAME = "claude-max"  # the [[providers]] name
TOKEN_ID = "max-login"  # its oauth_provider: the store key
BACKUP = "backup"
BACKUP_KEY = "sk-ant-api03-backup-provider-key-0123456789"
PROXY_KEY = "ccm-proxy-key-5f1d2c3b4a5968778695a4b3"
CLIENT_KEY = "sk-ant-api03-client-own-key-zyxwvutsrqponm"
CLIENT_BEARER = "sk-ant-oat01-client-own-token-abcdefghijkl"
OAUTH_BETA = "oauth-2025-04-20"
NO_KEY_SCOPES = ("user:inference", "user:profile")
SONNET = "claude-sonnet-4-5-20250929"
# For tests of many requests at once: their failures, mended, must not open the breaker first.
PATIENT_BREAKER = "\n[breaker]\nfailures = 1000\n"

GatewayFactory = Callable[..., Awaitable[Gateway]]

# Every comment and blank line here must survive a switch byte for byte.
CONFIG = """\
# ccm-tui config for the OAuth tests.   Odd   spacing and comments are deliberate:
# a switch must change one line and nothing else.

[server]
host = "127.0.0.1"     # loopback only
port = {port}
{server_extra}

[router]
default = "sonnet"   # claude-* names land here

# The Claude Max login (claude-code-mux issue 7).
[[providers]]
name = "{name}"
provider_type = "anthropic"
auth_type    = "oauth"
oauth_provider = "{token_id}"   # the token store key
base_url = "{max_url}"
{oauth_extra}
# A comment that introduces the next provider, and must stay with it.

[[providers]]
name = "{backup}"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "{backup_key}"
base_url = "{backup_url}"
{more_providers}
[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "{name}"
actual_model = "{model}"
[[models.mappings]]
priority = 2
provider = "{backup}"
actual_model = "{model}"

[oauth]
authorize_url = "{authorize_url}"
console_authorize_url = "{console_url}"
token_url = "{token_url}"      # it has moved before
create_api_key_url = "{create_url}"
{store_line}
"""

PASSTHROUGH = """
# Claude Code's own login, forwarded as it came.
[[providers]]
name = "claude"
provider_type = "anthropic"
auth_type = "passthrough"
base_url = "{url}"
"""


def write_config(
    path: Path,
    sim: Simulator,
    *,
    store: Path | None = None,
    port: int = 0,
    oauth_extra: str = "",
    server_extra: str = "",
    passthrough: bool = False,
    extra: str = "",
) -> Path:
    path.write_text(
        CONFIG.format(
            port=port,
            server_extra=server_extra,
            name=NAME,
            token_id=TOKEN_ID,
            max_url=sim.url(NAME),
            oauth_extra=oauth_extra,
            backup=BACKUP,
            backup_key=BACKUP_KEY,
            backup_url=sim.url(BACKUP),
            more_providers=PASSTHROUGH.format(url=sim.url("claude")) if passthrough else "",
            model=SONNET,
            authorize_url=sim.authorize_url("max"),
            console_url=sim.authorize_url("console"),
            token_url=sim.token_url,
            create_url=sim.create_api_key_url,
            store_line=f'token_store = "{store}"   # beside the test' if store else "",
        )
        + extra,
        encoding="utf-8",
    )
    return path


def seed(
    store: Path,
    grant: TokenGrant,
    *,
    expires_in_s: float | None = None,
    token_id: str = TOKEN_ID,
    api_key: str | None = None,
) -> TokenEntry:
    """Stores a real simulator grant; `expires_in_s` makes ccm-tui believe it expires sooner
    (the simulator still honours it until its own expiry, or `sim.expire`)."""
    now = datetime.now(UTC).timestamp()
    expires = grant.expires_at if expires_in_s is None else now + expires_in_s
    entry = TokenEntry(
        token_id,
        grant.access_token,
        grant.refresh_token,
        datetime.fromtimestamp(int(expires), UTC),
        api_key=api_key,
    )
    TokenStore(store).put(entry)
    return entry


def stored(store: Path, token_id: str = TOKEN_ID) -> dict[str, Any]:
    """The raw JSON entry, as another program would read it."""
    return json.loads(store.read_text(encoding="utf-8"))[token_id]


def changed_lines(before: bytes, after: bytes) -> tuple[list[bytes], list[bytes]]:
    """The edit between two files as (lines removed, lines added): everything outside the
    returned lines is byte-identical and in the same order in both."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    # Strip the common prefix and suffix: what is left is the edit.
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return old[start : len(old) - end], new[start : len(new) - end]


# -- requests ---------------------------------------------------------------------------------


def cc_request(**headers: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A Claude-Code-shaped body and headers, as `ccm_tui.sim.traffic` builds them; keyword
    arguments add or replace headers (`x_api_key=...` is `x-api-key`)."""
    body = claude_code_body("Fix the failing test", "claude-sonnet-4-5", stream=False)
    sent = claude_code_headers(str(uuid.uuid4()), key=CLIENT_KEY)
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return body, sent


async def send_cc(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    """POSTs a Claude Code request to the proxy at `url`, as the CLI does."""
    body, sent = cc_request(**headers)
    return await client.post(f"{url}/v1/messages?beta=true", json=body, headers=sent)


def text_of(response: httpx.Response) -> str:
    """The reply's text block (Claude Code asks for thinking, so it is not the first)."""
    return next(b["text"] for b in response.json()["content"] if b["type"] == "text")


def upstream_betas(request: Any) -> list[str]:
    value = request.header("anthropic-beta")
    return [b for b in (value or "").split(",") if b]


# -- the proxy's event stream ---------------------------------------------------------------


class EventStream:
    """`/_ccm/events` read in the background, as `ccm-tui attach` reads it."""

    def __init__(self) -> None:
        self.text = ""
        self._more = asyncio.Event()

    async def read(self, http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with http.stream("GET", url + "/_ccm/events", headers=headers) as response:
            async for chunk in response.aiter_text():
                self.text += chunk
                self._more.set()

    async def wait_for(self, fragment: str, count: int = 1) -> None:
        async with asyncio.timeout(10):
            while self.text.count(fragment) < count:
                self._more.clear()
                await self._more.wait()

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The events of one type received so far, decoded."""
        out = []
        for frame in self.text.split("\n\n")[:-1]:  # the last one may be incomplete
            if frame.startswith("event: event\ndata: "):
                event = json.loads(frame.split("data: ", 1)[1])
                if event["type"] == kind:
                    out.append(event)
        return out

    async def wait_for_event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The first event of type `kind` whose fields have these values."""
        async with asyncio.timeout(10):
            while True:
                for event in self.events(kind):
                    if all(event.get(k) == v for k, v in fields.items()):
                        return event
                self._more.clear()
                await self._more.wait()


@contextlib.asynccontextmanager
async def watching(
    http: httpx.AsyncClient, url: str, key: str | None = None
) -> AsyncIterator[EventStream]:
    """Reads the proxy's `/_ccm/events` from its snapshot on, until the block ends."""
    stream = EventStream()
    task = asyncio.create_task(stream.read(http, url, {"x-ccm-key": key} if key else {}))
    try:
        await stream.wait_for("event: snapshot")
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- processes --------------------------------------------------------------------------------


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a ccm-tui subprocess: a temp HOME and XDG dirs, nothing of ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("XDG_", "CLAUDE_", "ANTHROPIC_", "CCM_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


async def ccm(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    """Runs `ccm-tui ARGS` to the end without blocking the loop (the simulator lives in it)."""
    proc = await asyncio.create_subprocess_exec(
        *CCM,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else b""), 30
    )
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@dataclass
class Served:
    url: str
    proc: asyncio.subprocess.Process
    stderr: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def log(self) -> str:
        return "".join(self.stderr)

    async def stop(self) -> int:
        """SIGINT, then waits for the exit and the last line of stderr; the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            code = await self.proc.wait()
            if self.reader is not None:
                await self.reader
        return code


@contextlib.asynccontextmanager
async def serve(env: dict[str, str], *args: str) -> AsyncIterator[Served]:
    """`ccm-tui serve ARGS`, ready once it prints where it serves; stopped with SIGINT."""
    proc = await asyncio.create_subprocess_exec(
        *CCM,
        "serve",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    url = ""
    async with asyncio.timeout(20):
        while not url:
            line = (await proc.stderr.readline()).decode()
            if not line:
                await proc.wait()
                raise AssertionError(f"ccm-tui serve exited early:\n{''.join(lines)}")
            lines.append(line)
            if " serving on " in line:
                url = line.split(" serving on ", 1)[1].split()[0]
    served = Served(url, proc, lines)

    async def drain() -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            lines.append(line.decode())

    served.reader = asyncio.create_task(drain())
    try:
        yield served
    finally:
        await served.stop()


async def login(
    env: dict[str, str],
    config: Path,
    http: httpx.AsyncClient,
    *extra: str,
    paste: Callable[[str], str] = lambda line: line,
) -> tuple[Result, str]:
    """Runs the login; "approves" at the printed URL (the simulator answers with CODE#STATE)
    and pastes `paste(CODE#STATE)` on stdin. Returns the result and the printed URL."""
    proc = await asyncio.create_subprocess_exec(
        *CCM, "login", NAME, "--config", str(config), *extra,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None
    printed: list[str] = []
    url = ""
    async with asyncio.timeout(20):
        while not url:
            line = (await proc.stdout.readline()).decode()
            assert line, f"login ended before printing a URL: {''.join(printed)}"
            printed.append(line)
            if line.strip().startswith("http"):
                url = line.strip()
        callback = await http.get(url)
        assert callback.status_code == 200, callback.text
        out, err = await proc.communicate((paste(callback.text.strip()) + "\n").encode())
    assert proc.returncode is not None
    return Result(proc.returncode, "".join(printed) + out.decode(), err.decode()), url
