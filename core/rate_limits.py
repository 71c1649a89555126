"""API rate limits: a budget of requests per minute for each API key (its own override, or
PROVENANT_API_RATE_LIMIT_PER_MINUTE), a lower one for each key's expensive operations, and one per client
address for everything unauthenticated. Counted with the ``limits`` library's sliding-window counter in the
throttle storage (``core.throttling``: Redis, so every worker shares one budget; memory without Redis), a busy
budget's requests several at a time (``core.rate_batches``).

Every API answer says where its caller stands (``RateLimit-*`` and ``X-RateLimit-*`` headers); a refusal is a
429 problem+json with ``Retry-After``. The admin's sign-in lockout (django-axes) answers the same way.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from axes.backends import AxesStandaloneBackend
from axes.conf import settings as axes_settings
from axes.handlers.cache import AxesCacheHandler
from axes.helpers import (
    get_cache_timeout,
    get_client_cache_keys,
    get_client_username,
    get_credentials,
    get_failure_limit,
)
from axes.signals import user_locked_out
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from core.metrics import SIGNIN_COUNTS_UNAVAILABLE
from core.models import ApiKey
from core.problems import PROBLEM_CONTENT_TYPE, problem_body
from core.rate_batches import BatchedCounts, Budget, StoreAnswer
from core.signin_fallback import LOCAL_SIGNIN_FAILURES, OnceAnInterval
from core.throttling import client_address, hit_and_window_stats

if TYPE_CHECKING:  # rest_framework.views imports the throttle classes named in the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView

RATE_LIMITED_SLUG = "rate-limited"  # the problem type of every 429 (the DRF handler maps Throttled to it too)
BUCKET_API_KEY = "api-key"
BUCKET_API_KEY_EXPENSIVE = "api-key-expensive"
BUCKET_PUBLIC = "public-address"

# Operations whose answer costs far more than a read (by URL name; None: every method): their own budget per key.
EXPENSIVE_OPERATIONS: dict[str, frozenset[str] | None] = {
    "ledger-verify": None,
    "ledger-export": None,
    "consent-event-export": None,
    "ledger-verifications": frozenset({"POST"}),
    "reports-compliance": None,
    "subject-evidence": None,
    "dsar-certificate": None,
}
# Paths answered without an API key or a staff session: counted per client address before they run.
PUBLIC_PATH_PREFIXES = ("/privacy/", "/.well-known/", "/schemas/", "/reports/login/")

_STATE_ATTRIBUTE = "rate_limit_state"
logger = logging.getLogger(__name__)

# What Django's cache raises when its Redis is unreachable (refused, reset, timed out).
CACHE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


SIGNIN_OUTAGE_LOG_INTERVAL_SECONDS = 60.0
SIGNIN_OUTAGE_LOG = OnceAnInterval(SIGNIN_OUTAGE_LOG_INTERVAL_SECONDS)


def signin_counts_unavailable(signin: str) -> None:
    """Sign-in failure counts could not be read or written (the shared cache is down): the sign-in is counted in
    this process alone (``core.signin_fallback``), with the same limit and window, so lockouts still hold (fail
    safe). Counted on /metrics every time; logged once a minute per sign-in, naming no user."""
    SIGNIN_COUNTS_UNAVAILABLE.labels(signin).inc()
    if SIGNIN_OUTAGE_LOG.is_due(signin):
        logger.warning(
            "sign-in failure counts unreachable: %s sign-ins counted in this process only (%d counts held)",
            signin,
            len(LOCAL_SIGNIN_FAILURES),
        )


@dataclass(frozen=True)
class RateLimitState:
    """Where one caller stands in one bucket after a request."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the budget is back in full

    @property
    def reset_seconds(self) -> int:
        return max(0, math.ceil(self.reset_at - time.time()))

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_seconds)

    def headers(self) -> dict[str, str]:
        values = {"Limit": str(self.limit), "Remaining": str(self.remaining)}
        headers = {f"RateLimit-{name}": value for name, value in values.items()}
        headers.update({f"X-RateLimit-{name}": value for name, value in values.items()})
        headers["RateLimit-Reset"] = str(self.reset_seconds)  # seconds from now (IETF RateLimit fields)
        headers["X-RateLimit-Reset"] = str(math.ceil(self.reset_at))  # epoch seconds (GitHub's convention)
        return headers


def count_in_store(budget: Budget, cost: int) -> StoreAnswer:
    """Count ``cost`` requests of ``budget`` in the shared store at once (all or, when they do not fit, none)."""
    bucket, identity, per_minute = budget
    allowed, stats = hit_and_window_stats(RateLimitItemPerMinute(per_minute), "rate", bucket, identity, cost=cost)
    return StoreAnswer(allowed=allowed, remaining=max(0, stats.remaining), reset_at=stats.reset_time)


# A busy budget's requests go to the store several at a time (``core.rate_batches``); small budgets one by one.
BATCHED_COUNTS = BatchedCounts(count_in_store)


def rate_limit_hit(bucket: str, identity: str, per_minute: int) -> tuple[bool, RateLimitState]:
    """Count one request of ``identity`` in ``bucket`` and say whether it is within ``per_minute``."""
    limit = max(1, per_minute)
    try:
        if bucket == BUCKET_API_KEY:  # a key's own budget; never one whose identity the client chooses
            answer = BATCHED_COUNTS.hit((bucket, identity, limit))
        else:
            answer = count_in_store((bucket, identity, limit), 1)
    except StorageError:
        # Redis down: serve (issue #15: consent writes and DSAR intake succeed without it), uncounted.
        logger.warning("rate-limit storage unreachable: %s request allowed without counting", bucket)
        return True, RateLimitState(limit=limit, remaining=limit, reset_at=time.time() + 60)
    return answer.allowed, RateLimitState(limit=limit, remaining=answer.remaining, reset_at=answer.reset_at)


def api_key_rate_limit(api_key: ApiKey) -> int:
    return api_key.rate_limit_per_minute or settings.PROVENANT_API_RATE_LIMIT_PER_MINUTE


def is_expensive(request: HttpRequest) -> bool:
    match = request.resolver_match
    if match is None or match.url_name not in EXPENSIVE_OPERATIONS:
        return False
    methods = EXPENSIVE_OPERATIONS[match.url_name]
    return methods is None or request.method in methods


def record_state(request: HttpRequest, state: RateLimitState) -> None:
    setattr(request, _STATE_ATTRIBUTE, state)


def recorded_state(request: HttpRequest) -> RateLimitState | None:
    state = getattr(request, _STATE_ATTRIBUTE, None)
    return state if isinstance(state, RateLimitState) else None


def api_key_hit(request: HttpRequest, api_key: ApiKey) -> tuple[bool, RateLimitState]:
    """Count a keyed API request in its key's budget and, for an expensive operation, in the key's expensive
    budget too. The state reported is the tighter of the two."""
    allowed, state = rate_limit_hit(BUCKET_API_KEY, str(api_key.pk), api_key_rate_limit(api_key))
    if is_expensive(request):
        expensive_allowed, expensive_state = rate_limit_hit(
            BUCKET_API_KEY_EXPENSIVE, str(api_key.pk), settings.PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE
        )
        if not expensive_allowed or (allowed and expensive_state.remaining < state.remaining):
            state = expensive_state
        allowed = allowed and expensive_allowed
    return allowed, state


def public_hit(request: HttpRequest) -> tuple[bool, RateLimitState]:
    return rate_limit_hit(BUCKET_PUBLIC, client_address(request), settings.PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE)


class ApiRateThrottle(BaseThrottle):
    """DRF's throttle for every API view: the caller's key budget (and its expensive budget), or, without a
    key, the client address's (unless the middleware already counted this request)."""

    def __init__(self) -> None:
        self.state: RateLimitState | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        django_request = request._request
        if isinstance(request.auth, ApiKey):
            allowed, state = api_key_hit(django_request, request.auth)
        elif recorded_state(django_request) is not None:
            return True
        else:
            allowed, state = public_hit(django_request)
        record_state(django_request, state)
        self.state = state
        return allowed

    def wait(self) -> float | None:
        return float(self.state.retry_after) if self.state is not None else None


def too_many_requests(state: RateLimitState) -> HttpResponse:
    """The 429 problem+json of a spent budget, with Retry-After and the rate-limit headers."""
    body = problem_body(
        slug=RATE_LIMITED_SLUG,
        title="Too many requests",
        status=429,
        detail=f"The limit is {state.limit} requests a minute; retry in {state.retry_after} seconds.",
    )
    response = HttpResponse(json.dumps(body), status=429, content_type=PROBLEM_CONTENT_TYPE)
    response["Retry-After"] = str(state.retry_after)
    for name, value in state.headers().items():
        response[name] = value
    return response


class AdminSignInHandler(AxesCacheHandler):
    """django-axes' cache handler for the admin's sign-in only: AXES_ONLY_ADMIN_SITE stops axes refusing other
    sign-ins, but its cache handler still counts their failures (and would lock client users out on its own
    terms); client users have their own counter (reports.signin). With the cache unreachable it fails safe: the
    failures are counted in this process (``core.signin_fallback``) under the same hashed keys, limit and window,
    and a count made there still locks once the cache is back, until its window ends."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        local = LOCAL_SIGNIN_FAILURES.failures(get_client_cache_keys(request, credentials))
        try:
            shared = int(super().get_failures(request, credentials))
        except CACHE_UNAVAILABLE_ERRORS:
            signin_counts_unavailable("admin")
            return local
        return max(shared, local)

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        if request is not None and self.is_admin_request(request):
            try:
                super().user_login_failed(sender, credentials, request, **kwargs)
            except CACHE_UNAVAILABLE_ERRORS:
                signin_counts_unavailable("admin")
                self.count_failure_locally(credentials, request)

    def count_failure_locally(self, credentials: dict[str, Any], request: Any) -> None:
        """What axes' ``user_login_failed`` does after its checks, on this process's counts: count, and lock out
        at the limit (the lockout answer comes from axes' middleware, as usual)."""
        window = get_cache_timeout(request) or _admin_cool_off_seconds()
        failures = max(
            LOCAL_SIGNIN_FAILURES.record_failure(key, window, extend_window=True)
            for key in get_client_cache_keys(request, credentials)
        )
        request.axes_failures_since_start = failures
        if axes_settings.AXES_LOCK_OUT_AT_FAILURE and failures >= get_failure_limit(request, credentials):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes",
                request=request,
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,
            )

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        if request is not None and self.is_admin_request(request):
            if axes_settings.AXES_RESET_ON_SUCCESS:
                LOCAL_SIGNIN_FAILURES.forget(get_client_cache_keys(request, get_credentials(user.get_username())))
            try:
                super().user_logged_in(sender, request, user, **kwargs)
            except CACHE_UNAVAILABLE_ERRORS:
                signin_counts_unavailable("admin")


class AdminSignInBackend(AxesStandaloneBackend):
    """django-axes' backend, for sign-ins that come with a request (the admin's form): a check of a password
    without one (a management command, ``authenticate()`` in a script) has no client to lock out."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)  # type: ignore[no-any-return]


def _admin_cool_off_seconds() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return int(cool_off.total_seconds()) if isinstance(cool_off, timedelta) else 900


def admin_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """django-axes' answer to a locked-out admin sign-in: 429 with Retry-After (the whole cool-off: axes keeps
    no per-pair start time that we could read without the name in clear)."""
    seconds = _admin_cool_off_seconds()
    body = problem_body(
        slug="sign-in-locked",
        title="Too many failed sign-in attempts",
        status=429,
        detail=f"Too many failed sign-in attempts for this user name from this address; retry in {seconds} seconds.",
    )
    response = HttpResponse(json.dumps(body), status=429, content_type=PROBLEM_CONTENT_TYPE)
    response["Retry-After"] = str(seconds)
    return response


# ---------------------------------------------------------------------------------------------------------------
# OpenAPI: the headers on every answer and the 429 on every operation.
# ---------------------------------------------------------------------------------------------------------------

_HEADER_DESCRIPTIONS = {
    "RateLimit-Limit": "Requests allowed a minute in the bucket this request counted in (the key's, or for an "
    "expensive operation the tighter of the key's and its expensive budget; the client address's without a key).",
    "RateLimit-Remaining": "Requests left in that bucket.",
    "RateLimit-Reset": "Seconds until the bucket is full again.",
    "X-RateLimit-Limit": "Same as RateLimit-Limit.",
    "X-RateLimit-Remaining": "Same as RateLimit-Remaining.",
    "X-RateLimit-Reset": "When the bucket is full again, in seconds since the Unix epoch.",
}
_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _is_expensive_operation(path: str, method: str) -> bool:
    try:
        match = resolve(re.sub(r"\{[^}]+\}", "x", path))
    except Resolver404:
        return False
    if match.url_name not in EXPENSIVE_OPERATIONS:
        return False
    methods = EXPENSIVE_OPERATIONS[match.url_name]
    return methods is None or method.upper() in methods


def rate_limit_schema_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: rate-limit headers on every response and a 429 on every operation."""
    components = result.setdefault("components", {})
    header_components = components.setdefault("headers", {})
    for name, description in _HEADER_DESCRIPTIONS.items():
        header_components[name] = {"description": description, "schema": {"type": "integer"}}
    header_components["Retry-After"] = {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
        "required": True,
    }
    info = result.setdefault("info", {})
    info["description"] = (
        f"{info.get('description', '')}\n\n**Rate limits.** Each API key has a budget of requests a minute (its own, "
        "or the deployment's default), shared by every server; the expensive operations (marked "
        "`x-rate-limit-bucket: expensive`) have a lower budget of their own per key, and calls without a key are "
        "counted per client address. Every answer carries `RateLimit-Limit`, `RateLimit-Remaining`, "
        "`RateLimit-Reset` (seconds) and `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` "
        "(Unix time); a spent budget answers 429 `rate-limited` with `Retry-After` (seconds)."
    ).strip()
    header_refs = {name: {"$ref": f"#/components/headers/{name}"} for name in _HEADER_DESCRIPTIONS}
    problem_schema = {"$ref": "#/components/schemas/Problem"}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            if _is_expensive_operation(path, method):
                operation["x-rate-limit-bucket"] = "expensive"
                operation["description"] = (
                    f"{operation.get('description', '')}\n\n**Rate limit:** an expensive operation, counted in "
                    "the key's expensive budget as well as its general one."
                ).strip()
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "429",
                {
                    "description": "Too many requests (`rate-limited`): the budget of this key, operation or "
                    "client address is spent; retry after `Retry-After` seconds.",
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_schema}},
                },
            )
            for status, response in responses.items():
                if "$ref" in response:
                    continue
                headers = response.setdefault("headers", {})
                headers.update(header_refs)
                if status == "429":
                    headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return result
