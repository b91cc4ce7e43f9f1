"""The trust configuration file, and the documented examples a new user will copy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.auth import TrustConfig, TrustedClient, load_trust_config
from cds_hooks.errors import AuthenticationFailed

from .authkit import AUDIENCE, ISSUER, SigningKey, b64url, jwks, make_verifier, sign

DOC = Path(__file__).resolve().parents[3] / "docs" / "authentication.md"


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_documented_yaml_example_loads(tmp_path: Path) -> None:
    (block,) = doc_blocks("yaml")
    path = tmp_path / "trusted-clients.yaml"
    path.write_text(block)
    config = load_trust_config(path)
    issuers = [client.iss for client in config.clients]
    assert issuers == [
        "https://fhir-ehr.example.com/",
        "https://his.huisartsen-eemland.example",
        "https://sandbox.cds-hooks.org",
    ]
    spec_client = config.clients[0]
    assert spec_client.inline_keys is not None and "example-kid" in spec_client.inline_keys
    assert config.clients[1].tenants == ["praktijk-de-linde", "praktijk-het-zand"]


def test_the_documented_json_example_loads(tmp_path: Path) -> None:
    (block,) = doc_blocks("json")
    path = tmp_path / "trusted-clients.json"
    path.write_text(block)
    assert load_trust_config(path).clients[0].jwks_url is not None


def test_yaml_and_json_give_the_same_config(tmp_path: Path, es384_key: SigningKey) -> None:
    data = {"clients": [{"iss": ISSUER, "jwks": jwks(es384_key), "tenants": ["t1"]}]}
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.yml").write_text(json.dumps(data))  # JSON is YAML
    assert load_trust_config(tmp_path / "c.json") == load_trust_config(tmp_path / "c.yml")


@pytest.mark.parametrize(
    ("client", "message"),
    [
        ({"iss": ISSUER}, "has no keys"),
        ({"iss": ""}, "at least 1 character"),
        (
            {"iss": ISSUER, "jwks": {"keys": []}, "jwks_url": "https://x.example/jwks"},
            "not both",
        ),
        ({"iss": ISSUER, "jwks_url": "http://x.example/jwks"}, "https"),
        ({"iss": ISSUER, "jku_allowlist": ["ftp://x.example/jwks"]}, "https"),
        ({"iss": ISSUER, "jwks": {"keys": []}}, "no usable"),
        ({"iss": ISSUER, "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}}, "kty"),
        ({"iss": ISSUER, "jwks_url": "https://x.example/jwks", "tenants": []}, "tenants"),
        ({"iss": ISSUER, "jwks_url": "https://x.example/jwks", "colour": "red"}, "colour"),
    ],
)
def test_invalid_clients_are_refused(tmp_path: Path, client: dict[str, Any], message: str) -> None:
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [client]}))
    with pytest.raises(ValueError, match=message) as caught:
        load_trust_config(path)
    assert str(path) in str(caught.value)


def test_private_keys_are_refused(es384_key: SigningKey) -> None:
    private = jwt.algorithms.ECAlgorithm.to_jwk(es384_key.private, as_dict=True)
    private.update(kid="oops")
    with pytest.raises(ValueError, match="private key material"):
        TrustedClient(iss=ISSUER, jwks={"keys": [private]})


def test_duplicate_issuers_are_refused(es384_key: SigningKey) -> None:
    client = {"iss": ISSUER, "jwks": jwks(es384_key)}
    with pytest.raises(ValueError, match="listed twice"):
        TrustConfig.model_validate({"clients": [client, client]})


def test_duplicate_kids_are_refused(es384_key: SigningKey) -> None:
    with pytest.raises(ValueError, match="twice"):
        TrustedClient(iss=ISSUER, jwks=jwks(es384_key, es384_key))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("clients.toml", "clients = []", "yaml"),
        ("clients.yaml", "clients: [\n", "not valid yaml"),
        ("clients.json", "{", "not valid json"),
        ("missing.yaml", None, "cannot read"),
        ("clients.yaml", "- just\n- a list\n", "invalid"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_trust_config(path)


def test_an_empty_file_is_no_clients(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text("")
    assert load_trust_config(path).clients == []


# ------------------------------------------------------------------------ no input crashes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
header_values = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["ES384", "RS384", "none", "HS256", "", 7]) | json_values,
        "kid": st.sampled_from(["es384-1", "rs384-1", ""]) | json_values,
        "typ": st.sampled_from(["JWT", "jwt", ""]) | json_values,
        "jku": json_values,
        "crit": json_values,
        "b64": json_values,
    },
)
payload_values = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from([ISSUER, ""]) | json_values,
        "aud": st.sampled_from([AUDIENCE, [AUDIENCE]]) | json_values,
        "exp": json_values,
        "iat": json_values,
        "nbf": json_values,
        "jti": json_values,
        "tenant": json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=header_values, payload=payload_values | json_values, signature=st.binary(max_size=96))
@pytest.mark.anyio
async def test_any_token_is_a_verdict_never_a_crash(
    es384_key: SigningKey, header: Any, payload: Any, signature: bytes
) -> None:
    client = TrustedClient(iss=ISSUER, jwks=jwks(es384_key))
    token = ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(payload).encode()),
            b64url(signature),
        ]
    )
    with pytest.raises(AuthenticationFailed):
        await make_verifier(client).verify(token, AUDIENCE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
@pytest.mark.anyio
async def test_any_text_is_a_verdict_never_a_crash(es384_key: SigningKey, text: str) -> None:
    verifier = make_verifier(TrustedClient(iss=ISSUER, jwks=jwks(es384_key)))
    with pytest.raises(AuthenticationFailed):
        await verifier.verify(text, AUDIENCE)
    # And a valid token with its signature replaced by the text.
    head, body, _signature = sign(es384_key).split(".")
    with pytest.raises(AuthenticationFailed):
        await verifier.verify(f"{head}.{body}.{text}", AUDIENCE)
