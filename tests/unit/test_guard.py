"""The names a request may call the proxy by."""

from __future__ import annotations

import pytest

from ccm_tui.config import ServerConfig
from ccm_tui.proxy.guard import HostRule, host_of


@pytest.mark.parametrize(
    "authority, name",
    [
        ("127.0.0.1:13456", "127.0.0.1"),
        ("LocalHost.:80", "localhost"),
        ("[::1]:13456", "::1"),
        ("[::1]", "::1"),
        ("ccm.lan", "ccm.lan"),
        ("evil.example:13456", "evil.example"),
        ("host:notaport", "host:notaport"),
    ],
)
def test_host_of_strips_the_port_and_the_trailing_dot(authority, name):
    assert host_of(authority) == name


def test_the_rule_admits_loopback_the_bound_host_the_allowed_and_the_local_address():
    rule = HostRule.of(ServerConfig(host="0.0.0.0", allowed_hosts=("ccm.lan",)), "box.lan")
    for name in ("localhost", "127.0.0.9", "::1", "box.lan", "ccm.lan"):
        assert rule.admits(name, None), name
    assert rule.admits("192.168.1.5", "192.168.1.5")  # the address the connection came to
    for name in ("evil.example", "192.168.1.6", "localhost.evil.example", ""):
        assert not rule.admits(name, "192.168.1.5"), name


def test_bound_to_every_interface_the_unspecified_address_is_no_name_of_the_proxy():
    for everywhere in ("0.0.0.0", "::"):
        rule = HostRule.of(ServerConfig(host=everywhere), everywhere)
        assert not rule.admits("0.0.0.0", "192.168.1.5")
        assert rule.admits("192.168.1.5", "192.168.1.5")
