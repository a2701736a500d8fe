"""The commands a monitor sends to a proxy, the same whether it runs in-process or remotely.

The TUI only sees `ProxyControl`: `LocalControl` calls the actions of the `Proxy` it runs
beside, `RemoteControl` the admin endpoints of a proxy started elsewhere (`ccm-tui
attach`). Both answer with the proxy's own message or raise `ActionRefused` with the same
`Refusal` code and words, so a key press behaves the same in both modes.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from ccm_tui.actions import (
    ORIGIN_HEADER,
    Action,
    ActionRefused,
    ProxyActions,
    Refusal,
    provider_named,
)
from ccm_tui.masking import mask_text

KEY_HEADER = "x-ccm-key"
# Deriving a key may wait on the upstream's OAuth endpoints; the rest answer at once.
ACTION_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ProxyControl(Protocol):
    """What the monitor may change on the proxy it shows."""

    @property
    def origin(self) -> str:
        """This control's id: the proxy's notices of the actions it asked for carry it."""
        ...

    async def run(self, action: Action, provider: str | None = None) -> str:
        """Does `action` (on `provider`, for all but RELOAD) and returns the proxy's answer.
        Raises ActionRefused: UNKNOWN_PROVIDER, NOT_APPLICABLE (no OAuth login, no config
        file), SWITCH_REFUSED (e.g. no org:create_api_key scope), CONFIG_INVALID,
        UNAVAILABLE (no token manager; the proxy not reachable), UNAUTHORIZED."""
        ...


def new_origin() -> str:
    return secrets.token_hex(6)


# -- URLs ------------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """`host:port` or `http://host:port/` → `http://host:port` (what users type varies).

    Raises ValueError for something that cannot be a proxy's address, so `attach` can say
    so at once instead of retrying it forever.
    """
    given = url.strip()
    url = given if "://" in given else "http://" + given
    url = url.rstrip("/")
    # Shown as normalized: without a scheme, `user:pass@host` does not parse as userinfo.
    shown = display_url(url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as err:
        raise ValueError(f"{shown} is not a valid URL: {err}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{shown} is not a proxy address: expected http://host:port")
    return url


def display_url(url: str) -> str:
    """The URL without any user:password part, safe for messages and the screen."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed `[`: cut the userinfo out by hand
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "", url
        netloc, slash, path = rest.partition("/")
        return f"{scheme}{sep}{netloc.rsplit('@', 1)[-1]}{slash}{path}"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def refused_key(shown_url: str, key: str | None) -> str:
    """What to say when the proxy answers 401; never repeats the key."""
    if key:
        return f"{shown_url} refused the key (401): pass the proxy's server.api_key with --key"
    return f"{shown_url} wants a key (401): pass the proxy's server.api_key with --key"


def describe_transport_error(err: httpx.TransportError) -> str:
    """Plain words for why a connection failed or broke."""
    text = str(err) or type(err).__name__
    lower = text.lower()
    if isinstance(err, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(err, httpx.TimeoutException):
        return "timed out waiting for an answer"
    if isinstance(err, httpx.ConnectError):
        if "refused" in lower or "all connection attempts failed" in lower:
            return "connection refused (is ccm-tui running there?)"
        if "name or service not known" in lower or "nodename nor servname" in lower:
            return "unknown host"
        return f"cannot connect: {mask_text(text)}"
    if isinstance(err, httpx.RemoteProtocolError | httpx.ReadError):
        return "the proxy closed the connection"
    return mask_text(text)


def read_answer(response: httpx.Response) -> tuple[Any, str]:
    """An admin answer, parsed (None when it is not JSON), and its message: from
    `{"ok", "message"}` or an Anthropic error body."""
    try:
        body: Any = response.json()
    except ValueError:
        return None, mask_text(response.text.strip()[:200])
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body, mask_text(body["message"])
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return body, mask_text(error["message"])
    return body, mask_text(str(body)[:200])


def server_message(response: httpx.Response) -> str:
    return read_answer(response)[1]


# -- in-process ------------------------------------------------------------------------------


class LocalControl:
    """Runs the actions of the proxy in this process."""

    def __init__(self, actions: ProxyActions) -> None:
        self.actions = actions
        self.origin = new_origin()

    async def run(self, action: Action, provider: str | None = None) -> str:
        return await self.actions.run(action, provider, self.origin)


# -- over HTTP -------------------------------------------------------------------------------


class RemoteControl:
    """Calls `POST /_ccm/...` on a proxy elsewhere; the key goes as `x-ccm-key`."""

    def __init__(
        self,
        url: str,
        key: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = ACTION_TIMEOUT,
    ) -> None:
        self.url = normalize_url(url)
        self.key = key
        self.timeout = timeout
        self.origin = new_origin()
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, action: Action, provider: str | None = None) -> str:
        if action is Action.RELOAD:
            return await self._post("/_ccm/reload")
        name = quote(provider_named(action, provider), safe="")
        return await self._post(f"/_ccm/providers/{name}/{action.value}")

    async def _post(self, path: str) -> str:
        shown = display_url(self.url)
        # JSON, as the proxy requires of every POST: no web page can send that unasked.
        headers = {ORIGIN_HEADER: self.origin, "Content-Type": "application/json"}
        if self.key:
            headers[KEY_HEADER] = self.key
        try:
            response = await self.client.post(
                self.url + path, headers=headers, content=b"{}", timeout=self.timeout
            )
        except httpx.TransportError as err:
            raise ActionRefused(
                Refusal.UNAVAILABLE,
                f"proxy at {shown} is not reachable: {describe_transport_error(err)}",
            ) from None
        if response.status_code == 401:
            raise ActionRefused(Refusal.UNAUTHORIZED, f"proxy at {refused_key(shown, self.key)}")
        body, message = read_answer(response)
        if response.is_success:
            return message
        refusal = _refusal_of(body)
        if refusal is not None:
            raise ActionRefused(refusal, message)
        raise ActionRefused(
            Refusal.UNAVAILABLE, f"proxy at {shown} answered {response.status_code}: {message}"
        )


def _refusal_of(body: Any) -> Refusal | None:
    """The refusal code of an admin answer, if it has one this version knows."""
    try:
        return Refusal(body["refusal"])
    except (TypeError, KeyError, ValueError):
        return None
