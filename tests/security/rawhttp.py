"""HTTP/1.1 by hand: requests whose bytes no well-behaved client library would send."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, last one wins
    body: bytes = b""

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def request_bytes(
    method: str,
    path: str,
    headers: list[tuple[bytes | str, bytes | str]],
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> bytes:
    def raw(value: bytes | str) -> bytes:
        return value if isinstance(value, bytes) else value.encode("latin-1")

    lines = [f"{method} {path} HTTP/1.1".encode()]
    names = {raw(k).lower() for k, _ in headers}
    lines += [raw(k) + b": " + raw(v) for k, v in headers]
    if content_length and body and b"content-length" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    if b"connection" not in names:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def parse_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    return RawResponse(status, headers, body)


async def exchange(url: str, data: bytes, timeout: float = 10.0) -> RawResponse:
    """Sends `data` as is and reads the answer until the server closes the connection."""
    host, port = address(url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout):
            answer = await reader.read()
    finally:
        writer.close()
    assert answer, "the server closed the connection without an answer"
    return parse_response(answer)


async def send(
    url: str,
    method: str,
    path: str,
    headers: list[tuple[bytes | str, bytes | str]] | dict[str, str],
    body: bytes = b"",
    timeout: float = 10.0,
) -> RawResponse:
    items = list(headers.items()) if isinstance(headers, dict) else headers
    if not any(str(k).lower() in ("host", "b'host'") for k, _ in items):
        host, port = address(url)
        items = [("Host", f"{host}:{port}"), *items]
    return await exchange(url, request_bytes(method, path, items, body), timeout)


def assert_anthropic_error(response: RawResponse, status: int | tuple[int, ...]) -> str:
    """The answer is an Anthropic-shaped error with that status; returns its message."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status in statuses, (response.status, response.body[:300])
    assert response.content_type == "application/json", response.headers
    data = response.json()
    assert data["type"] == "error", data
    assert isinstance(data["error"]["type"], str) and data["error"]["type"], data
    assert isinstance(data["error"]["message"], str) and data["error"]["message"], data
    return data["error"]["message"]
