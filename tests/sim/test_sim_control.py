"""Steering the simulator from another process: the `/_sim` API and `python -m ccm_tui.sim`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from ccm_tui.sim import Scenario, Simulator, build_app, scenario_from_json
from ccm_tui.sim.__main__ import EXAMPLE, parse_args

ROOT = Path(__file__).resolve().parents[2]
BODY = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


async def test_put_scenario_sets_and_empty_object_resets(sim: Simulator):
    async with httpx.AsyncClient(base_url=sim.base_url, verify=False) as http:
        put = await http.put("/_sim/scenario/p", json={"status": 529, "retry_after": 3})
        failed = await http.post("/p/p/v1/messages", json=BODY)
        shown = await http.get("/_sim/scenario/p")
        reset = await http.put("/_sim/scenario/p", json={})
        ok = await http.post("/p/p/v1/messages", json=BODY)
    assert put.status_code == 200
    assert failed.status_code == 529
    assert failed.headers["retry-after"] == "3"
    assert shown.json()["scenario"]["status"] == 529
    assert reset.status_code == 200
    assert ok.status_code == 200
    assert sim.get_scenario("p") == Scenario()


async def test_put_scenario_with_unknown_field_is_400_naming_it(sim: Simulator):
    async with httpx.AsyncClient(base_url=sim.base_url, verify=False) as http:
        response = await http.put("/_sim/scenario/p", json={"status": 529, "colour": "red"})
        wrong_type = await http.put("/_sim/scenario/p", json={"status": "529"})
    assert response.status_code == 400
    assert "colour" in response.json()["error"]
    assert wrong_type.status_code == 400
    assert "status" in wrong_type.json()["error"]
    assert sim.get_scenario("p") == Scenario()


async def test_get_requests_lists_what_a_provider_received(sim: Simulator):
    async with httpx.AsyncClient(base_url=sim.base_url, verify=False) as http:
        await http.post("/p/p/v1/messages?beta=true", json=BODY, headers={"X-Trace": "1"})
        listed = (await http.get("/_sim/requests/p")).json()
        await http.delete("/_sim/requests")
        after = (await http.get("/_sim/requests/p")).json()
    [entry] = listed
    assert entry["method"] == "POST"
    assert entry["path_qs"] == "/p/p/v1/messages?beta=true"
    assert ["X-Trace", "1"] in entry["headers"]
    assert orjson.loads(entry["body"]) == BODY
    assert after == []


async def test_tokens_endpoint_issues_and_expire_endpoint_expires(sim: Simulator):
    async with httpx.AsyncClient(base_url=sim.base_url, verify=False) as http:
        issued = await http.post(
            "/_sim/tokens", json={"scopes": ["user:inference"], "lifetime_s": 60}
        )
        default = await http.post("/_sim/tokens")
        grant = issued.json()
        expired = await http.post("/_sim/expire", json={"access_token": grant["access_token"]})
        unknown = await http.post("/_sim/expire", json={"access_token": "nope"})
        bad = await http.post("/_sim/tokens", json={"scopes": 3})
    assert issued.status_code == 200
    assert grant["expires_in"] == 60
    assert grant["scope"] == "user:inference"
    assert grant["access_token"].startswith("sk-ant-oat01-sim")
    assert default.json()["expires_in"] == 28800
    assert expired.status_code == 200
    assert sim.oauth.access_status(grant["access_token"])[0] == "expired"
    assert unknown.status_code == 400
    assert bad.status_code == 400


async def test_revoke_endpoint_invalidates_a_derived_key(sim: Simulator):
    grant = sim.issue_tokens()
    key = sim.oauth.create_api_key(grant.access_token)["raw_key"]
    async with httpx.AsyncClient(base_url=sim.base_url, verify=False) as http:
        before = await http.post("/p/p/v1/messages", json=BODY, headers={"x-api-key": key})
        await http.post("/_sim/revoke_api_key", json={"key": key})
        after = await http.post("/p/p/v1/messages", json=BODY, headers={"x-api-key": key})
    assert before.status_code == 200
    assert after.status_code == 401


def test_scenario_from_json_converts_lists_and_checks_types():
    scenario = scenario_from_json({"models": ["a", "b"], "probability": 1, "headers": {"x": "y"}})
    assert scenario.models == ("a", "b")
    assert scenario.probability == 1.0
    assert dict(scenario.headers) == {"x": "y"}
    with pytest.raises(ValueError, match="unknown Scenario field: nope"):
        scenario_from_json({"nope": 1})
    with pytest.raises(ValueError, match="refuse"):
        scenario_from_json({"refuse": "yes"})
    assert scenario_from_json(Scenario(status=529, times=2).to_json()) == Scenario(
        status=529, times=2
    )


def test_scenario_rejects_impossible_values():
    with pytest.raises(ValueError):
        Scenario(status=200)
    with pytest.raises(ValueError):
        Scenario(probability=1.5)
    with pytest.raises(TypeError):
        Simulator().scenario("p", colour="red")


async def test_command_serves_until_sigterm_and_exits_cleanly():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccm_tui.sim",
        "--port",
        "0",
        "--scenario",
        'flaky={"status": 529}',
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert line.startswith("ccm-tui sim listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1].strip()
        assert not base_url.endswith(":0")
        async with httpx.AsyncClient(base_url=base_url, verify=False) as http:
            ok = await http.post("/p/steady/v1/messages", json=BODY)
            flaky = await http.post("/p/flaky/v1/messages", json=BODY)
        assert ok.status_code == 200
        assert flaky.status_code == 529
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_command_rejects_a_bad_scenario_argument():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccm_tui.sim",
        "--scenario",
        'x={"colour": 1}',
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 2
    assert b"colour" in stderr


def sim_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ccm_tui.sim", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    return done.stdout


def test_help_documents_every_scenario_field_with_its_type_and_default():
    shown = sim_help()
    for f in dataclasses.fields(Scenario):
        default = orjson.dumps(Scenario().to_json()[f.name]).decode()
        line = next((s for s in shown.splitlines() if s.startswith(f"  {f.name} (")), None)
        assert line is not None, f.name
        assert line.endswith(f", default {default})"), line
        assert f.metadata["help"] in shown


def test_help_gives_the_provider_base_urls_and_every_route_the_simulator_serves():
    shown = sim_help()
    assert "http://HOST:PORT/p/NAME      Anthropic format" in shown
    assert "http://HOST:PORT/p/NAME/v1   OpenAI format" in shown
    served = {
        (route.method, route.resource.canonical)
        for route in build_app(Simulator()).router.routes()
        if route.resource is not None
        and not route.resource.canonical.startswith("/p/")
        and route.method != "*"
    }
    assert len(served) > 15
    for method, path in served:
        shown_path = path.replace("{provider}", "NAME").replace("{model_id}", "ID")
        assert f"  {method:<6} {shown_path}" in shown, (method, path)


def test_the_help_example_command_line_is_one_the_simulator_takes():
    command = EXAMPLE.split("\n#")[0].split("  # ")[0].replace("\\\n", " ")
    argv = shlex.split(command.removeprefix("example:").strip())
    assert argv[:3] == ["python", "-m", "ccm_tui.sim"]
    args = parse_args(argv[3:])
    assert dict(args.scenario) == {
        "flaky": Scenario(status=529, probability=0.5),
        "slow": Scenario(event_interval_ms=200, output_chunks=20),
    }
