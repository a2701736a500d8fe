"""masking.py: secrets show only as a prefix and a four-character tail."""

from __future__ import annotations

import gc
import random
import re
import string
import sys

import pytest

from ccm_tui.masking import mask, mask_headers, mask_text

API_KEY = "sk-ant-api03-" + "R4nd0mKeyMaterial_with-dashes" * 3 + "-AAx7Qd"
OAUTH_TOKEN = "sk-ant-oat01-" + "AccessTokenMaterial" * 4 + "Zz9k"
OPENAI_KEY = "sk-proj-" + "OpenAIKeyMaterial" * 3 + "w8Lm"


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        (API_KEY, "sk-ant-api03-…x7Qd"),
        (OAUTH_TOKEN, "sk-ant-oat01-…Zz9k"),
        (OPENAI_KEY, "sk-…w8Lm"),
        ("0123456789abcdef0123", "…0123"),
    ],
)
def test_mask_keeps_only_the_kind_prefix_and_last_four(secret, masked):
    assert mask(secret) == masked


@pytest.mark.parametrize("secret", ["", None])
def test_mask_of_nothing_is_empty(secret):
    assert mask(secret) == ""


@pytest.mark.parametrize("secret", ["a", "abcd", "abcdefgh"])
def test_short_secrets_reveal_no_characters(secret):
    masked = mask(secret)
    assert masked.startswith("…")
    assert set(masked[1:]) <= {"*"}
    assert not any(c in masked for c in secret)


# What may be shown in front: nothing, `sk-`, `sk-ant-`, or `sk-ant-<kind>-` (api03, oat01, ...).
KIND_PREFIX = re.compile(r"(sk-(ant-([A-Za-z0-9]{2,8}-)?)?)?")


def shapes() -> list[str]:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "_-"
    out = [
        "sk-ant-" + "Q" * 30 + "-" + "W" * 20,  # no kind segment, a dash deep inside
        "sk-ant-" + "Q" * 40,
        "sk-ant-api03-" + "-" * 3 + "Q" * 30,
        "sk-" + "Q" * 9,
        "sk-ant-api03-Q",
        "sk-ant-api03-QQQQQQQQQ",
    ]
    for length in (9, 12, 20, 40, 108):
        for prefix in ("", "sk-", "sk-ant-api03-", "sk-ant-"):
            out.append(prefix + "".join(rng.choice(alphabet) for _ in range(length)))
    return out


@pytest.mark.parametrize("secret", shapes())
def test_mask_never_reveals_more_than_a_kind_prefix_and_the_last_four(secret):
    masked = mask(secret)
    prefix, _, tail = masked.partition("…")
    assert KIND_PREFIX.fullmatch(prefix), prefix
    assert secret.startswith(prefix)
    assert len(tail) <= 4
    assert secret.endswith(tail)
    # the masked part of the secret is at least as long as what is shown
    assert len(secret) - len(prefix) - len(tail) >= 4


def test_mask_text_masks_keys_and_tokens_in_free_text():
    text = (
        f"refused {API_KEY}; retried with Bearer {OAUTH_TOKEN} and {OPENAI_KEY}; "
        "then Bearer abcdefghijklmnopqrstuvwx; done"
    )
    masked = mask_text(text)
    assert masked == (
        "refused sk-ant-api03-…x7Qd; retried with Bearer sk-ant-oat01-…Zz9k and sk-…w8Lm; "
        "then Bearer …uvwx; done"
    )


def test_mask_text_leaves_ordinary_text_alone():
    text = "model claude-sonnet-4-5-20250929 is overloaded (request req_011CSHoEeqs5C35K2UUqR7Fy)"
    assert mask_text(text) == text


SECRET_HEADERS = [
    ("x-api-key", API_KEY, "sk-ant-api03-…x7Qd"),
    ("X-Api-Key", API_KEY, "sk-ant-api03-…x7Qd"),
    ("authorization", f"Bearer {OAUTH_TOKEN}", "Bearer sk-ant-oat01-…Zz9k"),
    ("Authorization", "Basic dXNlcjpwYXNzd29yZHBhc3N3b3Jk", "Basic …b3Jk"),
    ("proxy-authorization", "Bearer tokentokentoken42", "Bearer …en42"),
    ("x-ccm-key", "proxy-key-0123456789", "…6789"),
    ("cookie", "sessionKey=sk-ant-sid01-abcdefghijklmnop; lastActiveOrg=xyz9", "…xyz9"),
    ("set-cookie", "session=abcdefghijklmnopqrstu; Path=/; HttpOnly", "…Only"),
]


@pytest.mark.parametrize(("name", "value", "masked"), SECRET_HEADERS)
def test_mask_headers_masks_credential_headers(name, value, masked):
    assert mask_headers({name: value}) == ((name, masked),)


def test_mask_headers_keeps_the_authorization_scheme():
    ((_, value),) = mask_headers([("authorization", f"Bearer {API_KEY}")])
    scheme, _, credential = value.partition(" ")
    assert scheme == "Bearer"
    assert credential == "sk-ant-api03-…x7Qd"


def test_mask_headers_masks_authorization_without_a_scheme_whole():
    assert mask_headers([("authorization", API_KEY)]) == (("authorization", "sk-ant-api03-…x7Qd"),)


def test_mask_headers_passes_other_headers_and_keeps_order_and_repeats():
    headers = [
        ("anthropic-version", "2023-06-01"),
        ("cookie", "a=bcdefghijklmnop"),
        ("user-agent", "claude-cli/2.1.197 (external, sdk-cli)"),
        ("cookie", "c=defghijklmnopqr"),
        ("x-note", f"forwarded {API_KEY}"),
    ]
    assert mask_headers(headers) == (
        ("anthropic-version", "2023-06-01"),
        ("cookie", "…mnop"),
        ("user-agent", "claude-cli/2.1.197 (external, sdk-cli)"),
        ("cookie", "…opqr"),
        ("x-note", "forwarded sk-ant-api03-…x7Qd"),
    )


def test_no_masked_header_contains_the_secret():
    for name, value, _ in SECRET_HEADERS:
        ((_, masked),) = mask_headers({name: value})
        secret = value.split(" ", 1)[-1] if name.endswith("authorization") else value
        assert secret not in masked


def test_mask_headers_keeps_no_reference_to_the_raw_secret():
    # A cache keyed on the raw headers would hold every secret (and never hit, as
    # Content-Length differs per request).
    secret = "".join(["sk-ant-api03-", "Kept" * 10, "-AAx7Qd"])  # its own object
    before = sys.getrefcount(secret)
    for length in ("12", "34"):
        mask_headers([("x-api-key", secret), ("content-length", length)])
    gc.collect()
    assert sys.getrefcount(secret) == before
