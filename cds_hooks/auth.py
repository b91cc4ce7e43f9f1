"""Verification of the CDS client's JWT (CDS Hooks 2.0, "Trusting CDS Clients").

Every request to `/cds-services` (discovery, service calls, feedback) may carry
`Authorization: Bearer <JWT>`, signed with the client's private key. `JwtVerifier.verify`
checks it in this order, so that untrusted input costs as little as possible and a forged
token can never use up a `jti`:

    1. header, unverified: `alg` in the configured set (never `none`, never HMAC),
       `kid` present, `typ` = JWT, no `crit`/`b64`
    2. `iss` (unverified) on the allowlist of trusted clients
    3. key: the client's inline JWK Set, its `jwks_url`, or the token's `jku` when that URL
       is on the client's allowlist (fetched with httpx, cached, refetched once on an
       unknown `kid`)
    4. signature, `exp`, `iat`, `aud` (= the URL called), `iss` by PyJWT, restricted to the
       header's algorithm; `iat` not in the future (60 s leeway)
    5. `tenant` on the client's tenant allowlist (when it has one)
    6. `jti` not seen before (the replay store, shared by all replicas)

Every failure raises `AuthenticationFailed(message, reason=code)`: the message is for the log,
the code (`AuthFailureReason`) for metrics; the client only ever sees "401". Tokens are never
logged; `iss`, `kid` and `jti` may be.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx
import jwt
import structlog
import yaml
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from cds_hooks.errors import AuthenticationFailed, AuthFailureReason

__all__ = [
    "ALLOWED_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "InMemoryReplayStore",
    "JwtVerifier",
    "KeyResolver",
    "ReplayStore",
    "TrustConfig",
    "TrustedClient",
    "VerifiedClient",
    "load_trust_config",
]

log = structlog.get_logger(__name__)

#: What a deployment may enable: asymmetric signatures only (CDS Hooks 2.0 forbids `none`
#: and every symmetric algorithm).
ALLOWED_ALGORITHMS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
#: The spec's recommendation, and our default.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("ES384", "RS384")

_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
_MAX_TOKEN_LENGTH = 16 * 1024
_MAX_JWKS_BYTES = 256 * 1024
_KEY_TYPES = {"EC", "RSA"}
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


# --------------------------------------------------------------------------------------
# Trust configuration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    """A public key from a JWK Set, with the algorithm the JWK declares (if any)."""

    kid: str
    key: Any  # a cryptography public key object
    declared_alg: str | None


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return url
    raise ValueError(f"{what} must be an https URL (http only on localhost): {url!r}")


def _parse_jwks(obj: Any, *, strict: bool) -> dict[str, _Key]:
    """Turn a JWK Set into `{kid: key}`, keeping only public EC/RSA signing keys with a kid.

    `strict` (the inline trust configuration) raises on anything suspicious, such as
    private key material; fetched sets skip what they cannot use.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("keys"), list):
        raise ValueError("a JWK Set is an object with a 'keys' array")
    usable: list[dict[str, Any]] = []
    for member in obj["keys"]:
        if not isinstance(member, Mapping):
            if strict:
                raise ValueError("every member of 'keys' must be a JWK object")
            continue
        kid = member.get("kid")
        problem = None
        if not isinstance(kid, str) or not kid:
            problem = "has no 'kid'"
        elif member.get("kty") not in _KEY_TYPES:
            problem = f"has kty {member.get('kty')!r}; only EC and RSA public keys are used"
        elif _PRIVATE_MEMBERS & set(member):
            problem = "contains private key material; publish only the public key"
        elif member.get("use", "sig") != "sig":
            problem = "is not a signing key ('use' is not 'sig')"
        elif "alg" in member and member["alg"] not in ALLOWED_ALGORITHMS:
            problem = f"declares alg {member['alg']!r}, which is never accepted"
        if problem is not None:
            if strict:
                raise ValueError(f"JWK {kid!r} {problem}")
            log.info("jwks member skipped", kid=kid if isinstance(kid, str) else None, why=problem)
            continue
        usable.append(dict(member))
    if not usable:
        raise ValueError("the JWK Set has no usable public signing keys")
    try:
        key_set = jwt.PyJWKSet(usable)
    except jwt.PyJWTError as exc:
        raise ValueError(f"the JWK Set cannot be parsed: {exc}") from exc
    declared = {m["kid"]: m.get("alg") for m in usable}
    keys: dict[str, _Key] = {}
    for parsed in key_set.keys:
        kid = parsed.key_id
        if kid is None:
            continue
        if kid in keys:
            if strict:
                raise ValueError(f"kid {kid!r} occurs twice in the JWK Set")
            continue
        keys[kid] = _Key(kid=kid, key=parsed.key, declared_alg=declared.get(kid))
    if strict and len(keys) != len(usable):
        raise ValueError("the JWK Set has keys that cannot be parsed or repeat a kid")
    return keys


class TrustedClient(BaseModel):
    """One CDS client we accept JWTs from, identified by its `iss`.

    Keys come from exactly one place: `jwks` (an inline JWK Set, exchanged out of band),
    `jwks_url`, or, when neither is given, the token's `jku` header, which must be on
    `jku_allowlist`. A `jku` in a token is always checked against `jku_allowlist` (plus
    `jwks_url`); when the client has inline keys they are used and never replaced by a fetch.
    `tenants`, when given, is the list of `tenant` claim values accepted from this client (a
    token without `tenant` is then refused).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    iss: str = Field(min_length=1)
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    jku_allowlist: list[str] = Field(default_factory=list)
    tenants: list[str] | None = None

    _inline_keys: dict[str, _Key] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> TrustedClient:
        if self.jwks is not None and self.jwks_url is not None:
            raise ValueError(f"client {self.iss!r}: give either 'jwks' or 'jwks_url', not both")
        if self.jwks is None and self.jwks_url is None and not self.jku_allowlist:
            raise ValueError(
                f"client {self.iss!r} has no keys: give 'jwks', 'jwks_url' or 'jku_allowlist'"
            )
        if self.jwks_url is not None:
            _check_url(self.jwks_url, f"client {self.iss!r}: jwks_url")
        for url in self.jku_allowlist:
            _check_url(url, f"client {self.iss!r}: jku_allowlist entry")
        if self.tenants is not None and not self.tenants:
            raise ValueError(f"client {self.iss!r}: 'tenants' is empty; leave it out instead")
        if self.jwks is not None:
            try:
                self._inline_keys = _parse_jwks(self.jwks, strict=True)
            except ValueError as exc:
                raise ValueError(f"client {self.iss!r}: jwks: {exc}") from exc
        return self

    @property
    def inline_keys(self) -> Mapping[str, _Key] | None:
        return self._inline_keys

    def allows_jku(self, jku: str) -> bool:
        """Exact match only: no prefix, no normalisation."""
        return jku in self.jku_allowlist or jku == self.jwks_url


class TrustConfig(BaseModel):
    """The trusted clients; `iss` values are unique and compared exactly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: list[TrustedClient] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_issuers(self) -> TrustConfig:
        seen: set[str] = set()
        for client in self.clients:
            if client.iss in seen:
                raise ValueError(f"issuer {client.iss!r} is listed twice")
            seen.add(client.iss)
        return self

    def client_for(self, iss: str) -> TrustedClient | None:
        for client in self.clients:
            if client.iss == iss:
                return client
        return None


def load_trust_config(path: str | Path) -> TrustConfig:
    """Read the trust configuration from YAML (`.yaml`, `.yml`) or JSON (`.json`).

    Raises `ValueError` with a message naming the file for anything unreadable or invalid.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read trusted clients file {path}: {exc}") from exc
    try:
        if suffix in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ValueError("use a .yaml, .yml or .json file")
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(f"trusted clients file {path} is not valid {suffix[1:]}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"trusted clients file {path}: {exc}") from exc
    try:
        return TrustConfig.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ValueError(f"trusted clients file {path} is invalid:\n{exc}") from exc


# --------------------------------------------------------------------------------------
# Replay protection
# --------------------------------------------------------------------------------------


@runtime_checkable
class ReplayStore(Protocol):
    """Remembers `jti`s until their token expires."""

    async def remember(self, jti: str, issuer: str, expires_at: datetime) -> bool:
        """Record the jti; False when this issuer already used it (a replay)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Forget entries that expired before `now`; returns how many."""
        ...


class InMemoryReplayStore:
    """A replay store for one process (tests, the CLI). Not shared between replicas."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], datetime] = {}

    async def remember(self, jti: str, issuer: str, expires_at: datetime) -> bool:
        now = datetime.now(UTC)
        previous = self._seen.get((issuer, jti))
        if previous is not None and previous >= now:
            return False
        if len(self._seen) > 10_000:
            await self.purge_expired(now)
        self._seen[(issuer, jti)] = expires_at
        return True

    async def purge_expired(self, now: datetime) -> int:
        expired = [entry for entry, until in self._seen.items() if until < now]
        for entry in expired:
            del self._seen[entry]
        return len(expired)

    def __len__(self) -> int:
        return len(self._seen)


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _CachedSet:
    keys: dict[str, _Key]
    fetched_at: float


@dataclass(slots=True)
class _Source:
    """What is known about one JWKS URL."""

    cached: _CachedSet | None = None
    in_flight: asyncio.Task[dict[str, _Key]] | None = None
    """The one fetch under way: every token that needs this URL waits for it."""
    failures: int = 0
    """Fetches failed in a row."""
    retry_at: float = 0.0
    """After a failure, no new fetch before this time (exponential backoff)."""


class KeyResolver:
    """Finds the public key for a token, fetching JWK Sets with httpx (never blocking).

    Fetched sets are cached per URL for `cache_seconds`. A `kid` not in the cached set
    triggers one refetch, at most once per `refetch_cooldown_seconds` per URL, so a stream
    of made-up kids cannot turn us into a load generator against the client's JWKS. When a
    refetch fails, the previous set is used for up to `max_stale_seconds` more.

    Tokens can not multiply fetches either: concurrent tokens for one URL share one fetch
    (single-flight), bounded by `timeout_seconds` of wall time. A token waits for it at most
    `wait_seconds` (the hook's deadline): a slow JWKS endpoint then costs that token a 401 in
    time, and the fetch goes on, so the tokens after it find the set. A failed fetch is remembered:
    no new one for `failure_backoff_seconds`, doubling with each failure in a row up to
    `max_backoff_seconds`; meanwhile a token that needs the set is refused at once (401).
    Each URL is on its own, so a failing or hanging issuer never delays another.
    """

    def __init__(
        self,
        http_client: httpx.AsyncClient,
        *,
        cache_seconds: float = 300.0,
        refetch_cooldown_seconds: float = 10.0,
        max_stale_seconds: float = 3600.0,
        timeout_seconds: float = 5.0,
        wait_seconds: float | None = None,
        failure_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http_client
        self._ttl = cache_seconds
        self._cooldown = refetch_cooldown_seconds
        self._max_stale = max_stale_seconds
        self._timeout = timeout_seconds
        self._wait = timeout_seconds if wait_seconds is None else min(wait_seconds, timeout_seconds)
        self._backoff = failure_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._clock = clock
        self._sources: dict[str, _Source] = {}

    async def resolve(self, client: TrustedClient, kid: str, jku: str | None) -> _Key:
        if jku is not None and not client.allows_jku(jku):
            raise AuthenticationFailed("jku is not on the allowlist of this issuer", reason="key")
        inline = client.inline_keys
        if inline is not None:
            key = inline.get(kid)
            if key is None:
                raise AuthenticationFailed("unknown kid for this issuer", reason="key")
            return key
        url = jku if jku is not None else client.jwks_url
        if url is None:
            raise AuthenticationFailed(
                "token has no jku and the issuer has no configured keys", reason="key"
            )
        keys = await self._keys_at(url, refresh=False)
        if kid not in keys:
            keys = await self._keys_at(url, refresh=True)
        key = keys.get(kid)
        if key is None:
            raise AuthenticationFailed("unknown kid for this issuer", reason="key")
        return key

    def forget(self, url: str | None = None) -> None:
        """Drop cached sets and remembered failures (all, or one URL)."""
        if url is None:
            self._sources.clear()
        else:
            self._sources.pop(url, None)

    async def _keys_at(self, url: str, *, refresh: bool) -> dict[str, _Key]:
        source = self._sources.setdefault(url, _Source())
        now = self._clock()
        entry = source.cached
        if entry is not None:
            age = now - entry.fetched_at
            if (refresh and age < self._cooldown) or (not refresh and age < self._ttl):
                return entry.keys
        if source.in_flight is None:
            if now < source.retry_at:
                stale = self._stale_keys(entry, now)
                if stale is not None:
                    return stale
                raise AuthenticationFailed(
                    "the issuer's JWK Set could not be fetched; not retried for "
                    f"{source.retry_at - now:.1f} s more",
                    reason="key",
                )
            source.in_flight = asyncio.ensure_future(self._fetch_into(url, source))
            # Retrieved here, so a fetch whose waiters all went away is not reported as lost.
            source.in_flight.add_done_callback(_retrieve_outcome)
        try:
            # Shielded: a waiter that gives up (its wait over, its request cancelled) leaves
            # the fetch to the others and to the tokens after it.
            async with asyncio.timeout(self._wait):
                return await asyncio.shield(source.in_flight)
        except TimeoutError:
            raise AuthenticationFailed(
                "the issuer's JWK Set did not arrive within the deadline; still fetching",
                reason="key",
            ) from None
        except AuthenticationFailed as exc:
            # One exception per waiter.
            raise AuthenticationFailed(exc.message, reason=exc.reason) from None

    async def _fetch_into(self, url: str, source: _Source) -> dict[str, _Key]:
        try:
            async with asyncio.timeout(self._timeout):
                keys = await self._fetch(url)
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            now = self._clock()
            source.failures += 1
            delay = min(self._backoff * 2 ** (source.failures - 1), self._max_backoff)
            source.retry_at = now + delay
            log.warning(
                "jwks fetch failed",
                url=url,
                error=str(exc) or type(exc).__name__,
                failures_in_a_row=source.failures,
                retry_after_seconds=delay,
            )
            stale = self._stale_keys(source.cached, now)
            if stale is not None:
                return stale
            raise AuthenticationFailed(
                "the issuer's JWK Set could not be fetched", reason="key"
            ) from None
        finally:
            source.in_flight = None
        source.failures, source.retry_at = 0, 0.0
        source.cached = _CachedSet(keys=keys, fetched_at=self._clock())
        log.info("jwks fetched", url=url, kids=sorted(keys))
        return keys

    def _stale_keys(self, entry: _CachedSet | None, now: float) -> dict[str, _Key] | None:
        """The last good set, while it may still be used in place of a failing URL."""
        if entry is not None and now - entry.fetched_at < self._ttl + self._max_stale:
            return entry.keys
        return None

    async def _fetch(self, url: str) -> dict[str, _Key]:
        response = await self._http.get(
            url,
            headers={"Accept": "application/json, application/jwk-set+json"},
            timeout=self._timeout,
            follow_redirects=False,
        )
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        if len(response.content) > _MAX_JWKS_BYTES:
            raise ValueError("JWK Set is too large")
        try:
            data = response.json()
        except ValueError as exc:
            raise ValueError("JWK Set is not JSON") from exc
        return _parse_jwks(data, strict=False)


def _retrieve_outcome(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


# --------------------------------------------------------------------------------------
# The verifier
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedClient:
    """Who called: the verified claims a route may use."""

    iss: str
    tenant: str | None
    jti: str
    kid: str


class JwtVerifier:
    """Verifies CDS client JWTs against a `TrustConfig`; see the module docstring."""

    def __init__(
        self,
        trust: TrustConfig,
        replay_store: ReplayStore,
        key_resolver: KeyResolver,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: float = 60.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        chosen = tuple(dict.fromkeys(algorithms))
        refused = [alg for alg in chosen if alg not in ALLOWED_ALGORITHMS]
        if refused:
            raise ValueError(
                f"JWT algorithms {refused} are not allowed; choose from "
                f"{sorted(ALLOWED_ALGORITHMS)} (none and HMAC are never accepted)"
            )
        if not chosen:
            raise ValueError("at least one JWT algorithm must be enabled")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.trust = trust
        self.replay_store = replay_store
        self.key_resolver = key_resolver
        self.algorithms: tuple[str, ...] = chosen
        self.leeway = leeway
        self._clock = clock

    async def verify(self, token: str, audience: str) -> VerifiedClient:
        """Verify `token` for a request to the URL `audience`; raise AuthenticationFailed."""
        context: dict[str, Any] = {}
        try:
            return await self._verify(token, audience, context)
        except AuthenticationFailed as exc:
            log.warning("client jwt rejected", reason=exc.message, audience=audience, **context)
            raise

    async def _verify(self, token: str, audience: str, context: dict[str, Any]) -> VerifiedClient:
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise AuthenticationFailed("token is empty or too long", reason="malformed")

        # 1. The header, unverified, read with the payload in one go (PyJWT checks every
        # character of every segment it reads, so each read of a token costs).
        try:
            unverified_token = jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(
                f"token is not a JWS with a JSON payload ({type(exc).__name__})", reason="malformed"
            ) from None
        header: dict[str, Any] = unverified_token["header"]
        unverified: dict[str, Any] = unverified_token["payload"]
        alg = header.get("alg")
        kid = header.get("kid")
        context["alg"] = alg if isinstance(alg, str) else repr(alg)
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthenticationFailed(
                "alg is not one of the accepted algorithms", reason="algorithm"
            )
        if not isinstance(kid, str) or not kid:
            raise AuthenticationFailed("kid is missing", reason="malformed")
        context["kid"] = kid
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthenticationFailed("typ is not JWT", reason="malformed")
        if "crit" in header or "b64" in header:
            raise AuthenticationFailed(
                "crit/b64 header parameters are not supported", reason="malformed"
            )
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise AuthenticationFailed("jku is not a string", reason="malformed")

        # 2. The issuer, unverified, must be one we trust.
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise AuthenticationFailed("iss is missing", reason="untrusted-issuer")
        context["iss"] = iss
        if isinstance(unverified.get("jti"), str):
            context["jti"] = unverified["jti"]
        client = self.trust.client_for(iss)
        if client is None:
            raise AuthenticationFailed("iss is not a trusted client", reason="untrusted-issuer")

        # 3. The key.
        key = await self.key_resolver.resolve(client, kid, jku)
        if key.declared_alg is not None and key.declared_alg != alg:
            raise AuthenticationFailed("alg does not match the alg of the key", reason="algorithm")
        expected_type = EllipticCurvePublicKey if alg.startswith("ES") else RSAPublicKey
        if not isinstance(key.key, expected_type):
            raise AuthenticationFailed("alg does not match the type of the key", reason="algorithm")

        # 4. Signature and claims.
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=audience,
                issuer=client.iss,
                leeway=self.leeway,
                options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.InvalidAudienceError:
            context["token_aud"] = unverified.get("aud")
            raise AuthenticationFailed("aud is not the URL called", reason="audience") from None
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise AuthenticationFailed(
                f"{type(exc).__name__}: {exc}", reason=_decode_failure(exc)
            ) from None
        now = self._clock()
        iat = claims["iat"]
        if not isinstance(iat, int | float) or iat > now + self.leeway:
            raise AuthenticationFailed("iat is in the future", reason="not-yet-valid")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthenticationFailed("jti is not a non-empty string", reason="claims")

        # 5. The tenant.
        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise AuthenticationFailed("tenant is not a string", reason="tenant")
        context["tenant"] = tenant
        if client.tenants is not None and tenant not in client.tenants:
            raise AuthenticationFailed("tenant is not allowed for this issuer", reason="tenant")

        # 6. Replay, last: only a genuine token may use up its jti.
        try:
            expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC) + timedelta(
                seconds=self.leeway
            )
        except (OverflowError, ValueError, OSError) as exc:
            raise AuthenticationFailed("exp is out of range", reason="claims") from exc
        if not await self.replay_store.remember(jti, client.iss, expires_at):
            raise AuthenticationFailed("jti was already used (replay)", reason="replay")
        return VerifiedClient(iss=client.iss, tenant=tenant, jti=jti, kid=kid)


def _decode_failure(exc: Exception) -> AuthFailureReason:
    """The reason code of what PyJWT refused in step 4."""
    if isinstance(exc, jwt.InvalidSignatureError):
        return "signature"
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not-yet-valid"
    if isinstance(exc, jwt.DecodeError):
        return "malformed"
    return "claims"
