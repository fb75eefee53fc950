"""The base of every API view, and JSON body parsing.

Views are Faust views (:class:`faust.web.View`), registered with ``app.page(path)`` on the worker's
own web server. :class:`ApiView` adds three things: errors Faust raises itself (its ``WebError``s)
come out in the API's error shape; ``HEAD`` answers like ``GET`` without a body; and handlers get
the aiohttp request with its :class:`~tracer.agents.api.context.ApiContext`.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, cast

from aiohttp import web
from faust.web import Request, View
from faust.web.exceptions import WebError
from pydantic import TypeAdapter, ValidationError

from tracer.agents.api.context import ApiContext, context_of
from tracer.agents.api.errors import ApiError, code_for_status, error_response, validation_detail
from tracer.agents.api.protection import read_body

__all__ = ["ApiView", "parse_json"]

T = TypeVar("T")


class ApiView(View):
    """A Faust view of the Tracer API; subclasses set ``path`` and override ``get`` and/or ``post``."""

    path: ClassVar[str]

    async def head(self, request: Request, **kwargs: Any) -> Any:
        """Answer like GET; aiohttp drops the body."""
        return await self.get(request, **kwargs)

    async def on_request_error(self, request: Request, exc: WebError) -> Any:
        """Faust's own errors (405 for a method the view lacks, ...) in the API's error shape."""
        return error_response(exc.code, code_for_status(exc.code), str(exc.detail))

    @staticmethod
    def aio(request: Request) -> tuple[web.Request, ApiContext]:
        """The aiohttp request Faust passes, and the API context of its application."""
        aio_request = cast(web.Request, request)
        return aio_request, context_of(aio_request)


async def parse_json(request: web.Request, adapter: TypeAdapter[T], *, optional: bool = False) -> T:
    """Read the body (within its limit) and validate it: 400 if it isn't JSON, 422 if it doesn't fit.

    Validation is strict, as the OpenAPI document says: ``false`` is not a number, ``"1"`` is not an
    integer (a JSON integer still fills a float). With ``optional``, an empty body is validated as ``{}``.
    """
    raw = await read_body(request)
    if optional and not raw.strip():
        raw = b"{}"
    try:
        return adapter.validate_json(raw, strict=True)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors(include_url=False)):
            raise ApiError(
                400, "invalid_json", f"the body is not valid JSON: {error.errors()[0]['msg']}"
            ) from None
        raise ApiError(422, "invalid_request", validation_detail(error)) from None
