"""The commands a monitor sends to a proxy, the same whether it runs in-process or remotely.

The TUI only sees `ProxyControl`: `LocalControl` calls the `Proxy` it runs beside,
`RemoteControl` calls the admin endpoints of a proxy started elsewhere (`ccm-tui attach`).
Both answer with the proxy's own message or raise `ControlError` with one a person can
act on, so a key press behaves the same in both modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from ccm_tui.config import ConfigError
from ccm_tui.masking import mask_text

if TYPE_CHECKING:
    from ccm_tui.proxy.app import Proxy

KEY_HEADER = "x-ccm-key"
# Deriving a key may wait on the upstream's OAuth endpoints; the rest answer at once.
ACTION_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ControlError(Exception):
    """An action was refused or could not be delivered; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProxyControl(Protocol):
    """What the monitor may change on the proxy it shows."""

    async def set_enabled(self, name: str, enabled: bool) -> str: ...

    async def reset(self, name: str) -> str: ...

    async def derive_key(self, name: str) -> str: ...

    async def use_oauth(self, name: str) -> str: ...

    async def reload(self) -> str: ...


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


def server_message(response: httpx.Response) -> str:
    """The message from an admin answer: `{"ok", "message"}` or an Anthropic error body."""
    try:
        body: Any = response.json()
    except ValueError:
        return mask_text(response.text.strip()[:200])
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return mask_text(body["message"])
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return mask_text(error["message"])
    return mask_text(str(body)[:200])


# -- in-process ------------------------------------------------------------------------------


class LocalControl:
    """Calls the Proxy directly, with the admin API's error mapping."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    async def set_enabled(self, name: str, enabled: bool) -> str:
        with _as_control_error():
            return self.proxy.set_enabled(name, enabled)

    async def reset(self, name: str) -> str:
        with _as_control_error():
            return self.proxy.reset_counters(name)

    async def derive_key(self, name: str) -> str:
        with _as_control_error():
            return await self.proxy.switch_to_derived(name)

    async def use_oauth(self, name: str) -> str:
        with _as_control_error():
            return await self.proxy.switch_to_oauth(name)

    async def reload(self) -> str:
        with _as_control_error():
            return self.proxy.reload()


@contextmanager
def _as_control_error() -> Iterator[None]:
    """Maps the proxy's refusals to ControlError exactly as admin.py maps them to HTTP."""
    try:
        yield
    except KeyError as err:
        raise ControlError(mask_text(str(err.args[0]) if err.args else str(err))) from err
    except (ConfigError, ValueError) as err:
        raise ControlError(mask_text(str(err))) from err


# -- over HTTP -------------------------------------------------------------------------------


class RemoteControl:
    """Calls `POST /_ccm/...` on a proxy elsewhere; the key goes as `x-ccm-key`."""

    def __init__(
        self, url: str, key: str | None = None, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = normalize_url(url)
        self.key = key
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=ACTION_TIMEOUT)
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def set_enabled(self, name: str, enabled: bool) -> str:
        return await self._provider(name, "enable" if enabled else "disable")

    async def reset(self, name: str) -> str:
        return await self._provider(name, "reset")

    async def derive_key(self, name: str) -> str:
        return await self._provider(name, "derive-key")

    async def use_oauth(self, name: str) -> str:
        return await self._provider(name, "use-oauth")

    async def reload(self) -> str:
        return await self._post("/_ccm/reload")

    async def _provider(self, name: str, action: str) -> str:
        return await self._post(f"/_ccm/providers/{quote(name, safe='')}/{action}")

    async def _post(self, path: str) -> str:
        shown = display_url(self.url)
        headers = {KEY_HEADER: self.key} if self.key else {}
        try:
            response = await self.client.post(
                self.url + path, headers=headers, timeout=ACTION_TIMEOUT
            )
        except httpx.TransportError as err:
            raise ControlError(
                f"proxy at {shown} is not reachable: {describe_transport_error(err)}"
            ) from None
        if response.status_code == 401:
            raise ControlError(f"proxy at {refused_key(shown, self.key)}")
        message = server_message(response)
        if response.is_success:
            return message
        if response.status_code in (404, 409, 422):
            raise ControlError(message)
        raise ControlError(f"proxy at {shown} answered {response.status_code}: {message}")
