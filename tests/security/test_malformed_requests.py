"""Every error the proxy answers is an Anthropic-shaped JSON error, whatever the bytes were."""

from __future__ import annotations

import gzip

import orjson
import pytest
from rawhttp import address, assert_anthropic_error, exchange, send

from support import HELLO

MESSAGE = orjson.dumps({"model": "sonnet", "max_tokens": 8, "messages": HELLO})


@pytest.mark.parametrize(
    "encoding, body",
    [
        ("gzip", b"this is not gzip"),
        ("gzip", gzip.compress(MESSAGE)[:-8]),  # truncated
        ("deflate", b"\x00\x01not deflate"),
        ("br", b"\x8b\x02\x80not brotli"),
        ("zstd", b"not zstd"),
        ("x-unknown", MESSAGE),
    ],
    ids=["gzip-garbage", "gzip-truncated", "deflate-garbage", "br", "zstd", "unknown"],
)
async def test_a_body_that_cannot_be_decoded_is_a_400(sim, proxy, encoding, body):
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    answer = await send(proxy.url, "POST", "/v1/messages", headers, body)
    assert_anthropic_error(answer, (400, 415))
    assert sim.requests("primary") == []


async def test_a_gzipped_body_is_still_accepted(sim, proxy):
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = await send(proxy.url, "POST", "/v1/messages", headers, gzip.compress(MESSAGE))
    assert answer.status == 200, answer.body[:300]


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n",
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
        b"\r\nhello",
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"G\xffT / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
    ids=[
        "no-colon",
        "bad-length",
        "two-lengths",
        "bad-chunk",
        "nul-in-path",
        "bad-method",
        "huge-header",
    ],
)
async def test_what_the_http_parser_refuses_is_answered_in_anthropic_shape(proxy, raw):
    host, port = address(proxy.url)
    answer = await exchange(proxy.url, raw.replace(b"Host: x", f"Host: {host}:{port}".encode()))
    assert_anthropic_error(answer, (400, 413, 431))


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"model": 1}', b'{"messages": "x"}'],
)
async def test_a_body_that_is_not_a_messages_request_is_a_400(sim, proxy, body):
    answer = await send(
        proxy.url, "POST", "/v1/messages", {"Content-Type": "application/json"}, body
    )
    assert_anthropic_error(answer, 400)
