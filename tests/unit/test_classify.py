"""classify.py: every upstream answer and exception ends in one failure class."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import json
import ssl

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from ccm_tui.events import Failure
from ccm_tui.proxy import classify
from ccm_tui.proxy.classify import (
    MAX_RETRY_AFTER_S,
    classify_exception,
    classify_status,
    parse_retry_after,
    read_error,
)

CLAUDE_CODE_ONLY_MESSAGE = (
    "This credential is only authorized for use with Claude Code and cannot be used for "
    "other API requests."
)
SECRET = "sk-ant-api03-" + "Zx9" * 20 + "-abcdQd7x"


def anthropic_error(kind: str, message: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011"}
    ).encode()


# --- classify_status ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_ok(status):
    assert classify_status(status, "") is Failure.OK


def test_claude_code_only_400_is_oauth_scope():
    assert classify_status(400, CLAUDE_CODE_ONLY_MESSAGE) is Failure.OAUTH_SCOPE


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "max_tokens: Field required"),
        (400, ""),
        (413, "Request exceeds the maximum allowed number of bytes."),
        (422, "Unprocessable"),
        (409, "Conflict"),
    ],
)
def test_other_client_side_4xx_is_client_error(status, message):
    assert classify_status(status, message) is Failure.CLIENT_ERROR


@pytest.mark.parametrize("status", [413, 422])
def test_claude_code_only_wording_on_another_status_is_still_a_client_error(status):
    assert classify_status(status, CLAUDE_CODE_ONLY_MESSAGE) is Failure.CLIENT_ERROR


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "invalid x-api-key"),
        (401, "OAuth token has expired. Please obtain a new token or refresh your existing token."),
        (403, "Your API key does not have permission to use the specified resource."),
    ],
)
def test_401_and_403_are_auth_errors(status, message):
    assert classify_status(status, message) is Failure.AUTH_ERROR


def test_404_is_model_not_found():
    assert classify_status(404, "model: claude-nope") is Failure.MODEL_NOT_FOUND


def test_only_404_is_model_not_found():
    # forward.py names the model on MODEL_NOT_FOUND without checking the status again.
    found = [s for s in range(400, 600) if classify_status(s, "x") is Failure.MODEL_NOT_FOUND]
    assert found == [404]


def test_429_is_rate_limited():
    assert classify_status(429, "Number of request tokens has exceeded") is Failure.RATE_LIMITED


def test_529_is_overloaded():
    assert classify_status(529, "Overloaded") is Failure.OVERLOADED


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_server_error(status):
    assert classify_status(status, "Internal server error") is Failure.SERVER_ERROR


def test_408_is_timeout():
    assert classify_status(408, "Request Timeout") is Failure.TIMEOUT


def test_fail_over_and_breaker_flags_follow_the_decisions():
    fails_over = {f for f in Failure if f.fails_over}
    assert fails_over == {
        Failure.CONNECT_ERROR,
        Failure.TIMEOUT,
        Failure.RATE_LIMITED,
        Failure.OVERLOADED,
        Failure.SERVER_ERROR,
        Failure.AUTH_ERROR,
        Failure.OAUTH_SCOPE,
        Failure.MODEL_NOT_FOUND,
    }
    assert not Failure.CLIENT_ERROR.counts_against_provider
    assert not Failure.CANCELLED.counts_against_provider
    assert Failure.OAUTH_SCOPE.counts_against_provider
    assert not Failure.OAUTH_SCOPE.opens_breaker
    assert Failure.STREAM_ERROR.opens_breaker
    assert not Failure.CLIENT_ERROR.opens_breaker


# --- read_error ----------------------------------------------------------------------------


def error_message(body: bytes) -> str:
    return read_error(body)[1]


def test_read_error_hands_back_the_body_it_parsed_with_the_message():
    body = anthropic_error("invalid_request_error", CLAUDE_CODE_ONLY_MESSAGE)
    parsed, message = read_error(body)
    assert parsed == json.loads(body)
    assert message == CLAUDE_CODE_ONLY_MESSAGE
    assert read_error(b"<html>bad gateway</html>")[0] is None


def test_error_message_of_an_anthropic_body_is_its_message():
    body = anthropic_error("invalid_request_error", CLAUDE_CODE_ONLY_MESSAGE)
    assert error_message(body) == CLAUDE_CODE_ONLY_MESSAGE


def test_error_message_masks_a_key_quoted_in_the_message():
    body = anthropic_error("authentication_error", f"invalid x-api-key {SECRET}")
    message = error_message(body)
    assert SECRET not in message
    assert message == "invalid x-api-key sk-ant-api03-…Qd7x"


def test_error_message_of_an_oauth_body_is_its_description():
    body = b'{"error": "invalid_grant", "error_description": "Refresh token not found or invalid"}'
    assert error_message(body) == "Refresh token not found or invalid"


def test_error_message_of_an_oauth_body_without_description_is_the_code():
    assert error_message(b'{"error": "invalid_client"}') == "invalid_client"


def test_error_message_of_garbage_is_a_short_masked_excerpt():
    body = b"<html><body>502 Bad Gateway " + SECRET.encode() + b" " + b"x" * 1000 + b"</body>"
    message = error_message(body)
    assert message.startswith("<html><body>502 Bad Gateway sk-ant-api03-…")
    assert SECRET not in message
    assert "Zx9Zx9" not in message
    assert len(message) <= 300


def test_error_message_masks_a_bearer_token_in_plain_text():
    message = error_message(b"upstream refused Bearer abcdefghijklmnopqrstuvwx")
    assert "abcdefghijklmnop" not in message
    assert message.endswith("…uvwx")


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_error_message_of_an_empty_body_says_so(body):
    assert error_message(body) == "(empty body)"


def test_error_message_of_invalid_utf8_does_not_raise():
    message = error_message(b"\xff\xfe bad gateway")
    assert "bad gateway" in message


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'"just a string"', b"null", b'{"error": {"type": "x", "message": 5}}'],
)
def test_error_message_of_other_json_is_an_excerpt(body):
    assert error_message(body) == body.decode()


# --- classify_exception ----------------------------------------------------------------------


def connection_key() -> ConnectionKey:
    return ConnectionKey("api.example.com", 443, True, True, None, None, None, None)


def test_cancelled_is_cancelled():
    assert classify_exception(asyncio.CancelledError()) == (Failure.CANCELLED, "client went away")


def test_connect_timeout_is_timeout():
    failure, message = classify_exception(aiohttp.ConnectionTimeoutError("c"))
    assert (failure, message) == (Failure.TIMEOUT, "timed out connecting")


@pytest.mark.parametrize(
    "exc",
    [TimeoutError("read"), aiohttp.SocketTimeoutError("sock"), aiohttp.ServerTimeoutError("read")],
)
def test_other_timeouts_are_timeout(exc):
    failure, message = classify_exception(exc)
    assert failure is Failure.TIMEOUT
    assert message


def test_refused_connection_is_connect_error_with_the_reason():
    exc = aiohttp.ClientConnectorError(
        connection_key(), ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    )
    assert classify_exception(exc) == (Failure.CONNECT_ERROR, "cannot connect: Connection refused")


def test_dns_and_tls_failures_are_connect_errors_with_the_reason():
    dns = aiohttp.ClientConnectorDNSError(
        connection_key(), OSError(-2, "Name or service not known")
    )
    assert classify_exception(dns) == (
        Failure.CONNECT_ERROR,
        "cannot connect: Name or service not known",
    )
    tls = aiohttp.ClientConnectorCertificateError(
        connection_key(), ssl.SSLCertVerificationError(1, "certificate verify failed")
    )
    assert classify_exception(tls) == (
        Failure.CONNECT_ERROR,
        "cannot connect: certificate verify failed",
    )


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("Response payload is not completed"),
    ],
)
def test_upstream_closing_mid_response_is_server_error(exc):
    assert classify_exception(exc) == (Failure.SERVER_ERROR, "upstream closed the connection")


def test_other_client_and_os_errors_are_connect_errors_with_masked_text():
    failure, message = classify_exception(OSError(f"proxy said no to {SECRET}"))
    assert failure is Failure.CONNECT_ERROR
    assert SECRET not in message
    assert message.startswith("proxy said no to sk-ant-api03-…")


def test_unexpected_exceptions_are_server_errors_naming_the_type_masked():
    failure, message = classify_exception(ValueError(f"bad {SECRET}"))
    assert failure is Failure.SERVER_ERROR
    assert message.startswith("ValueError: bad sk-ant-api03-…")
    assert SECRET not in message


# --- parse_retry_after -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30", 30.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5), ("-5", 0.0)],
)
def test_retry_after_in_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_retry_after_is_capped():
    assert parse_retry_after("999999") == MAX_RETRY_AFTER_S
    assert parse_retry_after("inf") == MAX_RETRY_AFTER_S


def test_retry_after_as_an_http_date_is_seconds_from_now(monkeypatch):
    now = 1_750_000_000.0
    monkeypatch.setattr(classify.time, "time", lambda: now)
    value = email.utils.formatdate(now + 120, usegmt=True)
    assert parse_retry_after(value) == 120.0


def test_retry_after_as_a_past_http_date_is_zero(monkeypatch):
    now = 1_750_000_000.0
    monkeypatch.setattr(classify.time, "time", lambda: now)
    assert parse_retry_after(email.utils.formatdate(now - 600, usegmt=True)) == 0.0


def test_retry_after_as_a_far_http_date_is_capped(monkeypatch):
    now = 1_750_000_000.0
    monkeypatch.setattr(classify.time, "time", lambda: now)
    assert parse_retry_after(email.utils.formatdate(now + 86_400, usegmt=True)) == 3600.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "Mon, 99 Foo 2025 99:99:99 GMT"])
def test_retry_after_that_cannot_be_read_is_none(value):
    assert parse_retry_after(value) is None
