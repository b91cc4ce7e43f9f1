"""A failing or hanging `jwks_url` cannot be used to multiply outbound fetches or to queue
tokens, and never delays another issuer (red team findings, issue 14).

Before: 50 tokens naming an issuer whose `jwks_url` fails made 50 fetches; with a hanging
`jwks_url`, 5 concurrent tokens were answered after 5, 10, 15, 20 and 25 s (one fetch at a
time behind a per-URL lock, each to its timeout).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest

from cds_hooks.auth import JwtVerifier, KeyResolver, TrustedClient
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

OTHER_ISSUER = "https://other-ehr.example.org/"
FETCH_TIMEOUT = 0.5


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _failing_verifier(
    jwks_server: JwksServer, http: httpx.AsyncClient, clock: Callable[[], float] = time.monotonic
) -> JwtVerifier:
    """A verifier trusting one issuer whose jwks_url answers 500 (and no stale keys to fall
    back on once the cache has expired)."""
    jwks_server.status["/broken.json"] = 500
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/broken.json"))
    resolver = KeyResolver(http, timeout_seconds=FETCH_TIMEOUT, max_stale_seconds=0, clock=clock)
    return make_verifier(client, resolver=resolver)


async def _refused(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthenticationFailed) as refused:
        await verifier.verify(token, AUDIENCE)
    return refused.value.message


async def test_fifty_tokens_against_a_failing_jwks_url_cost_one_fetch(
    jwks_server: JwksServer, http: httpx.AsyncClient, es384_key: SigningKey
) -> None:
    verifier = _failing_verifier(jwks_server, http)
    started = time.perf_counter()
    reasons = [await _refused(verifier, sign(es384_key)) for _ in range(50)]
    assert time.perf_counter() - started < 1.0  # within the first backoff of 1 s
    assert jwks_server.hits["/broken.json"] == 1
    assert reasons[0] == "the issuer's JWK Set could not be fetched"
    # The others are refused at once, saying why.
    assert all("not retried for" in reason for reason in reasons[1:])


async def test_the_backoff_doubles_and_a_success_ends_it(
    jwks_server: JwksServer, http: httpx.AsyncClient, es384_key: SigningKey
) -> None:
    clock = FakeClock()
    verifier = _failing_verifier(jwks_server, http, clock)
    fetches = []
    for at in (0.0, 0.5, 1.1, 2.6, 3.2, 7.0, 7.3):  # a token at each of these seconds
        clock.now = 1000.0 + at
        await _refused(verifier, sign(es384_key))
        fetches.append(jwks_server.hits["/broken.json"])
    # Failed fetches at 0, 1.1 (after 1 s), 3.2 (after 2 s more), 7.3 (after 4 s more).
    assert fetches == [1, 1, 2, 2, 3, 3, 4]
    jwks_server.status.pop("/broken.json")
    jwks_server.documents["/broken.json"] = jwks(es384_key)
    clock.now = 1000.0 + 15.4  # 8 s after the last failure
    await verifier.verify(sign(es384_key), AUDIENCE)  # fetched again, and it works
    assert jwks_server.hits["/broken.json"] == 5
    jwks_server.status["/broken.json"] = 500
    clock.now += 400  # the cache expired, the URL fails again: the backoff starts at 1 s
    await _refused(verifier, sign(es384_key))
    clock.now += 1.1
    await _refused(verifier, sign(es384_key))
    assert jwks_server.hits["/broken.json"] == 7


async def test_concurrent_tokens_share_one_fetch_of_a_hanging_jwks_url_and_others_go_on(
    jwks_server: JwksServer,
    http: httpx.AsyncClient,
    es384_key: SigningKey,
    es384_key_2: SigningKey,
) -> None:
    jwks_server.hanging.add("/hangs.json")
    jwks_server.documents["/good.json"] = jwks(es384_key_2)
    hanging = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/hangs.json"))
    good = TrustedClient(iss=OTHER_ISSUER, jwks_url=jwks_server.url("/good.json"))
    resolver = KeyResolver(http, timeout_seconds=FETCH_TIMEOUT)
    verifier = make_verifier(hanging, good, resolver=resolver)
    answered: list[float] = []
    good_answered: list[float] = []
    started = time.perf_counter()

    async def hanging_token() -> None:
        await _refused(verifier, sign(es384_key))
        answered.append(time.perf_counter() - started)

    async def good_token() -> None:
        await anyio.sleep(0.1)  # while the hanging fetch is under way
        begun = time.perf_counter()
        client = await verifier.verify(sign(es384_key_2, claims(iss=OTHER_ISSUER)), AUDIENCE)
        assert client.iss == OTHER_ISSUER
        good_answered.append(time.perf_counter() - begun)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(hanging_token)
        group.start_soon(good_token)

    assert len(answered) == 5
    assert max(answered) < FETCH_TIMEOUT + 0.3, answered  # all at the timeout, not 5 x
    assert jwks_server.hits["/hangs.json"] == 1
    assert good_answered[0] < 0.2, good_answered  # the good issuer did not wait


async def test_a_slow_jwks_url_costs_the_first_token_its_deadline_not_more(
    jwks_server: JwksServer, http: httpx.AsyncClient, es384_key: SigningKey
) -> None:
    """A JWKS endpoint slower than the hook's deadline: the first token is refused when its
    deadline is over (the call is answered in time), the fetch goes on, and the next token
    finds the set without another fetch."""
    jwks_server.documents["/slow.json"] = jwks(es384_key)
    jwks_server.delays["/slow.json"] = 0.8
    client = TrustedClient(iss=ISSUER, jwks_url=jwks_server.url("/slow.json"))
    resolver = KeyResolver(http, timeout_seconds=5.0, wait_seconds=0.3)
    verifier = make_verifier(client, resolver=resolver)

    started = time.perf_counter()
    reason = await _refused(verifier, sign(es384_key))
    assert time.perf_counter() - started < 0.3 + 0.2
    assert reason == "the issuer's JWK Set did not arrive within the deadline; still fetching"

    await anyio.sleep(0.8)
    verified = await verifier.verify(sign(es384_key), AUDIENCE)
    assert verified.iss == ISSUER
    assert jwks_server.hits["/slow.json"] == 1
