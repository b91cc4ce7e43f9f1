"""JWT test vectors against `JwtVerifier` directly (issue 3, part 4).

The spec's own example token, then tokens signed with keys generated for the test: one valid
case per algorithm, and one refusal for each way a token can be wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from structlog.testing import capture_logs

from cds_hooks.auth import (
    InMemoryReplayStore,
    JwtVerifier,
    KeyResolver,
    TrustConfig,
    TrustedClient,
    VerifiedClient,
)
from cds_hooks.errors import AuthenticationFailed

from .authkit import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    b64url,
    claims,
    jwks,
    make_verifier,
    no_network,
    raw_sign,
    sign,
    unsigned_parts,
)

pytestmark = pytest.mark.anyio

# CDS Hooks 2.0, "Security and Safety" > "Trusting CDS Clients" > "Example": the public JWK
# Set and the complete token exactly as published (ES384, kid "example-kid", expired 2015).
SPEC_JWKS: dict[str, Any] = {
    "keys": [
        {
            "kty": "EC",
            "use": "sig",
            "crv": "P-384",
            "kid": "example-kid",
            "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
            "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
            "alg": "ES384",
        }
    ]
}
SPEC_TOKEN = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9m"
    "aGlyLWVoci5leGFtcGxlLmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUu"
    "Y29tLyIsImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2Ui"
    "LCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJh"
    "NWItOGVlYzZhMzNhYzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEy"
    "In0.d1WfLjGRKlcWB94l9do4cM8REXeYJLL6SGUBO8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7o"
    "PFm2ETYgCicS84vXWEIYTdjooZdooCSDf2L8-i4awdoUwiEb"
)
SPEC_ISSUER = "https://fhir-ehr.example.com/"
SPEC_JKU = "https://fhir-ehr.example.com/jwk_uri"
SPEC_AUDIENCE = "https://cds.example.org/cds-services/some-service"


def spec_client() -> TrustedClient:
    return TrustedClient(iss=SPEC_ISSUER, jwks=SPEC_JWKS, jku_allowlist=[SPEC_JKU])


async def rejected(verifier: JwtVerifier, token: str, audience: str = AUDIENCE) -> str:
    """Assert the token is refused; return the logged reason."""
    with pytest.raises(AuthenticationFailed) as caught:
        await verifier.verify(token, audience)
    return caught.value.message


# --------------------------------------------------------------------------- spec example


def test_spec_example_signature_is_valid() -> None:
    key = jwt.PyJWKSet.from_dict(SPEC_JWKS)["example-kid"]
    payload = jwt.decode(
        SPEC_TOKEN,
        key,
        algorithms=["ES384"],
        audience=SPEC_AUDIENCE,
        options={"verify_exp": False},
    )
    assert payload["jti"] == "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e"
    assert payload["tenant"] == "2ddd6c3a-8e9a-44c6-a305-52111ad302a2"


async def test_spec_example_token_is_refused_as_expired() -> None:
    verifier = make_verifier(spec_client())
    reason = await rejected(verifier, SPEC_TOKEN, SPEC_AUDIENCE)
    assert "ExpiredSignatureError" in reason


async def test_spec_example_token_passes_every_other_check() -> None:
    # With a leeway that covers the token's age, only expiry stood in the way.
    leeway = time.time() - 1422568860 + 3600
    verifier = JwtVerifier(
        TrustConfig(clients=[spec_client()]),
        InMemoryReplayStore(),
        KeyResolver(no_network()),
        leeway=leeway,
    )
    client = await verifier.verify(SPEC_TOKEN, SPEC_AUDIENCE)
    assert client == VerifiedClient(
        iss=SPEC_ISSUER,
        tenant="2ddd6c3a-8e9a-44c6-a305-52111ad302a2",
        jti="ee22b021-e1b7-4611-ba5b-8eec6a33ac1e",
        kid="example-kid",
    )


async def test_spec_example_token_for_another_endpoint_is_refused() -> None:
    verifier = make_verifier(spec_client())
    reason = await rejected(verifier, SPEC_TOKEN, "https://cds.example.org/cds-services")
    # The expiry or the audience: either way, refused.
    assert "Expired" in reason or "aud" in reason


# ------------------------------------------------------------------------------ accepted


async def test_valid_es384_token(inline_client: TrustedClient, es384_key: SigningKey) -> None:
    token = sign(es384_key, claims(jti="jti-es384", tenant="praktijk-1"))
    client = await make_verifier(inline_client).verify(token, AUDIENCE)
    assert client == VerifiedClient(iss=ISSUER, tenant="praktijk-1", jti="jti-es384", kid="es384-1")


async def test_valid_rs384_token_with_a_jwk_that_declares_no_alg(
    inline_client: TrustedClient, rs384_key: SigningKey
) -> None:
    client = await make_verifier(inline_client).verify(sign(rs384_key), AUDIENCE)
    assert client.kid == "rs384-1"


async def test_aud_as_array_containing_the_endpoint(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    token = sign(es384_key, claims(aud=[AUDIENCE]))
    assert (await make_verifier(inline_client).verify(token, AUDIENCE)).iss == ISSUER


async def test_extra_claims_sub_and_nbf_are_tolerated(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    # Epic sends `sub` and an `nbf` about five minutes before `iat`.
    now = int(time.time())
    token = sign(es384_key, claims(sub="client-id", nbf=now - 300))
    assert (await make_verifier(inline_client).verify(token, AUDIENCE)).iss == ISSUER


async def test_clock_skew_within_60_seconds_is_accepted(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    now = int(time.time())
    verifier = make_verifier(inline_client)
    await verifier.verify(sign(es384_key, claims(iat=now + 30)), AUDIENCE)
    await verifier.verify(sign(es384_key, claims(iat=now - 330, exp=now - 30)), AUDIENCE)


async def test_es256_only_when_enabled(es256_key: SigningKey) -> None:
    client = TrustedClient(iss=ISSUER, jwks=jwks(es256_key))
    token = sign(es256_key)
    assert "alg" in await rejected(make_verifier(client), token)
    enabled = make_verifier(client, algorithms=("ES384", "RS384", "ES256"))
    assert (await enabled.verify(token, AUDIENCE)).kid == "es256-1"


# ------------------------------------------------------------------------------ refused


async def test_alg_none_is_refused(inline_client: TrustedClient) -> None:
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "JWT", "kid": "es384-1"}
        token = unsigned_parts(header, claims()) + "."
        assert "alg" in await rejected(make_verifier(inline_client), token)


async def test_hs256_signed_with_the_public_key_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey, rs384_key: SigningKey
) -> None:
    # The classic key-confusion attack: HMAC keyed with the (public) verification key.
    for key in (es384_key, rs384_key):
        pem = key.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for alg, digest in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384)):
            signing_input = unsigned_parts({"alg": alg, "typ": "JWT", "kid": key.kid}, claims())
            mac = hmac.new(pem, signing_input.encode(), digest).digest()
            token = signing_input + "." + b64url(mac)
            assert "alg" in await rejected(make_verifier(inline_client), token)


def test_hmac_and_none_can_never_be_enabled() -> None:
    for algorithms in (["HS256"], ["ES384", "HS384"], ["none"], ["EdDSA"], []):
        with pytest.raises(ValueError):
            make_verifier(algorithms=tuple(algorithms))


@pytest.mark.parametrize(
    "audience",
    [
        AUDIENCE + "/",  # trailing slash
        AUDIENCE.replace("https://", "http://"),
        "https://cds.example.test/cds-services",  # discovery, not this service
        AUDIENCE + "/feedback",
        "https://evil.example.test/cds-services/opioid-order-sign",
        AUDIENCE.upper(),
    ],
)
async def test_wrong_aud_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey, audience: str
) -> None:
    token = sign(es384_key, claims(aud=audience))
    assert "aud" in await rejected(make_verifier(inline_client), token)


async def test_endpoint_with_trailing_slash_is_not_the_token_aud(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    token = sign(es384_key, claims())
    assert "aud" in await rejected(make_verifier(inline_client), token, AUDIENCE + "/")


async def test_aud_array_without_the_endpoint_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    token = sign(es384_key, claims(aud=["https://cds.example.test/cds-services"]))
    assert "aud" in await rejected(make_verifier(inline_client), token)


async def test_expired_token_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    now = int(time.time())
    token = sign(es384_key, claims(iat=now - 600, exp=now - 61))
    assert "Expired" in await rejected(make_verifier(inline_client), token)


@pytest.mark.parametrize("exp", [10**20, 253402300800, "99999999999999999999"])
async def test_an_exp_beyond_any_date_is_a_refusal_not_a_crash(
    inline_client: TrustedClient, es384_key: SigningKey, exp: object
) -> None:
    token = sign(es384_key, claims(exp=exp))
    assert "exp" in await rejected(make_verifier(inline_client), token)


async def test_iat_in_the_future_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    now = int(time.time())
    token = sign(es384_key, claims(iat=now + 120, exp=now + 420))
    reason = await rejected(make_verifier(inline_client), token)
    assert "iat" in reason or "Immature" in reason


async def test_replayed_jti_is_refused(inline_client: TrustedClient, es384_key: SigningKey) -> None:
    verifier = make_verifier(inline_client)
    token = sign(es384_key, claims(jti="once-only"))
    await verifier.verify(token, AUDIENCE)
    assert "replay" in await rejected(verifier, token)
    # A fresh token reusing the jti is a replay too.
    assert "replay" in await rejected(verifier, sign(es384_key, claims(jti="once-only")))


async def test_a_forged_token_cannot_burn_a_jti(
    inline_client: TrustedClient, es384_key: SigningKey, attacker_key: SigningKey
) -> None:
    verifier = make_verifier(inline_client)
    forged = sign(attacker_key, claims(jti="victim-jti"))  # same kid, wrong key
    assert "InvalidSignatureError" in await rejected(verifier, forged)
    await verifier.verify(sign(es384_key, claims(jti="victim-jti")), AUDIENCE)


async def test_same_jti_from_two_issuers_is_not_a_replay(
    es384_key: SigningKey, es384_key_2: SigningKey
) -> None:
    other = "https://second-ehr.example.test"
    verifier = make_verifier(
        TrustedClient(iss=ISSUER, jwks=jwks(es384_key)),
        TrustedClient(iss=other, jwks=jwks(es384_key_2)),
    )
    await verifier.verify(sign(es384_key, claims(jti="shared")), AUDIENCE)
    await verifier.verify(sign(es384_key_2, claims(jti="shared", iss=other)), AUDIENCE)


async def test_unknown_kid_is_refused(inline_client: TrustedClient, es384_key: SigningKey) -> None:
    token = sign(es384_key, kid="no-such-kid")
    assert "kid" in await rejected(make_verifier(inline_client), token)


async def test_jku_not_allowlisted_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    token = sign(es384_key, jku="https://attacker.example.test/jwks.json")
    assert "jku" in await rejected(make_verifier(inline_client), token)


async def test_unknown_iss_is_refused(inline_client: TrustedClient, es384_key: SigningKey) -> None:
    for iss in ("https://unknown.example.test", ISSUER + "/", ISSUER.upper()):
        token = sign(es384_key, claims(iss=iss))
        assert "iss" in await rejected(make_verifier(inline_client), token)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"kid": None}, "kid"),
        ({"kid": ""}, "kid"),
        ({"typ": None}, "typ"),
        ({"typ": "at+jwt"}, "typ"),
        ({"crit": ["exp"]}, ""),  # PyJWT itself refuses unknown critical extensions
    ],
)
async def test_bad_headers_are_refused(
    inline_client: TrustedClient, es384_key: SigningKey, header: dict[str, Any], reason: str
) -> None:
    try:
        token = sign(es384_key, **header)
    except jwt.PyJWTError:  # PyJWT will not even produce some of these
        token = (
            unsigned_parts(
                {"alg": "ES384", "typ": "JWT", "kid": "es384-1", **header},
                claims(),
            )
            + ".c2ln"
        )
    assert reason in await rejected(make_verifier(inline_client), token)


@pytest.mark.parametrize("missing", ["iss", "aud", "exp", "iat", "jti"])
async def test_required_claims(
    inline_client: TrustedClient, es384_key: SigningKey, missing: str
) -> None:
    token = sign(es384_key, claims(**{missing: None}))
    await rejected(make_verifier(inline_client), token)


async def test_alg_must_match_the_key(
    inline_client: TrustedClient, es384_key: SigningKey, rs384_key: SigningKey
) -> None:
    verifier = make_verifier(inline_client)
    # RS384 header naming the EC key (signed with the RSA key).
    header = {"alg": "RS384", "typ": "JWT", "kid": es384_key.kid}
    assert await rejected(verifier, raw_sign(rs384_key.private, "RS384", header, claims()))
    # ES384 header naming the RSA key (signed with the EC key).
    header = {"alg": "ES384", "typ": "JWT", "kid": rs384_key.kid}
    assert await rejected(verifier, raw_sign(es384_key.private, "ES384", header, claims()))


async def test_p256_key_cannot_sign_es384(es256_key: SigningKey) -> None:
    undeclared = SigningKey("p256", "ES384", es256_key.private, declare_alg=False)
    client = TrustedClient(iss=ISSUER, jwks=jwks(undeclared))
    header = {"alg": "ES384", "typ": "JWT", "kid": "p256"}
    token = raw_sign(es256_key.private, "ES384", header, claims())
    assert "curve" in await rejected(make_verifier(client), token)


async def test_the_jwk_alg_binds_the_key(es384_key: SigningKey) -> None:
    # A JWK published for ES512 use only must not verify an ES384 token.
    bound = dict(es384_key.jwk(), alg="ES512")
    client = TrustedClient(iss=ISSUER, jwks={"keys": [bound]})
    verifier = make_verifier(client, algorithms=("ES384", "ES512"))
    assert "alg of the key" in await rejected(verifier, sign(es384_key))


async def test_tampered_payload_is_refused(
    inline_client: TrustedClient, es384_key: SigningKey
) -> None:
    header, _payload, signature = sign(es384_key).split(".")
    forged = header + "." + b64url(json.dumps(claims(iss=ISSUER)).encode()) + "." + signature
    assert "Signature" in await rejected(make_verifier(inline_client), forged)


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "a.b.c", "e30.e30.", "x" * 20000, "eyJhbGciOiJFUzM4NCJ9.bm90IGpzb24.c2ln"],
)
async def test_garbage_is_refused(inline_client: TrustedClient, token: str) -> None:
    await rejected(make_verifier(inline_client), token)


async def test_tenant_allowlist(es384_key: SigningKey) -> None:
    client = TrustedClient(iss=ISSUER, jwks=jwks(es384_key), tenants=["praktijk-1", "praktijk-2"])
    verifier = make_verifier(client)
    assert (await verifier.verify(sign(es384_key, claims(tenant="praktijk-2")), AUDIENCE)).tenant
    assert "tenant" in await rejected(verifier, sign(es384_key, claims(tenant="praktijk-9")))
    assert "tenant" in await rejected(verifier, sign(es384_key, claims()))
    assert "tenant" in await rejected(verifier, sign(es384_key, claims(tenant=["praktijk-1"])))


async def test_rejections_are_logged_without_the_token(
    inline_client: TrustedClient, es384_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = make_verifier(inline_client)
    token = sign(es384_key, claims(aud="https://elsewhere.example.test/x", jti="logged-jti"))
    with capture_logs() as logs:
        await rejected(verifier, token)
    assert logs, "a rejection must be logged"
    entry = logs[-1]
    assert entry["log_level"] == "warning"
    assert entry["reason"] == "aud is not the URL called"
    assert entry["iss"] == ISSUER
    assert entry["kid"] == "es384-1"
    assert entry["jti"] == "logged-jti"
    rendered = repr(logs) + caplog.text
    for part in token.split("."):
        assert part not in rendered
