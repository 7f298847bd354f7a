"""X-WEBHOOK-SIGN (truv-api.md section 4): `v1=` + lowercase hex HMAC-SHA256 of the raw body, keyed with
the access secret, compared in constant time. The same scheme signs monitor's own hand-offs
(X-MONITOR-SIGN). Expected values are computed here from the standard library, not from the module."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from monitor.core.signature import sign, verify

SECRET = "sandbox-0123456789abcdef"
BODY = (
    b'{"webhook_id":"w-1","event_type":"order-refresh-failed","event_created_at":"2026-06-05T11:00:00Z",'
    b'"updated_at":"2026-06-05T11:00:00+00:00","user_id":"u1","order_id":"r1","order_number":"LN-1",'
    b'"employer_id":"e1","link_id":"l1","product":"income","data_source":"payroll","status":"login_error",'
    b'"template_id":null}'
)


def reference(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- signing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        pytest.param(BODY, SECRET, id="doc-payload"),
        pytest.param(b"", SECRET, id="empty-body"),
        pytest.param(b"{}", "prod-secret", id="empty-object"),
        pytest.param('{"name":"Jos\u00e9"}'.encode(), "dev-secret", id="utf8-body"),
        pytest.param(b"\x00\xff\xfe binary", SECRET, id="binary-body"),
        pytest.param(BODY, "s\u00e9cret-\u00fcnicode", id="unicode-secret"),
        pytest.param(b"x" * 262_144, SECRET, id="256-KiB-body"),
    ],
)
def test_sign_is_v1_and_the_hmac_sha256_of_the_raw_body(body, secret):
    assert sign(body, secret) == reference(body, secret)


@pytest.mark.parametrize("body", [BODY, b"", b"{}"])
def test_the_signature_is_v1_and_64_lowercase_hex_digits(body):
    header = sign(body, SECRET)
    prefix, digest = header[:3], header[3:]
    assert prefix == "v1="
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)


def test_a_known_vector():
    # RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?"), in the v1= form.
    assert (
        sign(b"what do ya want for nothing?", "Jefe")
        == "v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_signing_is_deterministic_and_depends_on_body_and_secret():
    assert sign(BODY, SECRET) == sign(BODY, SECRET)
    assert sign(BODY, SECRET) != sign(BODY + b" ", SECRET)
    assert sign(BODY, SECRET) != sign(BODY, SECRET + "x")


# -- verifying -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(reference(BODY, SECRET), id="exact"),
        pytest.param(" " + reference(BODY, SECRET), id="leading-space"),
        pytest.param(reference(BODY, SECRET) + "\r\n", id="trailing-crlf"),
        pytest.param("\t" + reference(BODY, SECRET) + " ", id="tabs-and-spaces"),
    ],
)
def test_a_genuine_signature_verifies(header):
    assert verify(BODY, header, SECRET) is True


def _flip_last_hex(header: str) -> str:
    last = header[-1]
    return header[:-1] + ("0" if last != "0" else "1")


TAMPERED_BODIES = [
    pytest.param(BODY.replace(b"login_error", b"done"), id="status-changed"),
    pytest.param(BODY.replace(b'"order_id":"r1"', b'"order_id":"r2"'), id="order-changed"),
    pytest.param(BODY + b"\n", id="newline-appended"),
    pytest.param(b" " + BODY, id="space-prepended"),
    pytest.param(BODY[:-1], id="truncated"),
    pytest.param(json.dumps(json.loads(BODY)).encode(), id="re-serialised-json"),
    pytest.param(json.dumps(json.loads(BODY), sort_keys=True, separators=(",", ":")).encode(), id="keys-reordered"),
    pytest.param(BODY.replace(b'"product":"income"', b'"product": "income"'), id="whitespace-inside"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", TAMPERED_BODIES)
def test_a_changed_body_fails(body):
    assert verify(body, reference(BODY, SECRET), SECRET) is False


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("prod-0123456789abcdef", id="other-environments-secret"),
        pytest.param(SECRET.upper(), id="case-changed"),
        pytest.param(SECRET + " ", id="trailing-space"),
        pytest.param(SECRET[:-1], id="one-char-short"),
        pytest.param("client-id", id="client-id-instead"),
    ],
)
def test_the_wrong_secret_fails(secret):
    assert verify(BODY, reference(BODY, SECRET), secret) is False


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("v1=", id="prefix-only"),
        pytest.param(reference(BODY, SECRET)[3:], id="digest-without-v1"),
        pytest.param("v2=" + reference(BODY, SECRET)[3:], id="another-version"),
        pytest.param("V1=" + reference(BODY, SECRET)[3:], id="upper-prefix"),
        pytest.param("sha256=" + reference(BODY, SECRET)[3:], id="github-style-prefix"),
        pytest.param(_flip_last_hex(reference(BODY, SECRET)), id="one-digit-changed"),
        pytest.param(reference(BODY, SECRET)[:-1], id="one-digit-short"),
        pytest.param(reference(BODY, SECRET) + "0", id="one-digit-long"),
        pytest.param(reference(BODY, SECRET) + "," + reference(BODY, SECRET), id="repeated"),
        pytest.param("v1=" + hashlib.sha256(BODY).hexdigest(), id="plain-sha256-not-hmac"),
        pytest.param("v1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(), id="hmac-sha1"),
        pytest.param("v1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest().upper(), id="upper-hex"),
        pytest.param(reference(BODY, SECRET).replace("=", " = "), id="spaced-equals"),
        pytest.param("v1=\u00e9" * 10, id="non-ascii"),
    ],
)
def test_a_header_that_is_not_the_signature_fails(header):
    assert verify(BODY, header, SECRET) is False


@pytest.mark.parametrize("secret", [pytest.param("", id="empty"), pytest.param(None, id="none")])
def test_no_secret_verifies_nothing(secret):
    # An unset TRUV_SECRET must not turn into "anything signed with the empty key passes".
    assert verify(BODY, reference(BODY, ""), secret) is False


def test_a_signature_for_one_body_does_not_verify_another():
    other = BODY.replace(b"w-1", b"w-2")
    assert verify(other, sign(BODY, SECRET), SECRET) is False
    assert verify(other, sign(other, SECRET), SECRET) is True


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BODY, id="doc-payload"),
        pytest.param(b"", id="empty"),
        pytest.param('{"a":"\u202e"}'.encode(), id="bidi"),
        pytest.param(bytes(range(256)), id="every-byte"),
    ],
)
@pytest.mark.parametrize("secret", [SECRET, "prod-x", "d\u00e9v"])
def test_sign_then_verify_round_trips(body, secret):
    assert verify(body, sign(body, secret), secret) is True
