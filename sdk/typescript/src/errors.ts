/**
 * The client's errors. Every error answer of the API has the body `{error, detail}`; the client
 * throws it as a {@link TracerError} (or the subclass for its status) carrying `status`, `code`
 * (the API's short code, e.g. `invalid_api_key`), `detail`, `requestId` (the worker log's id for
 * the request) and, on 429 and 503, `retryAfter` in seconds. A request that got no answer throws
 * {@link TracerConnectionError}, or {@link TracerTimeoutError} when it ran out of time.
 */

export interface ErrorInit {
  requestId?: string | undefined;
  retryAfter?: number | undefined;
  cause?: unknown;
}

/** An error answer of the Tracer API (status 0 for the subclasses that got no answer). */
export class TracerError extends Error {
  override name = "TracerError";
  /** Seconds the API asked to wait (`Retry-After`), on 429 and 503. */
  readonly retryAfter: number | undefined;
  /** The `X-Request-Id` of the answer: grep the worker log for it. */
  readonly requestId: string | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    init: ErrorInit = {},
  ) {
    super(status ? `${status} ${code}: ${detail}` : `${code}: ${detail}`, { cause: init.cause });
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

/** 400: the body is not JSON, or not a readable form. */
export class BadRequestError extends TracerError { override name = "BadRequestError"; }
/** 401: no API key, or not a valid one. */
export class AuthenticationError extends TracerError { override name = "AuthenticationError"; }
/** 404: no blueprint, dataset or deployment has that id (or no such endpoint). */
export class NotFoundError extends TracerError { override name = "NotFoundError"; }
/** 409: the request conflicts with the current state (e.g. the deployment is stopped). */
export class ConflictError extends TracerError { override name = "ConflictError"; }
/** 413: the body is over the endpoint's limit (an upload over the worker's maximum). */
export class PayloadTooLargeError extends TracerError { override name = "PayloadTooLargeError"; }
/** 415: the upload's content type is not one the API reads. */
export class UnsupportedMediaTypeError extends TracerError { override name = "UnsupportedMediaTypeError"; }
/** 422: well-formed but not valid; the detail names the field. */
export class InvalidRequestError extends TracerError { override name = "InvalidRequestError"; }
/** 429: over the key's rate limit; `retryAfter` says how long to wait. */
export class RateLimitError extends TracerError { override name = "RateLimitError"; }
/** 500: the model failed on a valid row (the worker log has the details under `requestId`). */
export class ServerError extends TracerError { override name = "ServerError"; }
/** 503: the broker, or the deployment's owner, is not available now. */
export class UnavailableError extends TracerError { override name = "UnavailableError"; }
/** No answer: the connection failed. */
export class TracerConnectionError extends TracerError { override name = "TracerConnectionError"; }
/** No answer within the client's timeout. */
export class TracerTimeoutError extends TracerConnectionError { override name = "TracerTimeoutError"; }

const BY_STATUS: Record<number, typeof TracerError> = {
  400: BadRequestError,
  401: AuthenticationError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError,
  422: InvalidRequestError,
  429: RateLimitError,
  500: ServerError,
  503: UnavailableError,
};

/** The error class for an HTTP status. */
export function errorFor(status: number, code: string, detail: string, init: ErrorInit = {}): TracerError {
  const Kind = BY_STATUS[status] ?? (status >= 500 ? ServerError : TracerError);
  return new Kind(status, code, detail, init);
}
