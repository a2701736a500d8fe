"""The request bodies the benchmark sends, built the same way in every process.

small      a one-line question, three headers
cc         the real Claude Code request (tests/fixtures/claude-code-request.json), its
           headers as captured, `stream` off
cc_stream  the same request as captured (streaming)
big        a 1 MB Claude-Code-shaped conversation (file reads, edits, tool results), non-streaming
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "claude-code-request.json"
SMALL_HEADERS = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "x-api-key": "sk-ant-bench-client-key",
}
BIG_BYTES = 1 << 20


def fixture() -> tuple[dict[str, Any], dict[str, str]]:
    data = json.loads(FIXTURE.read_text())
    headers = {k: v for k, v in data["headers"].items() if k.lower() != "connection"}
    return data["body"], headers


def big_body(base: dict[str, Any]) -> dict[str, Any]:
    """A long coding session: the fixture's system and tools, then tool round trips."""
    body = copy.deepcopy(base)
    body["stream"] = False
    first = body["messages"][0]
    messages: list[dict[str, Any]] = [first]
    source = (
        'def handler(request):\n    """Answer one "request" \\ with\ttabs."""\n'
        "    return {'status': 200, 'body': request.body}  # é ü → ✓\n"
    )
    turn = 0
    while len(orjson.dumps({**body, "messages": messages})) < BIG_BYTES - 4096:
        turn += 1
        tool_id = f"toolu_bench{turn:05d}"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Reading src/module_{turn}.py to see the handler."},
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "Read",
                        "input": {"file_path": f"/work/src/module_{turn}.py"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": f"# module {turn}\n" + source * 24,
                    }
                ],
            }
        )
    messages.append(first)
    body["messages"] = messages
    return body


def body_bytes(name: str, model: str) -> tuple[bytes, dict[str, str]]:
    """The body (with `model` set) and the headers for a named request shape."""
    if name == "small":
        small = {
            "model": model,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": "Say hello."}],
        }
        return orjson.dumps(small), dict(SMALL_HEADERS)
    base, headers = fixture()
    if name == "cc":
        body = {**base, "stream": False}
    elif name == "cc_stream":
        body = dict(base)
    elif name == "big":
        body = big_body(base)
    else:
        raise ValueError(f"unknown body {name}")
    body["model"] = model
    # The model first, as Claude Code sends it (the fixture keeps that order).
    return orjson.dumps({"model": model, **body}), headers
