"""The classic Projects API's wire conventions: error envelope, ``index``/``range`` paging, 204 for no data.

Facts the reference marks "(inferred)" are constants here so they can be corrected in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

# Zoho's error-code table (reference §4). Which 400 code means what is inferred from Zoho's code names.
CODE_NOT_FOUND = 6404
CODE_PARAM_MISSING = 6831  # "Input Parameter Missing"
CODE_PARAM_INVALID = 6832  # "Input Parameter Does not Match the Pattern Specified"
CODE_UNAUTHORIZED = 6401

# A caller without a role in the portal (or without the right to do a write): Zoho's table lists 6401 as
# "Unauthorized access" on HTTP 401; we chose that pair (inferred) rather than inventing a 403 body.
NO_ROLE_STATUS = 401
NO_ROLE_CODE = CODE_UNAUTHORIZED

# (inferred) A path the API does not have: Zoho's table gives 6404 (and 6504) for HTTP 404; the text is ours.
# A path it has, called with a method it does not take: the classic table lists no 405, V3 answers 405; the
# code is ours. Either way the body is the envelope, never a plain-text "Not Found".
UNKNOWN_PATH_STATUS = 404
UNKNOWN_PATH_CODE = CODE_NOT_FOUND
UNKNOWN_PATH_MESSAGE = "Invalid URL: the Zoho Projects API has no such path."
METHOD_NOT_ALLOWED_STATUS = 405
METHOD_NOT_ALLOWED_CODE = 6405

DEFAULT_RANGE = 100
MAX_RANGE = 200  # docs: "cannot be more than 200"; rejecting (not clamping) a larger one is inferred


T = TypeVar("T")


class ProjectsError(ValueError):
    """A request Zoho would refuse; rendered as ``{"error": {"code", "message"}}``.

    A ValueError so that acts sharing the same rules satisfy the admin route's "bad params → 400" contract.
    """

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message}}, status_code=self.status)


def not_found(what: str) -> ProjectsError:
    return ProjectsError(404, CODE_NOT_FOUND, f"{what} not found.")


def missing_param(name: str) -> ProjectsError:
    return ProjectsError(400, CODE_PARAM_MISSING, f"Input parameter {name!r} is missing.")


def invalid_param(name: str, value: Any, expected: str) -> ProjectsError:
    return ProjectsError(400, CODE_PARAM_INVALID, f"Invalid value {value!r} for {name!r}: expected {expected}.")


def forbidden(message: str) -> ProjectsError:
    return ProjectsError(NO_ROLE_STATUS, NO_ROLE_CODE, message)


def no_content() -> Response:
    # Classic endpoints answer an empty page with 204 and a truly empty body (no "null", no "{}").
    return Response(status_code=204)


def json(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


def page_window(request: Request) -> tuple[int, int]:
    """(offset, count) from ``index`` (1-based; 0 also means the first record) and ``range``."""
    index = _int_param(request, "index", 1)
    count = _int_param(request, "range", DEFAULT_RANGE)
    if index < 0:
        raise invalid_param("index", index, "a record position >= 1")
    if count < 1 or count > MAX_RANGE:
        raise invalid_param("range", count, f"1 to {MAX_RANGE}")
    return max(index - 1, 0), count


def page_of(request: Request, records: Sequence[T]) -> list[T]:
    offset, count = page_window(request)
    return list(records[offset : offset + count])


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_param(name, raw, "an integer") from None


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Turn a ProjectsError raised anywhere in a handler into Zoho's error envelope."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ProjectsError as exc:
            return exc.response()

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def route(path: str, handler: Handler, methods: list[str]) -> list[Route]:
    """The route with and without its trailing slash: Zoho answers both, and a redirect would drop a POST body."""
    bare = path.rstrip("/")
    endpoint = guarded(handler)
    return [Route(bare + "/", endpoint, methods=methods), Route(bare, endpoint, methods=methods)]


async def params_of(request: Request) -> dict[str, str]:
    """Classic writes take form-encoded fields; Zoho also reads them from the query string."""
    params = dict(request.query_params)
    if request.method in {"POST", "PUT", "PATCH"}:
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


_ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def unknown_path_route(known: Sequence[BaseRoute]) -> Route:
    """Last route of the Projects mount: an unknown path (or method) gets Zoho's envelope, not Starlette's text."""

    async def unknown(request: Request) -> Response:
        if any(r.matches(request.scope)[0] is Match.PARTIAL for r in known):
            message = f"The HTTP method {request.method} is not allowed for this URL."
            return ProjectsError(METHOD_NOT_ALLOWED_STATUS, METHOD_NOT_ALLOWED_CODE, message).response()
        return ProjectsError(UNKNOWN_PATH_STATUS, UNKNOWN_PATH_CODE, UNKNOWN_PATH_MESSAGE).response()

    return Route("/{rest:path}", unknown, methods=_ALL_METHODS)
