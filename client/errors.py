"""The client's errors: one class per status the API documents, each carrying the API's ``{error, detail}``.

Every error the API answers has a JSON body ``{"error": <short code>, "detail": <text>}``; the
client raises it as :class:`TracerError` (or the subclass for its status) with ``status``, ``code``
(the short code), ``detail``, ``request_id`` (the worker log's id for the request) and, on 429 and
503, ``retry_after`` in seconds. A request that never got an answer raises
:class:`TracerConnectionError` (:class:`TracerTimeoutError` when it timed out).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitError",
    "ServerError",
    "TracerConnectionError",
    "TracerError",
    "TracerTimeoutError",
    "UnavailableError",
    "UnsupportedMediaTypeError",
    "error_for_status",
]


class TracerError(Exception):
    """An error answer of the Tracer API (or, for the subclasses below, no answer at all)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}" if status else f"{code}: {detail}")
        self.status = status
        self.code = code
        """The API's short, stable code: ``invalid_api_key``, ``deployment_not_found``..."""
        self.detail = detail
        self.request_id = request_id
        self.retry_after = retry_after
        """Seconds the API asked to wait (``Retry-After``), on 429 and 503."""

    def __reduce__(self) -> tuple[Any, ...]:  # picklable, so errors cross process pools
        return (
            _rebuild,
            (type(self), self.status, self.code, self.detail, self.request_id, self.retry_after),
        )


def _rebuild(
    cls: type[TracerError],
    status: int,
    code: str,
    detail: str,
    request_id: str | None,
    retry_after: float | None,
) -> TracerError:
    return cls(status, code, detail, request_id=request_id, retry_after=retry_after)


class BadRequestError(TracerError):
    """400: the body is not JSON, or not a readable form."""


class AuthenticationError(TracerError):
    """401: no API key, or not a valid one."""


class NotFoundError(TracerError):
    """404: no blueprint, dataset or deployment has that id (or no such endpoint)."""


class ConflictError(TracerError):
    """409: the id is taken, the deployment is stopped, or there is nothing to roll back to."""


class PayloadTooLargeError(TracerError):
    """413: the body (an upload, usually) is over the endpoint's limit."""


class UnsupportedMediaTypeError(TracerError):
    """415: the upload's type is not CSV, TSV, JSON lines or Parquet."""


class InvalidRequestError(TracerError):
    """422: well-formed but not valid; ``detail`` names the field."""


class RateLimitError(TracerError):
    """429: over the key's rate; ``retry_after`` says when to retry (the client retries by itself first)."""


class ServerError(TracerError):
    """500 (or another 5xx but 503): the worker failed; its log has ``request_id``."""


class UnavailableError(TracerError):
    """503: the broker, or the deployment's owner, is not available now (retried by the client first)."""


class TracerConnectionError(TracerError):
    """No answer: the worker could not be reached (``status`` is 0)."""


class TracerTimeoutError(TracerConnectionError):
    """No answer within the client's timeout."""


_BY_STATUS: dict[int, type[TracerError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: UnavailableError,
}


def error_for_status(
    status: int, code: str, detail: str, *, request_id: str | None = None, retry_after: float | None = None
) -> TracerError:
    """The error class for ``status`` (ServerError for other 5xx, TracerError otherwise), built."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else TracerError)
    return cls(status, code, detail, request_id=request_id, retry_after=retry_after)
