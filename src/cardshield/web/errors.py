"""One place that turns every failure into the public error object.

``{"error": {"type", "code", "message", "param"}}`` with a matching status, for our own
errors, request validation, unknown routes and anything unexpected. Messages are ours:
neither the offending input nor a stack trace ever reaches a client.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cardshield.errors import CardshieldError

log = logging.getLogger("cardshield.web")


def error_response(
    status: int, type_: str, code: str, message: str, param: str | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": type_, "code": code, "message": message, "param": param}},
        status_code=status,
    )


def _param(loc: tuple[object, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if not parts:
        return None
    head, *rest = parts
    return head + "".join(f"[{p}]" for p in rest)


_VALIDATION_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
    "json_invalid": "The body is not valid JSON.",
    "model_attributes_type": "The body must be a JSON object.",
    "dict_type": "This field must be an object.",
}


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"type": "invalid", "loc": (), "msg": ""}
    kind = str(first.get("type", ""))
    # pydantic's msg never contains the input value; we still prefer our own wording.
    message = _VALIDATION_MESSAGES.get(kind) or str(first.get("msg", "Invalid value."))
    code = (
        "parameter_missing"
        if kind == "missing"
        else ("parameter_unknown" if kind == "extra_forbidden" else "parameter_invalid")
    )
    if kind == "json_invalid":
        code = "invalid_json"
    return error_response(
        400, "invalid_request_error", code, message, _param(tuple(first.get("loc", ())))
    )


async def _ours(request: Request, exc: CardshieldError) -> JSONResponse:
    if exc.http_status >= 500:
        log.error("request failed: %s %s", type(exc).__name__, exc.code)
    response = error_response(exc.http_status, exc.type, exc.code, exc.message, exc.param)
    retry_after = getattr(exc, "retry_after", None)  # rate limits say when to come back
    if retry_after is not None:
        response.headers["retry-after"] = str(retry_after)
    return response


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return error_response(404, "invalid_request_error", "resource_missing", "Not found.")
    if exc.status_code == 405:
        return error_response(
            405, "invalid_request_error", "method_not_allowed", "Method not allowed."
        )
    return error_response(exc.status_code, "invalid_request_error", "http_error", str(exc.detail))


async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
    if not exc.connection_invalidated:
        return await _unexpected(request, exc)
    # The server dropped the connection (restart, fail-over): the pool has been discarded and
    # the next request gets a fresh connection. Nothing was committed by this one.
    log.error("database connection lost (%s); the pool reconnects", type(exc.orig).__name__)
    response = error_response(
        503, "api_error", "database_unavailable", "The database connection was lost; retry."
    )
    response.headers["retry-after"] = "1"
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error")  # redacted by the logging set-up
    return error_response(500, "api_error", "internal_error", "An internal error occurred.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(CardshieldError, _ours)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
