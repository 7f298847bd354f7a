"""Secrets never leave (README "Security" and "How the budgets are kept"): access tokens are kept only as
SHA-256 hashes, shown as 12 characters; logs mask `access_token`, `bridge_token` and `X-Access-Secret`
wherever they appear. Each row plants a secret and asserts it is gone and the rest is kept."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from monitor.truv.secrets import SECRET_KEYS, redact, redact_text, short, token_hash

TOKEN = "tok-8f3a2c19e5d4"
MASK = "[redacted]"

# -- hashing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("tok-8f3a2c19e5d4", id="plain"),
        pytest.param("", id="empty"),
        pytest.param("t\u00f6k\u00e9n", id="unicode"),
        pytest.param("x" * 4096, id="long"),
    ],
)
def test_token_hash_is_the_sha256_hex_of_its_utf8_bytes(token):
    assert token_hash(token) == hashlib.sha256(token.encode("utf-8")).hexdigest()
    assert len(token_hash(token)) == 64


def test_token_hash_is_stable_and_distinct():
    assert token_hash("a") == token_hash("a")
    assert token_hash("a") != token_hash("b")
    assert token_hash("a") != token_hash("a ")


def test_a_hash_does_not_contain_its_token():
    assert TOKEN not in token_hash(TOKEN)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(token_hash(TOKEN), token_hash(TOKEN)[:12], id="a-hash"),
        pytest.param("abc", "abc", id="shorter-than-12"),
        pytest.param("", "", id="empty"),
        pytest.param(None, "", id="none"),
    ],
)
def test_short_shows_twelve_characters(value, expected):
    assert short(value) == expected


def test_short_hashes_of_different_tokens_differ():
    shorts = {short(token_hash(f"tok-{i}")) for i in range(1000)}
    assert len(shorts) == 1000


# -- free text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param('{"access_token": "tok-8f3a2c19e5d4"}', '{"access_token": "', id="json-spaced"),
        pytest.param('{"access_token":"tok-8f3a2c19e5d4"}', '{"access_token":"', id="json-compact"),
        pytest.param("access_token=tok-8f3a2c19e5d4", "access_token=", id="query-style"),
        pytest.param("access_token: tok-8f3a2c19e5d4", "access_token: ", id="header-style"),
        pytest.param('access_token = "tok-8f3a2c19e5d4"', "access_token = ", id="spaced-equals"),
        pytest.param("ACCESS_TOKEN=tok-8f3a2c19e5d4", "ACCESS_TOKEN=", id="upper-case-key"),
        pytest.param('bad access_token "tok-8f3a2c19e5d4"', "bad access_token", id="error-echo"),
        pytest.param("access_token `tok-8f3a2c19e5d4`", "access_token `", id="backticks"),
        pytest.param('access_token\t"tok-8f3a2c19e5d4"', "access_token\t", id="tab"),
        pytest.param("bridge_token=tok-8f3a2c19e5d4", "bridge_token=", id="bridge_token"),
        pytest.param('{"bridge_token": "tok-8f3a2c19e5d4"}', '"bridge_token"', id="bridge_token-json"),
        pytest.param("public_token=tok-8f3a2c19e5d4", "public_token=", id="public_token"),
        pytest.param("X-Access-Secret: tok-8f3a2c19e5d4", "X-Access-Secret: ", id="secret-header"),
        pytest.param("x-access-secret=tok-8f3a2c19e5d4", "x-access-secret=", id="secret-lower"),
        pytest.param('"X-Access-Secret": "tok-8f3a2c19e5d4"', '"X-Access-Secret": "', id="secret-json"),
        pytest.param("access_token:tok-8f3a2c19e5d4,next=1", ",next=1", id="stops-at-comma"),
        pytest.param("access_token=tok-8f3a2c19e5d4}", "}", id="stops-at-brace"),
        pytest.param("access_token=tok-8f3a2c19e5d4 and more", " and more", id="stops-at-space"),
    ],
)
def test_secrets_in_free_text_are_masked(text, kept):
    out = redact_text(text)
    assert TOKEN not in out
    assert MASK in out
    assert kept in out


def test_several_secrets_in_one_text_are_all_masked():
    text = 'access_token=aaa111 then bridge_token: bbb222 and {"public_token":"ccc333"}; X-Access-Secret=ddd444'
    out = redact_text(text)
    for secret in ("aaa111", "bbb222", "ccc333", "ddd444"):
        assert secret not in out
    assert out.count(MASK) == 4


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Refresh limit for the access_token exceeded", id="truvs-refusal-message"),
        pytest.param("order o1 not found", id="plain"),
        pytest.param("token tok-1 was used", id="the-word-token"),
        pytest.param("", id="empty"),
        pytest.param("access_token_hash=9f86d081884c", id="other-key-sharing-a-prefix"),
    ],
)
def test_text_without_a_secret_is_unchanged(text):
    # Truv's per-token refusal names the field, not a value: it must still read as that message.
    assert redact_text(text) == text


def test_a_python_repr_of_a_dict_is_masked_too():
    assert TOKEN not in redact_text(f"{{'access_token': '{TOKEN}'}}")


# -- structured values (what the log redactor receives) ---------------------------------------------------


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_every_secret_key_is_masked_whatever_its_value(key):
    for value in (TOKEN, 12345, {"nested": TOKEN}, [TOKEN], None):
        out = redact({key: value, "order_id": "o1"})
        assert out == {key: MASK, "order_id": "o1"}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("Access_Token", id="mixed-case"),
        pytest.param("ACCESS_TOKEN", id="upper"),
        pytest.param("X-Access-Secret", id="header-name"),
        pytest.param("Authorization", id="authorization"),
        pytest.param("TRUV_SECRET", id="env-name"),
    ],
)
def test_secret_keys_match_case_insensitively(key):
    assert redact({key: TOKEN}) == {key: MASK}


def test_the_documented_secret_names_are_all_covered():
    assert {"access_token", "bridge_token", "x-access-secret"} <= SECRET_KEYS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"order": {"employers": [{"id": "e1", "access_token": TOKEN}]}},
            {"order": {"employers": [{"id": "e1", "access_token": MASK}]}},
            id="nested-in-lists",
        ),
        pytest.param(
            {"headers": {"X-Access-Client-Id": "cid", "X-Access-Secret": TOKEN}},
            {"headers": {"X-Access-Client-Id": "cid", "X-Access-Secret": MASK}},
            id="request-headers",
        ),
        pytest.param(
            {"error": f'bad access_token "{TOKEN}"'},
            {"error": f'bad access_token "{MASK}"'},
            id="text-value",
        ),
        pytest.param([{"bridge_token": TOKEN}, "x"], [{"bridge_token": MASK}, "x"], id="top-level-list"),
        pytest.param((f"access_token={TOKEN}",), [f"access_token={MASK}"], id="tuple-becomes-list"),
        pytest.param({"count": 3, "ok": True, "none": None}, {"count": 3, "ok": True, "none": None}, id="scalars"),
        pytest.param({"token_hash": "9f86d081884c"}, {"token_hash": "9f86d081884c"}, id="hash-is-not-a-secret"),
    ],
)
def test_redact_walks_structures(value, expected):
    assert redact(value) == expected


def test_redact_does_not_change_its_input():
    event: dict[str, Any] = {"access_token": TOKEN, "nested": {"bridge_token": TOKEN}}
    redact(event)
    assert event == {"access_token": TOKEN, "nested": {"bridge_token": TOKEN}}


def test_a_deep_structure_keeps_no_secret():
    event: dict[str, Any] = {"level": 0}
    inner = event
    for depth in range(1, 30):
        inner["child"] = {"level": depth, "access_token": f"{TOKEN}-{depth}", "note": f"access_token={TOKEN}"}
        inner = inner["child"]
    assert TOKEN not in repr(redact(event))
