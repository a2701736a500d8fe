"""Whatever a client sends, the answer is the upstream's or an Anthropic-shaped error: no 500."""

from __future__ import annotations

import string

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import assert_anthropic_error, send

from support import HELLO

PROPERTY = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages_like = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.just("sonnet"), st.text(max_size=20), json_values),
        "max_tokens": st.one_of(st.integers(-5, 10**12), json_values),
        "messages": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "assistant", "x"]), "content": json_values}
                ),
                max_size=3,
            ),
            json_values,
        ),
        "stream": st.one_of(st.booleans(), json_values),
        "system": json_values,
        "tools": json_values,
        "thinking": json_values,
    },
)
bodies = st.one_of(
    messages_like.map(orjson.dumps),
    st.binary(max_size=300),
    json_values.map(lambda v: orjson.dumps(v)),
)
header_names = st.sampled_from(
    ["user-agent", "anthropic-beta", "anthropic-version", "x-provider", "x-api-key",
     "authorization", "x-claude-code-session-id", "accept", "x-stainless-os"]
)  # fmt: skip
# Any byte but the line breaks that would end the header.
header_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def check(response: httpx.Response) -> None:
    assert response.status_code != 500 and response.status_code < 600, response.text[:300]
    if response.status_code >= 400:
        data = response.json()
        assert data["type"] == "error" and data["error"]["type"] and data["error"]["message"]


@PROPERTY
@given(body=bodies)
async def test_any_body_gets_an_answer_or_an_anthropic_error(proxy, body):
    async with httpx.AsyncClient(timeout=10) as client:
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            response = await client.post(
                proxy.url + path, content=body, headers={"content-type": "application/json"}
            )
            check(response)
        assert (await client.get(proxy.url + "/_ccm/state")).status_code == 200


@PROPERTY
@given(
    headers=st.dictionaries(header_names, header_values, max_size=5),
    query=st.text(string.ascii_letters + string.digits + "%&=+", max_size=20),
)
async def test_any_headers_get_an_answer_or_an_anthropic_error(proxy, headers, query):
    body = orjson.dumps({"model": "sonnet", "max_tokens": 8, "messages": HELLO})
    items = [("Content-Type", "application/json"), *((k.encode(), v) for k, v in headers.items())]
    answer = await send(proxy.url, "POST", f"/v1/messages?{query}", items, body)
    assert answer.status != 500 and answer.status < 600, answer.body[:300]
    if answer.status >= 400:
        assert_anthropic_error(answer, answer.status)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(proxy.url + "/_ccm/state")).status_code == 200
