"""The load generator: its own process, driven by `run.py` with one JSON command per line.

Each command runs to its end and answers with one JSON line of raw measurements (the
statistics are computed by the caller). Connections are kept alive between commands, so
every measurement after the warm-up reuses them, as Claude Code does.

Commands (`op`):
  latency      n requests, `concurrency` at a time; per-request seconds
  stream       n streaming requests; per request: time to first byte and the arrival
               time of every SSE event (events that came in one read share a time)
  rate_stream  open loop: `rate` streaming requests per second for `duration` seconds
  count        n requests as fast as `concurrency` allows; elapsed time and errors
  throughput   as many requests as `concurrency` allows for `duration` seconds
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bodies import body_bytes

perf = time.perf_counter


class Driver:
    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.bodies: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
            timeout=aiohttp.ClientTimeout(total=300),
            skip_auto_headers=("User-Agent",),
            auto_decompress=False,
        )

    def body(self, cmd: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        key = (cmd["body"], cmd["model"])
        if key not in self.bodies:
            self.bodies[key] = body_bytes(cmd["body"], cmd["model"])
        return self.bodies[key]

    async def one(self, url: str, data: bytes, headers: dict[str, str]) -> float:
        assert self.session is not None
        t0 = perf()
        async with self.session.post(url, data=data, headers=headers) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"{url}: HTTP {r.status}: {(await r.read())[:300]!r}")
        return perf() - t0

    async def one_stream(self, url: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
        assert self.session is not None
        t0 = perf()
        arrivals: list[float] = []
        ttfb = None
        tail = b""
        async with self.session.post(url, data=data, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"{url}: HTTP {r.status}: {(await r.read())[:300]!r}")
            async for chunk in r.content.iter_any():
                now = perf() - t0
                if ttfb is None:
                    ttfb = now
                tail += chunk
                complete = tail.count(b"\n\n")
                if complete:
                    arrivals.extend([now] * complete)
                    tail = tail[tail.rfind(b"\n\n") + 2 :]
        return {"ttfb": ttfb, "events": arrivals, "total": perf() - t0}

    # -- commands -------------------------------------------------------------------------

    async def latency(self, cmd: dict[str, Any]) -> dict[str, Any]:
        data, headers = self.body(cmd)
        url, n, conc = cmd["url"], cmd["n"], cmd["concurrency"]
        for _ in range(cmd.get("warmup", 0)):  # also opens `concurrency` connections below
            await self.one(url, data, headers)
        await asyncio.gather(*(self.one(url, data, headers) for _ in range(conc)))
        out: list[float] = []
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                out.append(await self.one(url, data, headers))

        t0 = perf()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return {"lat": out, "elapsed": perf() - t0}

    async def stream(self, cmd: dict[str, Any]) -> dict[str, Any]:
        data, headers = self.body(cmd)
        url, n, conc = cmd["url"], cmd["n"], cmd.get("concurrency", 1)
        for _ in range(cmd.get("warmup", 0)):
            await self.one_stream(url, data, headers)
        out: list[dict[str, Any]] = []
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                out.append(await self.one_stream(url, data, headers))

        await asyncio.gather(*(worker() for _ in range(conc)))
        return {"streams": out}

    async def rate_stream(self, cmd: dict[str, Any]) -> dict[str, Any]:
        data, headers = self.body(cmd)
        url, rate, duration = cmd["url"], cmd["rate"], cmd["duration"]
        results: list[dict[str, Any]] = []
        errors: list[str] = []
        tasks: set[asyncio.Task[None]] = set()

        async def one() -> None:
            try:
                results.append(await self.one_stream(url, data, headers))
            except Exception as err:  # counted, reported
                errors.append(repr(err)[:200])

        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        while (now := loop.time()) < start + duration:
            due = int((now - start) * rate) + 1
            while sent < due:
                sent += 1
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
        elapsed = loop.time() - start
        await asyncio.gather(*tasks)
        gaps = [b - a for r in results for a, b in zip(r["events"], r["events"][1:], strict=False)]
        return {
            "sent": sent,
            "elapsed": elapsed,
            "ok": len(results),
            "errors": errors[:5],
            "error_count": len(errors),
            "ttfb": [r["ttfb"] for r in results],
            "gaps": gaps,
        }

    async def count(self, cmd: dict[str, Any]) -> dict[str, Any]:
        data, headers = self.body(cmd)
        url, n, conc = cmd["url"], cmd["n"], cmd["concurrency"]
        left = n
        errors = 0

        async def worker() -> None:
            nonlocal left, errors
            while left > 0:
                left -= 1
                try:
                    await self.one(url, data, headers)
                except Exception:
                    errors += 1

        t0 = perf()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return {"n": n, "elapsed": perf() - t0, "errors": errors}

    async def throughput(self, cmd: dict[str, Any]) -> dict[str, Any]:
        data, headers = self.body(cmd)
        url, conc, duration = cmd["url"], cmd["concurrency"], cmd["duration"]
        await asyncio.gather(*(self.one(url, data, headers) for _ in range(conc)))
        done = 0
        t0 = perf()
        end = t0 + duration

        async def worker() -> None:
            nonlocal done
            while perf() < end:
                await self.one(url, data, headers)
                done += 1

        await asyncio.gather(*(worker() for _ in range(conc)))
        return {"done": done, "elapsed": perf() - t0}


async def main() -> None:
    driver = Driver()
    await driver.open()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    while line := await reader.readline():
        cmd = orjson.loads(line)
        try:
            result = await getattr(driver, cmd["op"])(cmd)
        except Exception as err:
            result = {"error": f"{type(err).__name__}: {err}"}
        out.write(orjson.dumps(result) + b"\n")
        out.flush()
    assert driver.session is not None
    await driver.session.close()


if __name__ == "__main__":
    asyncio.run(main())
