"""An upstream stream that breaks its own format is a stream_error, never a quiet "ok"."""

from __future__ import annotations

import httpx
import orjson

from support import HELLO

BODY = {"model": "sonnet", "max_tokens": 8, "messages": HELLO, "stream": True}


async def test_a_truncated_data_line_reaches_the_client_as_an_sse_error(sim, proxy):
    sim.scenario("primary", malformed=True)
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(proxy.url + "/v1/messages", json=BODY)
        state = (await client.get(proxy.url + "/_ccm/state")).json()
    assert response.status_code == 200  # committed before the broken line came
    frames = [f for f in response.text.split("\n\n") if f.strip()]
    last = frames[-1]
    assert last.startswith("event: error"), frames[-3:]
    error = orjson.loads(last.split("data: ", 1)[1])
    assert error["type"] == "error"
    assert "malformed" in error["error"]["message"]
    request = state["requests"][0]
    assert request["outcome"] == "stream_error"
    assert "malformed" in request["error_message"]
    assert state["providers"]["primary"]["counts"].get("stream_error") == 1
    assert state["providers"]["primary"]["counts"].get("ok") is None
