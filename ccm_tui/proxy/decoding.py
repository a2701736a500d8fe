"""Request bodies sent with a `Content-Encoding`: decoded here, strictly, within a size.

aiohttp's server would decode them itself, but it accepts a gzip body cut before its
checksum, and its errors surface as tracebacks. Here a body either decodes whole, with its
checksum, or is refused (`DecodeError`), and it never grows past the proxy's limit
however small it came (a zip bomb is refused as too large, not inflated).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Protocol


class DecodeError(ValueError):
    """The body is not what its Content-Encoding says."""


class TooLarge(ValueError):
    """The decoded body would pass the limit."""


class Decoder(Protocol):
    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> None: ...


class ZlibDecoder:
    """gzip (members one after another, as RFC 1952 allows) or deflate (zlib-wrapped, or
    raw as some clients send it), each checked to its end."""

    def __init__(self, gzip: bool, limit: int) -> None:
        self._gzip = gzip
        self._limit = limit
        self._out = 0
        self._engine: zlib._Decompress | None = None
        self._head = b""  # deflate: the first bytes, until there are two to tell its kind

    def _new(self, first: bytes) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        zlib_wrapped = (
            len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        )
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        if self._engine is None and not self._gzip and len(self._head) + len(data) < 2:
            self._head += data
            return b""
        data, self._head = self._head + data, b""
        out: list[bytes] = []
        try:
            while data:
                if self._engine is None or self._engine.eof:
                    if self._engine is not None and not self._gzip:
                        raise DecodeError("data after the end of the deflate stream")
                    self._engine = self._new(data)
                engine = self._engine
                room = self._limit - self._out + 1
                piece = engine.decompress(data, room)
                self._out += len(piece)
                if self._out > self._limit:  # it stopped at `room`, more to come
                    raise TooLarge
                out.append(piece)
                data = engine.unused_data if engine.eof else b""
        except zlib.error as err:
            raise DecodeError(str(err)) from None
        return b"".join(out)

    def finish(self) -> None:
        if self._engine is None or not self._engine.eof:
            raise DecodeError("the compressed body ends before its end (truncated)")


DECODERS: dict[str, Callable[[int], Decoder]] = {
    "gzip": lambda limit: ZlibDecoder(True, limit),
    "x-gzip": lambda limit: ZlibDecoder(True, limit),
    "deflate": lambda limit: ZlibDecoder(False, limit),
}
# What a body may say it is: these, or nothing (identity).
ENCODINGS = frozenset({"", "identity", *DECODERS})
