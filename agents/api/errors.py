"""Errors of the HTTP API: one JSON shape, the right status, never a stack trace.

Every error response, whoever raises it, has the body ``{"error": <short code>, "detail": <text>}``:

- :class:`ApiError`, raised by our handlers and middlewares, carries its status, code and detail;
- aiohttp's own ``HTTPException``s (no route: 404, wrong method: 405, ...) are rewritten into the
  shape, keeping the headers a client needs (``Allow``, ``Retry-After``, ``WWW-Authenticate``);
- anything else is a bug: it is logged with its traceback under a request id, and the client gets a
  500 ``internal_error`` naming that id, nothing more.

:func:`error_middleware` is the outermost middleware, so it sees what the others raise too. Every
response gets an ``X-Request-Id`` header, the id the worker log uses for that request.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "REQUEST_ID_HEADER",
    "ApiError",
    "ErrorBody",
    "code_for_status",
    "error_middleware",
    "error_response",
    "quiet_protocol_errors",
    "validation_detail",
]

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
_MAX_SHOWN_ERRORS = 5
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ErrorBody(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error: str = Field(description="A short, stable code, e.g. 'invalid_api_key' or 'deployment_not_found'.")
    detail: str = Field(description="What was wrong and what would fix it, for a person to read.")


class ApiError(Exception):
    """An error with its HTTP status, short code and human detail; the middleware renders it."""

    def __init__(
        self, status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def code_for_status(status: int) -> str:
    """The default short code of an HTTP status (``404`` -> ``not_found``)."""
    return _CODES.get(status, f"http_{status}")


def error_response(
    status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON error response: ``{"error": code, "detail": detail}``."""
    body = ErrorBody(error=code, detail=detail).model_dump_json().encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def validation_detail(error: ValidationError, *, where: str = "body") -> str:
    """One line per pydantic error (the first few), each naming the field: ``row.total: Input should be...``."""
    lines = []
    for item in error.errors(include_url=False)[:_MAX_SHOWN_ERRORS]:
        location = ".".join(str(part) for part in item["loc"]) or where
        lines.append(f"{location}: {item['msg']}")
    extra = error.error_count() - len(lines)
    if extra > 0:
        lines.append(f"and {extra} more error(s)")
    return "; ".join(lines)


def _detail_for(error: web.HTTPException, request: web.Request) -> str:
    if error.status == 404:
        return f"no endpoint {request.method} {request.path}; GET /openapi.json lists the endpoints"
    if error.status == 405:
        allowed = error.headers.get("Allow", "")
        return f"{request.method} is not allowed on {request.path}; allowed: {allowed or 'none'}"
    if error.status == 413:
        return "the request body is too large"
    return error.reason


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render ApiError and aiohttp errors as JSON; log anything unexpected and answer 500 without details."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(error.status, error.code, error.detail, headers=error.headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        kept = {name: error.headers[name] for name in _KEPT_HEADERS if name in error.headers}
        response = error_response(
            error.status, code_for_status(error.status), _detail_for(error, request), headers=kept
        )
    except Exception:
        log.exception("request %s: %s %s failed", request_id, request.method, request.path)
        response = error_response(
            500,
            "internal_error",
            f"the worker failed to handle this request; its log has the details under request id {request_id}",
        )
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


class _OneLineBadRequests(logging.Filter):
    """aiohttp answers a malformed HTTP request (bad header bytes, ...) with a plain-text 400 before any
    middleware runs, and logs an ERROR with the parser's traceback. Anyone can send one, so it becomes
    a single WARNING line: the client's fault, not the worker's."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "malformed HTTP request answered with %s: %s"
            record.args = (error.code, error.message.splitlines()[0] if error.message else "")
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_protocol_errors() -> None:
    """Log malformed HTTP requests as one line (idempotent); see :class:`_OneLineBadRequests`."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(existing, _OneLineBadRequests) for existing in server_log.filters):
        server_log.addFilter(_OneLineBadRequests())
