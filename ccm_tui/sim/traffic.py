"""Claude-Code-shaped traffic for `ccm-tui demo` and the benchmarks: bodies and headers shaped
like the real CLI's (system attribution block first, tools, thinking on, streaming), sent at
a rate that rises and falls so the monitor has something to show."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import uuid
from collections.abc import Callable
from typing import Any

import httpx

CLI_VERSION = "2.1.332"
BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "fine-grained-tool-streaming-2025-05-14"
)
PROMPTS = (
    "Fix the failing test in tests/test_config.py",
    "Explain what the breaker in proxy/breaker.py does",
    "Add a --json flag to the check command",
    "Why does the stream stall after the first event?",
    "Refactor the routing table into a dataclass",
    "Write a docstring for TokenStore.update",
)
TOOLS = [
    {
        "name": name,
        "description": f"{name} tool",
        "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}},
    }
    for name in ("Bash", "Edit", "Read", "Grep", "Glob", "Write", "Agent")
]


def claude_code_headers(session_id: str, key: str = "sk-ant-demo-client") -> dict[str, str]:
    return {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": BETAS,
        "user-agent": f"claude-cli/{CLI_VERSION} (external, cli)",
        "x-app": "cli",
        "x-claude-code-session-id": session_id,
        "x-stainless-lang": "js",
        "content-type": "application/json",
        "x-api-key": key,
    }


def claude_code_body(
    prompt: str, model: str = "claude-sonnet-4-5", *, stream: bool = True, turns: int = 1
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for turn in range(turns - 1):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"step {turn}"}]})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "Done."}]})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "text", "text": prompt, "cache_control": {"type": "ephemeral"}}],
        }
    )
    return {
        "model": model,
        "messages": messages,
        "system": [
            {
                "type": "text",
                "text": f"x-anthropic-billing-header: cc_version={CLI_VERSION}; cc_entrypoint=cli;",
            },
            {
                "type": "text",
                "text": "You are Claude Code, Anthropic's official CLI for Claude.",
                "cache_control": {"type": "ephemeral"},
            },
        ],
        "tools": TOOLS,
        "metadata": {"user_id": f"user_demo_session_{uuid.uuid4().hex[:8]}"},
        "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "stream": stream,
    }


class DemoTraffic:
    """Sends requests to a proxy at a rate that varies between about 0.3 and 3 per second."""

    def __init__(
        self,
        url: str,
        *,
        seed: int | None = None,
        max_in_flight: int = 6,
        rate: Callable[[float], float] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.rng = random.Random(seed)
        self.session_id = str(uuid.uuid4())
        self.max_in_flight = max_in_flight
        self.rate = rate or self._wave
        self.sent = 0
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _wave(t: float) -> float:
        return max(0.3, 1.6 + 1.3 * math.sin(t / 15.0))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        limits = httpx.Limits(max_connections=self.max_in_flight + 2)
        async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as client:
            try:
                while True:
                    await self._slots.acquire()
                    task = asyncio.create_task(self._one(client))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    rate = self.rate(loop.time() - started)
                    await asyncio.sleep(self.rng.expovariate(rate))
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _one(self, client: httpx.AsyncClient) -> None:
        try:
            kind = self.rng.random()
            prompt = self.rng.choice(PROMPTS)
            headers = claude_code_headers(self.session_id)
            if kind < 0.12:
                body = claude_code_body(prompt, "claude-haiku-4-5", stream=False)
                body.pop("thinking")
                path = "/v1/messages?beta=true"
            elif kind < 0.2:
                body = claude_code_body(prompt)
                for key in ("max_tokens", "stream", "metadata"):
                    body.pop(key)
                path = "/v1/messages/count_tokens?beta=true"
            else:
                body = claude_code_body(prompt, turns=self.rng.randint(1, 6))
                if kind > 0.85:
                    body["tool_choice"] = {"type": "any"}
                path = "/v1/messages?beta=true"
            self.sent += 1
            async with client.stream("POST", self.url + path, json=body, headers=headers) as r:
                async for _ in r.aiter_raw():
                    pass
        except (httpx.HTTPError, OSError):
            pass  # the monitor shows what went wrong; the demo carries on
        finally:
            self._slots.release()


async def run_for(url: str, seconds: float, seed: int | None = None) -> int:
    """Drives traffic for a while (tests, benchmarks); returns how many requests were sent."""
    traffic = DemoTraffic(url, seed=seed)
    task = asyncio.create_task(traffic.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return traffic.sent
