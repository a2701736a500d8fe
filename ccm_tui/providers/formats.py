"""What differs between upstream wire formats, behind one seam chosen per provider.

The proxy speaks the Messages API to its clients whatever the upstream speaks; a format
says how a client request becomes the upstream's (URL, headers, body) and how the
upstream's answers, errors and streams become Messages API ones. It knows the request
only through `Outgoing`, so it needs nothing of the proxy that uses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import orjson
from multidict import CIMultiDict

from ccm_tui.config import ProviderConfig
from ccm_tui.providers import openai as chat
from ccm_tui.providers.anthropic import Credential, response_headers, upstream_headers
from ccm_tui.providers.registry import WireFormat

Reader = Callable[[], Awaitable[bytes]]


class Outgoing(Protocol):
    """The client's request, as a format needs to read it."""

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def requested(self) -> str:
        """The model name the client asked for (answers carry it back)."""
        ...

    @property
    def system(self) -> Any:
        """The system prompt with the subagent tag removed, or None when there was none."""
        ...

    tool_names: dict[str, str] | None  # shortened tool name -> the client's, once computed

    def with_model(self, model: str) -> bytes:
        """The client's own bytes with only `model` (and a stripped `system`) changed."""
        ...


class UpstreamFormat:
    """The Messages API as Anthropic-format providers speak it: the request goes up as the
    client sent it and the answer comes back untouched, so the hot path does no work
    beyond forwarding."""

    wire = WireFormat.ANTHROPIC

    def url(self, provider: ProviderConfig, path_qs: str) -> str:
        return provider.base_url + path_qs

    def headers(
        self,
        client_headers: Iterable[tuple[str, str]],
        provider: ProviderConfig,
        credential: Credential,
        proxy_key: str | None,
    ) -> CIMultiDict[str] | dict[str, str]:
        return upstream_headers(client_headers, provider, credential, proxy_key)

    def body(self, request: Outgoing, model: str) -> bytes:
        return request.with_model(model)

    def response_headers(
        self, upstream: Iterable[tuple[str, str]], content_type: str
    ) -> CIMultiDict[str]:
        return response_headers(upstream)

    def error_body(self, status: int, body: bytes) -> bytes:
        return body

    def decode(self, request: Outgoing, body: bytes) -> tuple[bytes, Any]:
        """The JSON answer for the client, and its parsed form. Raises ValueError."""
        return body, orjson.loads(body)

    def reader(self, request: Outgoing, readany: Reader) -> Reader:
        """Reads the stream's next bytes for the client (b"" at its end)."""
        return readany


class ChatCompletionsFormat(UpstreamFormat):
    """OpenAI Chat Completions: request, answers, errors and streams are translated
    (`providers/openai`), so the client and the observer only see the Messages API."""

    wire = WireFormat.OPENAI

    def url(self, provider: ProviderConfig, path_qs: str) -> str:
        return chat.chat_url(provider)

    def headers(
        self,
        client_headers: Iterable[tuple[str, str]],
        provider: ProviderConfig,
        credential: Credential,
        proxy_key: str | None,
    ) -> CIMultiDict[str] | dict[str, str]:
        return chat.chat_headers(client_headers, credential, proxy_key)

    def body(self, request: Outgoing, model: str) -> bytes:
        body = request.body
        if request.system is not None:
            body = {**body, "system": request.system}
        return orjson.dumps(chat.to_chat_request(body, model))

    def response_headers(
        self, upstream: Iterable[tuple[str, str]], content_type: str
    ) -> CIMultiDict[str]:
        headers = response_headers(upstream)
        headers["Content-Type"] = content_type  # the body is ours now, whatever came
        return headers

    def error_body(self, status: int, body: bytes) -> bytes:
        return chat.error_to_anthropic(status, body)

    def decode(self, request: Outgoing, body: bytes) -> tuple[bytes, Any]:
        data = orjson.loads(body)
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        message = chat.from_chat_response(data, request.requested, _names(request))
        return orjson.dumps(message), message

    def reader(self, request: Outgoing, readany: Reader) -> Reader:
        translator = chat.StreamTranslator(request.requested, _names(request))

        async def read() -> bytes:
            # Upstream chunks that translate to nothing (usage, role-only) are read past.
            while not translator.done:
                chunk = await readany()
                frames = translator.feed(chunk) if chunk else translator.finish()
                if frames or not chunk:
                    return frames
            return b""

        return read


def _names(request: Outgoing) -> dict[str, str]:
    if request.tool_names is None:
        request.tool_names = chat.tool_name_map(request.body)
    return request.tool_names


FORMATS: dict[WireFormat, UpstreamFormat] = {
    WireFormat.ANTHROPIC: UpstreamFormat(),
    WireFormat.OPENAI: ChatCompletionsFormat(),
}
