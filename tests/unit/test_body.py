"""body.py: only the top-level `model` value changes; every other byte stays as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccm_tui.proxy.body import BodyError, parse_body, with_model

NEW = "claude-sonnet-4-5-20250929"


def splice_expected(raw: bytes, old_value: bytes, new_value: bytes) -> bytes:
    """`raw` with the one occurrence of `"model": <old>` at the top level rewritten."""
    assert raw.count(old_value) >= 1
    index = raw.index(old_value)
    return raw[:index] + new_value + raw[index + len(old_value) :]


def rewrite(raw: bytes, model: str = NEW) -> bytes:
    return with_model(raw, parse_body(raw), model)


# --- the real Claude Code body ------------------------------------------------------------


@pytest.mark.parametrize(
    "dump",
    [
        pytest.param(lambda b: json.dumps(b), id="default"),
        pytest.param(lambda b: json.dumps(b, indent=2), id="indent"),
        pytest.param(lambda b: json.dumps(b, ensure_ascii=False), id="utf8"),
        pytest.param(lambda b: json.dumps(b, indent=1, ensure_ascii=False), id="indent-utf8"),
        pytest.param(lambda b: json.dumps(b, separators=(",", ":")), id="compact"),
    ],
)
def test_fixture_body_keeps_every_byte_except_the_model_value(claude_code_body, dump):
    claude_code_body["ccm_future_field"] = {"kind": "unknown", "values": [1, 2.5, None, "é"]}
    raw = dump(claude_code_body).encode()

    out = rewrite(raw)

    expected = dump({**claude_code_body, "model": NEW}).encode()
    assert out == expected
    assert len(out) - len(raw) == len(NEW) - len("claude-sonnet-4-5")


def test_unchanged_model_returns_the_same_bytes(claude_code_body):
    raw = json.dumps(claude_code_body).encode()
    assert with_model(raw, parse_body(raw), "claude-sonnet-4-5") is raw


def test_new_model_name_is_written_as_a_json_string():
    raw = b'{"model": "a", "x": 1}'
    out = rewrite(raw, 'we"ird\\name')
    assert json.loads(out) == {"model": 'we"ird\\name', "x": 1}
    assert out.endswith(b', "x": 1}')


# --- nested "model" keys ----------------------------------------------------------------------


def tool_use_history(model_in_input: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "spawn a helper"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "Agent",
                    "input": {"model": model_in_input, "prompt": "look around"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "done"}],
        },
    ]


TOOLS_WITH_MODEL_PROPERTY = [
    {
        "name": "Agent",
        "input_schema": {
            "type": "object",
            "properties": {"model": {"type": "string", "enum": ["sonnet", "opus"]}},
        },
    }
]


def test_model_first_with_nested_model_keys_of_the_same_value_rewrites_only_the_first():
    body = {
        "model": "claude-sonnet-4-5",
        "messages": tool_use_history("claude-sonnet-4-5"),
        "tools": TOOLS_WITH_MODEL_PROPERTY,
    }
    raw = json.dumps(body).encode()

    out = rewrite(raw)

    assert out == json.dumps({**body, "model": NEW}).encode()


def test_model_not_first_with_only_differing_nested_models_is_spliced_in_place():
    body = {
        "messages": tool_use_history("opus"),
        "tools": TOOLS_WITH_MODEL_PROPERTY,
        "model": "claude-sonnet-4-5",
        "stream": True,
    }
    raw = json.dumps(body, indent=2).encode()

    out = rewrite(raw)

    assert out == json.dumps({**body, "model": NEW}, indent=2).encode()


def test_model_not_first_with_an_equal_nested_model_falls_back_to_json_equal_output():
    body = {
        "messages": tool_use_history("claude-sonnet-4-5"),
        "model": "claude-sonnet-4-5",
        "metadata": {"user_id": "u"},
    }
    raw = json.dumps(body, indent=2).encode()

    out = rewrite(raw)

    assert json.loads(out) == {**body, "model": NEW}
    assert json.loads(out)["messages"][1]["content"][0]["input"]["model"] == "claude-sonnet-4-5"


def test_model_key_text_inside_strings_is_not_taken_for_the_field():
    body = {
        "messages": [
            {"role": "user", "content": 'set {"model": "claude-sonnet-4-5"} and \\"model\\"'}
        ],
        # A key ending in `"model`: its encoding `"x\"model"` holds a literal `"model"`
        # preceded by an escaping backslash, followed by a colon and an equal value.
        'x"model': "claude-sonnet-4-5",
        "model": "claude-sonnet-4-5",
    }
    raw = json.dumps(body).encode()
    assert b'\\"model": "claude-sonnet-4-5"' in raw

    out = rewrite(raw)

    assert out == json.dumps({**body, "model": NEW}).encode()


def test_model_value_in_a_string_after_an_escaped_backslash_is_handled():
    # `\\` then a real closing quote: the "model" after it is a genuine key.
    raw = b'{"path": "C:\\\\", "model": "claude-sonnet-4-5", "n": 1}'
    out = rewrite(raw)
    assert out == b'{"path": "C:\\\\", "model": "' + NEW.encode() + b'", "n": 1}'


def test_escaped_spelling_of_the_top_level_key_never_rewrites_a_nested_model():
    # `"\u006dodel"` is the key "model"; the only literal `"model"` is nested.
    raw = (
        b'{"\\u006dodel": "claude-sonnet-4-5", "messages": [{"role": "assistant", "content":'
        b' [{"type": "tool_use", "id": "t", "name": "Agent",'
        b' "input": {"model": "claude-sonnet-4-5"}}]}]}'
    )
    out = json.loads(rewrite(raw))
    assert out["model"] == NEW
    assert out["messages"][0]["content"][0]["input"]["model"] == "claude-sonnet-4-5"


def test_escaped_characters_in_the_old_model_value_are_recognised():
    raw = b'{"model": "claude\\u002dsonnet-4-5", "x": "\\u00e9"}'
    out = rewrite(raw)
    assert out == b'{"model": "' + NEW.encode() + b'", "x": "\\u00e9"}'


def test_whitespace_around_the_colon_is_kept():
    raw = b'{\n  "model"\t :   "claude-sonnet-4-5" ,\n  "max_tokens" : 10\n}'
    out = rewrite(raw)
    assert out == b'{\n  "model"\t :   "' + NEW.encode() + b'" ,\n  "max_tokens" : 10\n}'


# --- numbers ------------------------------------------------------------------------------


BIG = 123456789012345678901234567890  # beyond 64 bits


def test_integers_beyond_64_bits_keep_their_digits_when_spliced():
    raw = (
        b'{"model": "claude-sonnet-4-5", "metadata": {"n": ' + str(BIG).encode() + b"},"
        b' "max_tokens": 18446744073709551615, "t": 1.0e2}'
    )
    out = rewrite(raw)
    assert out == splice_expected(raw, b'"claude-sonnet-4-5"', json.dumps(NEW).encode())


def test_integers_beyond_64_bits_survive_the_reserialising_fallback():
    # model not first and an equal nested model: no unambiguous splice, so the body is
    # written again, and must still be the same JSON (stdlib json reads big ints exactly).
    body = {
        "messages": tool_use_history("claude-sonnet-4-5"),
        "metadata": {"big": BIG, "negative": -BIG, "u64": 2**64 - 1},
        "model": "claude-sonnet-4-5",
    }
    raw = json.dumps(body).encode()

    out = rewrite(raw)

    assert json.loads(out) == {**body, "model": NEW}


def test_fallback_output_is_json_equal_for_unicode_and_floats():
    body = {
        "messages": tool_use_history("claude-sonnet-4-5"),
        "model": "claude-sonnet-4-5",
        "temperature": 0.1,
        "note": "naïve – 日本語 \U0001f600",
    }
    raw = json.dumps(body).encode()
    assert json.loads(rewrite(raw)) == {**body, "model": NEW}


def test_body_without_a_model_gets_one():
    raw = b'{"messages": []}'
    body = parse_body(raw)
    assert json.loads(with_model(raw, body, NEW)) == {"messages": [], "model": NEW}


def test_non_string_model_is_replaced():
    raw = b'{"model": 5, "messages": []}'
    assert json.loads(rewrite(raw)) == {"model": NEW, "messages": []}


# --- parse_body ---------------------------------------------------------------------------


def test_parse_body_returns_the_object(claude_code_body):
    raw = json.dumps(claude_code_body).encode()
    assert parse_body(raw) == claude_code_body


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'{"model": "a"', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'["model"]', "must be a JSON object"),
        (b'"model"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
    ],
)
def test_parse_body_refuses_what_is_not_a_json_object(raw, message):
    with pytest.raises(BodyError, match=message):
        parse_body(raw)


def test_body_error_is_a_value_error():
    assert issubclass(BodyError, ValueError)
