"""The CLI refuses what it cannot serve before it starts: a bad port is a usage error, and
`check` reports the listen address `serve` would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui import cli
from ccm_tui.config import STARTER_CONFIG
from ccm_tui.paths import display

PORT_ERROR = "argument --port: expected a port from 0 (any free port) to 65535, found {}"
REFUSAL = (
    "refusing to listen on 0.0.0.0 without server.api_key: anyone who can reach this address "
    'could spend your credentials. Set [server] api_key (e.g. api_key = "$CCM_KEY") or listen '
    "on 127.0.0.1."
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    return path


def public(config: Path, api_key: str | None = None) -> Path:
    text = STARTER_CONFIG.replace('host = "127.0.0.1"', 'host = "0.0.0.0"', 1)
    if api_key is not None:
        text = text.replace('# api_key = "$CCM_KEY"', f'api_key = "{api_key}"', 1)
    config.write_text(text, encoding="utf-8")
    return config


@pytest.mark.parametrize("port", ["99999", "-5", "65536", "abc", "1.5", "", "²"])
@pytest.mark.parametrize("command", [["serve"], [], ["demo"]])
def test_a_port_out_of_range_or_not_a_number_is_a_usage_error(config, capsys, command, port):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--config", str(config), *command, f"--port={port}"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(PORT_ERROR.format(port))
    assert "Traceback" not in err


@pytest.mark.parametrize("port", ["0", "13456", "65535"])
def test_every_port_from_0_to_65535_is_accepted(port):
    assert cli.build_parser().parse_args(["serve", "--port", port]).port == int(port)


def test_check_reports_the_public_address_serve_refuses_with_its_line(config, capsys):
    path = public(config)

    assert cli.main(["check", "--config", str(path)]) == cli.EXIT_FAILED

    line = next(n for n, text in enumerate(STARTER_CONFIG.splitlines(), 1) if "host =" in text)
    shown = display(path)
    assert capsys.readouterr().err == (
        f"config error: {shown}, line {line}, [server] host:\n  {REFUSAL}\n{shown}: 1 error(s)\n"
    )


def test_check_reports_a_public_host_given_on_the_command_line(config, capsys):
    assert cli.main(["--host", "0.0.0.0", "check", "--config", str(config)]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith(f"config error: {display(config)}, --host:\n  {REFUSAL}\n")


def test_serve_refuses_what_check_reports(config, capsys):
    path = public(config)
    cli.main(["check", "--config", str(path)])
    checked = capsys.readouterr().err

    assert cli.main(["serve", "--config", str(path), "--port", "0"]) == cli.EXIT_FAILED
    served = capsys.readouterr().err

    assert f"ccm-tui: {REFUSAL}" in served
    assert REFUSAL in checked


@pytest.mark.parametrize(
    "setup", [lambda p: p, lambda p: public(p, api_key="a-proxy-key")], ids=["loopback", "keyed"]
)
def test_check_says_ok_where_serve_would_listen(config, capsys, setup):
    path = setup(config)
    assert cli.main(["check", "--config", str(path)]) == cli.EXIT_OK
    assert capsys.readouterr().out.startswith(f"{display(path)}: ok")
