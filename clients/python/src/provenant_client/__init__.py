"""Python client of Provenant: the API, stamp-then-send transports, and receiver-side verification."""

from provenant_client.client import AsyncProvenantClient, ProvenantClient
from provenant_client.errors import (
    AuthenticationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ProblemError,
    ProvenantError,
    RateLimited,
    ServerError,
    StampBlocked,
    StampInvalid,
    StampMarkError,
    TransportError,
    ValidationError,
)
from provenant_client.models import Notice, StampRequest, StampResult
from provenant_client.receiver import JwksCache, WebhookVerificationError, parse_notice, verify_stamp, verify_webhook
from provenant_client.retry import RetryPolicy
from provenant_client.stamping import (
    AsyncStampingTransport,
    BatchOutcome,
    StampedPayload,
    StampingTransport,
    StampMark,
    mark_headers,
    send_batch,
    stamped_payload,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncProvenantClient",
    "AsyncStampingTransport",
    "AuthenticationError",
    "BatchOutcome",
    "Conflict",
    "JwksCache",
    "NotFound",
    "Notice",
    "PermissionDenied",
    "ProblemError",
    "ProvenantClient",
    "ProvenantError",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "StampBlocked",
    "StampInvalid",
    "StampMark",
    "StampMarkError",
    "StampRequest",
    "StampResult",
    "StampedPayload",
    "StampingTransport",
    "TransportError",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
    "mark_headers",
    "parse_notice",
    "send_batch",
    "stamped_payload",
    "verify_stamp",
    "verify_webhook",
]
