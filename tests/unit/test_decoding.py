"""Request bodies in a Content-Encoding: decoded whole and checked, or refused."""

from __future__ import annotations

import gzip
import zlib

import pytest

from ccm_tui.proxy.decoding import DECODERS, DecodeError, TooLarge

BODY = b'{"model":"sonnet","messages":[]}' * 50


def decoded(encoding: str, data: bytes, limit: int = 1 << 20, piece: int = 7) -> bytes:
    decoder = DECODERS[encoding](limit)
    out = b"".join(decoder.feed(data[i : i + piece]) for i in range(0, len(data), piece))
    decoder.finish()
    return out


def raw_deflate(data: bytes) -> bytes:
    engine = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return engine.compress(data) + engine.flush()


@pytest.mark.parametrize(
    "encoding, data",
    [
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("gzip", gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])),  # two members
        ("deflate", zlib.compress(BODY)),
        ("deflate", raw_deflate(BODY)),  # as some clients send it
    ],
    ids=["gzip", "x-gzip", "gzip-two-members", "deflate-zlib", "deflate-raw"],
)
def test_a_valid_body_decodes_whole_in_any_cut(encoding, data):
    for piece in (1, 7, len(data)):
        assert decoded(encoding, data, piece=piece) == BODY


@pytest.mark.parametrize(
    "encoding, data",
    [
        ("gzip", gzip.compress(BODY)[:-8]),  # the checksum and length cut off
        ("gzip", gzip.compress(BODY)[:40]),
        ("gzip", b"not gzip at all"),
        ("gzip", b""),
        ("deflate", zlib.compress(BODY)[:-4]),
        ("deflate", zlib.compress(BODY) + b"trailing"),
    ],
    ids=["no-checksum", "cut", "garbage", "empty", "deflate-cut", "deflate-trailing"],
)
def test_a_broken_body_is_refused(encoding, data):
    with pytest.raises(DecodeError):
        decoded(encoding, data)


def test_a_small_body_that_inflates_past_the_limit_is_too_large():
    bomb = gzip.compress(b"\0" * (8 << 20))  # 8 MB of zeros in about 8 kB
    assert len(bomb) < 64 << 10
    with pytest.raises(TooLarge):
        decoded("gzip", bomb, limit=1 << 20, piece=len(bomb))
