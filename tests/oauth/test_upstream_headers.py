"""What an OAuth provider sends upstream: the client's `anthropic-beta` list with the OAuth
beta merged in (or taken out, on the derived key), and never the client's own credential."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from oauth_helpers import (
    CLIENT_BEARER,
    CLIENT_KEY,
    NAME,
    OAUTH_BETA,
    GatewayFactory,
    cc_request,
    seed,
    send_cc,
    upstream_betas,
    write_config,
)

from ccm_tui.sim import Simulator
from ccm_tui.sim.oauth import TokenGrant

BETA_A = "claude-code-20250219"
BETA_B = "interleaved-thinking-2025-05-14"


async def oauth_proxy(
    sim: Simulator, tmp_path: Path, store: Path, start_gateway: GatewayFactory, derived: bool
) -> tuple[str, TokenGrant, str | None]:
    """A gateway whose Claude Max provider is on its OAuth token or its derived key."""
    grant = sim.issue_tokens()
    key = None
    if derived:
        async with httpx.AsyncClient(trust_env=False) as http:
            created = await http.post(
                sim.create_api_key_url, headers={"Authorization": f"Bearer {grant.access_token}"}
            )
        key = created.json()["raw_key"]
    seed(store, grant, api_key=key)
    extra = "use_derived_key = true" if derived else ""
    config = write_config(tmp_path / "config.toml", sim, store=store, oauth_extra=extra)
    gateway = await start_gateway(config)
    return gateway.proxy.url, grant, key


@pytest.mark.parametrize(
    ("client_betas", "upstream"),
    [
        (f"{BETA_A},{BETA_B}", [BETA_A, BETA_B, OAUTH_BETA]),
        (f"{BETA_B}, {OAUTH_BETA} ,{BETA_A}", [BETA_B, OAUTH_BETA, BETA_A]),
        (None, [OAUTH_BETA]),
    ],
    ids=["appended", "already-there", "none-sent"],
)
async def test_oauth_beta_is_merged_into_the_clients_list_keeping_its_order(
    client_betas: str | None,
    upstream: list[str],
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    url, _, _ = await oauth_proxy(sim, tmp_path, store, start_gateway, derived=False)
    body, headers = cc_request()
    headers.pop("anthropic-beta")
    if client_betas is not None:
        headers["anthropic-beta"] = client_betas

    response = await http.post(f"{url}/v1/messages?beta=true", json=body, headers=headers)

    assert response.status_code == 200
    assert upstream_betas(sim.requests(NAME)[0]) == upstream


@pytest.mark.parametrize(
    ("client_betas", "upstream"),
    [
        (f"{BETA_A},{OAUTH_BETA},{BETA_B}", [BETA_A, BETA_B]),
        (OAUTH_BETA, None),
    ],
    ids=["removed-from-the-middle", "only-beta-removed-with-the-header"],
)
async def test_derived_key_requests_never_carry_the_oauth_beta_even_if_the_client_sent_it(
    client_betas: str,
    upstream: list[str] | None,
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    url, _, key = await oauth_proxy(sim, tmp_path, store, start_gateway, derived=True)

    response = await send_cc(http, url, anthropic_beta=client_betas)

    assert response.status_code == 200
    (sent,) = sim.requests(NAME)
    assert sent.header("x-api-key") == key
    if upstream is None:
        assert sent.header("anthropic-beta") is None
    else:
        assert upstream_betas(sent) == upstream


@pytest.mark.parametrize("derived", [False, True], ids=["oauth", "derived-key"])
async def test_the_clients_own_x_api_key_and_authorization_never_go_upstream(
    derived: bool,
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    url, grant, key = await oauth_proxy(sim, tmp_path, store, start_gateway, derived=derived)

    response = await send_cc(
        http, url, x_api_key=CLIENT_KEY, authorization=f"Bearer {CLIENT_BEARER}"
    )

    assert response.status_code == 200
    (sent,) = sim.requests(NAME)
    credentials = [
        (k.lower(), v) for k, v in sent.headers if k.lower() in ("x-api-key", "authorization")
    ]
    if derived:
        assert credentials == [("x-api-key", key)]
    else:
        assert credentials == [("authorization", f"Bearer {grant.access_token}")]
    everything = repr(sent.headers) + sent.body.decode()
    assert CLIENT_KEY not in everything and CLIENT_BEARER not in everything
