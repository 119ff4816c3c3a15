"""Errors as RFC 9457 problem details: one JSON shape for every error the API sends.

``{"type": ..., "title": ..., "status": ..., "detail": ..., "instance": ...}``
with ``Content-Type: application/problem+json``.  The ``detail`` is the one-line
message of the auditkit error (which names the missing permission, the field,
the limit); nothing else of the server leaks (no traceback, no token).

A bad query or path parameter, whether malformed, unknown or out of range, is a
``400`` whose ``detail`` begins with the parameter's name and whose ``parameter``
member names it, whoever found it (FastAPI's validation or the endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from auditkit.errors import (
    AccessDenied,
    AuditkitError,
    IntegrityError,
    SchemaError,
    StoreError,
    UsageError,
)

__all__ = ["PROBLEM_TYPES", "Problem", "bad_parameter", "install_handlers", "problem_response"]

MEDIA_TYPE: Final = "application/problem+json"
_BASE: Final = "https://auditkit.dev/problems/"

#: Problem type (last part of its URI) -> (status, title).
PROBLEM_TYPES: Final[dict[str, tuple[int, str]]] = {
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Access denied"),
    "not-found": (404, "Not found"),
    "bad-request": (400, "Bad request"),
    "too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "integrity": (409, "The trail does not verify"),
    "unavailable": (503, "Store unavailable"),
    "method-not-allowed": (405, "Method not allowed"),
    "server-error": (500, "Internal server error"),
}


class Problem(Exception):
    """An error the API answers with a problem document."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        parameter: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}
        self.parameter = parameter


def bad_parameter(name: str, reason: str) -> Problem:
    """A ``400`` naming the query or path parameter ``name``: ``"name: reason"``.

    >>> p = bad_parameter("limit", "at least 1, got 0")
    >>> p.kind, p.detail, p.parameter
    ('bad-request', 'limit: at least 1, got 0', 'limit')
    """
    return Problem("bad-request", f"{name}: {reason}", parameter=name)


def problem_response(
    kind: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    parameter: str | None = None,
) -> JSONResponse:
    """A problem document response of type ``kind``."""
    status, title = PROBLEM_TYPES[kind]
    body: dict[str, Any] = {"type": _BASE + kind, "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    if parameter:
        body["parameter"] = parameter
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _shown(value: Any) -> str:
    """The value given, short: a number as it is, anything else quoted."""
    text = str(value)
    if text.lstrip("-").isdigit() and len(text) <= 40:
        return text
    text = repr(text)
    return text if len(text) <= 42 else text[:40] + "…'"


def _reason(err: Mapping[str, Any]) -> str:
    """Plain words for one of pydantic's validation errors of a parameter."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "missing":
        return "required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "?")
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        return f"{words} {bound}, got {_shown(got)}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"expected a whole number, got {_shown(got)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'another value')}, got {_shown(got)}"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length', '?')} characters"
    if kind == "string_too_short":
        return f"at least {ctx.get('min_length', '?')} characters"
    return str(err.get("msg", "invalid"))


def _kind_of(exc: AuditkitError) -> str:
    if isinstance(exc, AccessDenied):
        text = str(exc)
        if "token" in text and ("invalid" in text or "not an auditkit token" in text):
            return "unauthenticated"
        return "forbidden"
    if isinstance(exc, IntegrityError):
        return "integrity"
    if isinstance(exc, StoreError):
        return "unavailable"
    if isinstance(exc, SchemaError | UsageError):
        return "bad-request"
    return "bad-request"


def install_handlers(app: FastAPI) -> None:
    """Map every error to a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.kind,
            exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            parameter=exc.parameter,
        )

    @app.exception_handler(AuditkitError)
    async def _auditkit(request: Request, exc: AuditkitError) -> JSONResponse:
        from auditkit.access import redact_secrets

        kind = _kind_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if kind == "unauthenticated" else None
        # a store's error may name its location, and with it a database password
        detail = redact_secrets(str(exc))
        return problem_response(kind, detail, instance=request.url.path, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # a bad parameter is a 400 naming it, as the endpoints' own checks answer
        # (FastAPI's default, 422 in pydantic's words, differed by who found it)
        parts = []
        names: list[str] = []
        for err in exc.errors()[:5]:
            where = ".".join(
                str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header")
            )
            names.append(where)
            parts.append(f"{where}: {_reason(err)}")
        return problem_response(
            "bad-request",
            "; ".join(parts) or "invalid request",
            instance=request.url.path,
            parameter=names[0] if names else None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {
            404: "not-found",
            405: "method-not-allowed",
            413: "too-large",
            415: "unsupported-media-type",
            401: "unauthenticated",
            403: "forbidden",
        }.get(exc.status_code, "bad-request")
        return problem_response(kind, str(exc.detail), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            "server-error", "the server failed on this request", instance=request.url.path
        )
