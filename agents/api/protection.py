"""Protection of the HTTP API: API keys, a per-key rate limit, and request body limits.

Three aiohttp middlewares, in this order after the error middleware (first listed runs first):

1. :func:`auth_middleware`: ``X-API-Key`` must be one of the configured keys (compared in constant
   time, as SHA-256 digests), except on :data:`PUBLIC_PATHS`; otherwise 401. Nothing of a request
   without a valid key is read, so it can't cost us its body.
2. :func:`rate_limit_middleware`: a token bucket per key, refilled at ``rate_per_s`` up to ``burst``
   tokens; an empty bucket answers 429 with ``Retry-After`` (whole seconds, at least 1).
3. :func:`body_limit_middleware`: a declared ``Content-Length`` over the route's limit is refused with
   413 before a byte is read. Handlers read bodies with :func:`read_body`, which enforces the same
   limit on the bytes that actually arrive (chunked requests declare no length).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from tracer.agents.api.errors import ApiError

__all__ = [
    "API_KEY_HEADER",
    "PUBLIC_PATHS",
    "ApiKeys",
    "RateLimiter",
    "TokenBucket",
    "auth_middleware",
    "body_limit_middleware",
    "body_limit_of",
    "rate_limit_middleware",
    "read_body",
    "too_large",
]

API_KEY_HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/ml/health", "/ml/metrics", "/openapi.json"})
"""Paths served without an API key: probes, Prometheus scrapes and the API description."""

REQUEST_KEY_ID = web.RequestKey("tracer_api_key_id", str)
REQUEST_BODY_LIMIT = web.RequestKey("tracer_body_limit", int)
DEFAULT_BODY_LIMIT = 1_048_576
_READ_CHUNK = 65_536


class ApiKeys:
    """The accepted API keys. A presented key is hashed and compared with each digest in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        digests = []
        for key in keys:
            if not key:
                continue
            digest = hashlib.sha256(key.encode()).digest()
            digests.append((digest, "key-" + digest.hex()[:8]))
        if not digests:
            raise ValueError(
                "the HTTP API needs at least one API key (set TRACER_API_KEYS or TRACER_API_KEYS_FILE)"
            )
        self._digests = tuple(digests)

    def identify(self, presented: str) -> str | None:
        """The key's id (a short fingerprint, safe to log) if ``presented`` is a valid key, else None."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for known, key_id in self._digests:
            if hmac.compare_digest(digest, known):
                found = key_id
        return found


@dataclass
class TokenBucket:
    """``burst`` tokens, refilled at ``rate_per_s``; a request takes one."""

    rate_per_s: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token: 0.0 if one was there, else the seconds until one will be (nothing is taken)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s


class RateLimiter:
    """One :class:`TokenBucket` per key id. Only valid keys reach it, so the buckets are bounded."""

    def __init__(self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate limit needs rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key_id: str) -> float:
        """0.0 if ``key_id`` may make a request now, else the seconds it has to wait."""
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = TokenBucket(self.rate_per_s, self.burst, self.burst, now)
        return bucket.take(now)


def auth_middleware(keys: ApiKeys) -> Middleware:
    """401 unless the request is to a public path or carries a valid ``X-API-Key``."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        challenge = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}
        presented = request.headers.get(API_KEY_HEADER)
        if not presented:
            raise ApiError(
                401, "missing_api_key", f"send your API key in the {API_KEY_HEADER} header", headers=challenge
            )
        key_id = keys.identify(presented)
        if key_id is None:
            raise ApiError(
                401,
                "invalid_api_key",
                f"the {API_KEY_HEADER} header holds no valid key; use one of the worker's TRACER_API_KEYS "
                "(or, for a worker in development mode, the key in ~/.local/state/tracer/api.key)",
                headers=challenge,
            )
        request[REQUEST_KEY_ID] = key_id
        return await handler(request)

    return authenticate


def rate_limit_middleware(limiter: RateLimiter) -> Middleware:
    """429 with ``Retry-After`` when the request's key has no token left (public paths are not limited)."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        key_id = request.get(REQUEST_KEY_ID)
        if key_id is not None:
            wait_s = limiter.take(key_id)
            if wait_s > 0.0:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"over {limiter.rate_per_s:g} requests per second (burst {limiter.burst}) for this "
                    f"API key; retry in {wait_s:.2f} s",
                    headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
                )
        return await handler(request)

    return limit


def body_limit_middleware(default_limit: int, limits: dict[tuple[str, str], int]) -> Middleware:
    """413 when ``Content-Length`` is over the limit of ``(method, route)``, or ``default_limit``."""

    @web.middleware
    async def limit_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        body_limit = limits.get((request.method, route), default_limit)
        request[REQUEST_BODY_LIMIT] = body_limit
        declared = request.content_length
        if declared is not None and declared > body_limit:
            raise too_large(body_limit, declared=declared)
        return await handler(request)

    return limit_body


def too_large(limit: int, *, declared: int | None = None) -> ApiError:
    """The 413 error for a body over ``limit`` bytes (``declared``: its Content-Length, if it gave one)."""
    size = f"{declared} bytes" if declared is not None else f"over {limit} bytes"
    return ApiError(
        413, "payload_too_large", f"the request body is {size}; this endpoint takes at most {limit} bytes"
    )


def body_limit_of(request: web.Request) -> int:
    """The body limit :func:`body_limit_middleware` chose for this request, in bytes."""
    return int(request.get(REQUEST_BODY_LIMIT, DEFAULT_BODY_LIMIT))


async def read_body(request: web.Request) -> bytes:
    """The whole request body, refused with 413 as soon as more than the route's limit arrives."""
    body_limit = body_limit_of(request)
    chunks = []
    size = 0
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > body_limit:
            raise too_large(body_limit)
        chunks.append(chunk)
    return b"".join(chunks)
