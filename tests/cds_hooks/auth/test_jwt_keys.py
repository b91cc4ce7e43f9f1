"""Key resolution over real HTTP: jwks_url, allowlisted jku, caching, rotation, failures.

The JWK Sets are served by a real HTTP server on 127.0.0.1 (see conftest.py) and fetched
with a real `httpx.AsyncClient`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from cds_hooks.auth import KeyResolver, TrustedClient
from cds_hooks.errors import AuthenticationFailed

from .authkit import (
    AUDIENCE,
    ISSUER,
    FakeClock,
    JwksServer,
    SigningKey,
    claims,
    jwks,
    make_verifier,
    sign,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def resolver(http: httpx.AsyncClient, clock: FakeClock, **options: float) -> KeyResolver:
    return KeyResolver(http, clock=clock, **options)


async def test_jwks_url_is_fetched_and_cached(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(client, resolver=resolver(http, clock, cache_seconds=300))
    for _ in range(5):
        await verifier.verify(sign(es384_key), AUDIENCE)
    assert jwks_server.hits["/jwks.json"] == 1
    clock.now += 301  # the TTL has passed: fetched again
    await verifier.verify(sign(es384_key), AUDIENCE)
    assert jwks_server.hits["/jwks.json"] == 2


async def test_key_rotation_is_picked_up_by_one_refetch_on_unknown_kid(
    jwks_server: JwksServer,
    http: httpx.AsyncClient,
    clock: FakeClock,
    es384_key: SigningKey,
    es384_key_2: SigningKey,
) -> None:
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(
        client, resolver=resolver(http, clock, cache_seconds=300, refetch_cooldown_seconds=10)
    )
    await verifier.verify(sign(es384_key), AUDIENCE)
    clock.now += 11
    jwks_server.documents["/jwks.json"] = jwks(es384_key, es384_key_2)  # the client rotates
    await verifier.verify(sign(es384_key_2), AUDIENCE)
    assert jwks_server.hits["/jwks.json"] == 2


async def test_unknown_kid_refetches_once_then_is_refused(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(
        client, resolver=resolver(http, clock, cache_seconds=300, refetch_cooldown_seconds=10)
    )
    await verifier.verify(sign(es384_key), AUDIENCE)
    clock.now += 11
    with pytest.raises(AuthenticationFailed, match="kid"):
        await verifier.verify(sign(es384_key, kid="made-up-1"), AUDIENCE)
    assert jwks_server.hits["/jwks.json"] == 2  # one refetch
    # Within the cooldown, more made-up kids do not reach the client's server.
    for number in range(2, 10):
        with pytest.raises(AuthenticationFailed, match="kid"):
            await verifier.verify(sign(es384_key, kid=f"made-up-{number}"), AUDIENCE)
    assert jwks_server.hits["/jwks.json"] == 2


async def test_allowlisted_jku_is_used(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    jku = jwks_server.url("/ehr/.well-known/jwks.json")
    jwks_server.documents["/ehr/.well-known/jwks.json"] = jwks(es384_key)
    client = TrustedClient(iss=ISSUER, jku_allowlist=[jku])
    verifier = make_verifier(client, resolver=resolver(http, clock))
    assert (await verifier.verify(sign(es384_key, jku=jku), AUDIENCE)).kid == es384_key.kid
    assert jwks_server.hits["/ehr/.well-known/jwks.json"] == 1


async def test_jku_not_allowlisted_is_never_fetched(
    jwks_server: JwksServer,
    http: httpx.AsyncClient,
    clock: FakeClock,
    es384_key: SigningKey,
    attacker_key: SigningKey,
) -> None:
    jwks_server.documents["/ehr/jwks.json"] = jwks(es384_key)
    jwks_server.documents["/attacker/jwks.json"] = jwks(attacker_key)
    client = TrustedClient(iss=ISSUER, jku_allowlist=[jwks_server.url("/ehr/jwks.json")])
    verifier = make_verifier(client, resolver=resolver(http, clock))
    for jku in (
        jwks_server.url("/attacker/jwks.json"),
        jwks_server.url("/ehr/jwks.json/../../attacker/jwks.json"),
        jwks_server.url("/ehr/jwks.json?x=1"),
        jwks_server.url("/ehr/"),
    ):
        with pytest.raises(AuthenticationFailed, match="jku"):
            await verifier.verify(sign(attacker_key, jku=jku), AUDIENCE)
    assert jwks_server.hits["/attacker/jwks.json"] == 0
    assert sum(jwks_server.hits.values()) == 0


async def test_token_without_jku_for_a_jku_only_client_is_refused(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    client = TrustedClient(iss=ISSUER, jku_allowlist=[jwks_server.url("/jwks.json")])
    verifier = make_verifier(client, resolver=resolver(http, clock))
    with pytest.raises(AuthenticationFailed, match="no jku"):
        await verifier.verify(sign(es384_key), AUDIENCE)


async def test_jku_equal_to_jwks_url_is_allowed(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    url = jwks_server.url("/jwks.json")
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    verifier = make_verifier(
        TrustedClient(iss=ISSUER, jwks_url=url), resolver=resolver(http, clock)
    )
    await verifier.verify(sign(es384_key, jku=url), AUDIENCE)


async def test_inline_keys_win_over_an_allowlisted_jku(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    # The sandbox always sends its public jku; with its keys inline nothing is fetched.
    jku = jwks_server.url("/sandbox/jwks.json")
    client = TrustedClient(iss=ISSUER, jwks=jwks(es384_key), jku_allowlist=[jku])
    verifier = make_verifier(client, resolver=resolver(http, clock))
    await verifier.verify(sign(es384_key, jku=jku), AUDIENCE)
    assert jwks_server.hits["/sandbox/jwks.json"] == 0


async def test_a_kid_that_is_not_pinned_is_refused_without_fetching_the_jku(
    jwks_server: JwksServer,
    http: httpx.AsyncClient,
    clock: FakeClock,
    es384_key: SigningKey,
    es384_key_2: SigningKey,
) -> None:
    # Pinned keys are the whole key set of the client: an allowlisted jku only names it.
    jku = jwks_server.url("/sandbox/jwks.json")
    jwks_server.documents["/sandbox/jwks.json"] = jwks(es384_key, es384_key_2)
    client = TrustedClient(iss=ISSUER, jwks=jwks(es384_key), jku_allowlist=[jku])
    verifier = make_verifier(client, resolver=resolver(http, clock))
    with pytest.raises(AuthenticationFailed, match="unknown kid"):
        await verifier.verify(sign(es384_key_2, jku=jku), AUDIENCE)
    with pytest.raises(AuthenticationFailed, match="jku is not on the allowlist"):
        await verifier.verify(sign(es384_key, jku=jku + "?"), AUDIENCE)
    assert jwks_server.hits["/sandbox/jwks.json"] == 0


@pytest.mark.parametrize(
    "document",
    [
        None,
        {"keys": []},
        {"not": "a jwks"},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]},
    ],
)
async def test_unusable_jwks_is_refused(
    jwks_server: JwksServer,
    http: httpx.AsyncClient,
    clock: FakeClock,
    es384_key: SigningKey,
    document: object,
) -> None:
    if document is not None:
        jwks_server.documents["/jwks.json"] = document
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(client, resolver=resolver(http, clock))
    with pytest.raises(AuthenticationFailed, match="JWK Set"):
        await verifier.verify(sign(es384_key), AUDIENCE)


async def test_a_failed_refresh_keeps_the_last_good_keys(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(
        client, resolver=resolver(http, clock, cache_seconds=300, max_stale_seconds=600)
    )
    await verifier.verify(sign(es384_key), AUDIENCE)
    jwks_server.status["/jwks.json"] = 503
    clock.now += 400
    await verifier.verify(sign(es384_key), AUDIENCE)  # stale but usable
    clock.now += 600
    with pytest.raises(AuthenticationFailed, match="could not be fetched"):
        await verifier.verify(sign(es384_key), AUDIENCE)


async def test_unreachable_jwks_url_is_a_401_not_a_hang(
    http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    # Port 9 on loopback: connection refused.
    client = TrustedClient(iss=ISSUER, jwks_url="http://127.0.0.1:9/jwks.json")
    verifier = make_verifier(client, resolver=resolver(http, clock, timeout_seconds=2))
    with anyio.fail_after(5), pytest.raises(AuthenticationFailed):
        await verifier.verify(sign(es384_key), AUDIENCE)


async def test_concurrent_requests_on_a_cold_cache_fetch_once(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(client, resolver=resolver(http, clock))
    tokens = [sign(es384_key, claims()) for _ in range(50)]
    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(verifier.verify, token, AUDIENCE)
    assert jwks_server.hits["/jwks.json"] == 1


async def test_redirects_are_not_followed(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: FakeClock, es384_key: SigningKey
) -> None:
    jwks_server.documents["/jwks.json"] = jwks(es384_key)
    jwks_server.status["/jwks.json"] = 302
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/jwks.json"))
    verifier = make_verifier(client, resolver=resolver(http, clock))
    with pytest.raises(AuthenticationFailed):
        await verifier.verify(sign(es384_key), AUDIENCE)
