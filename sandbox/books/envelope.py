"""The Books envelope: ``{"code": 0, "message": ..., <resource>: ...}`` and its error twin."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from sandbox.books import rules


class BooksError(Exception):
    """Raised anywhere in a handler; the dispatcher turns it into ``{"code", "message"}`` with ``status``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "message": self.message}, status_code=self.status)


def success(message: str = "success", *, status: int = 200, **payload: Any) -> JSONResponse:
    return JSONResponse({"code": 0, "message": message, **payload}, status_code=status)


def does_not_exist(resource: str) -> BooksError:
    return BooksError(404, rules.CODE_DOES_NOT_EXIST, f"{resource} does not exist.")


def invalid_value(field: str) -> BooksError:
    return BooksError(400, rules.CODE_INVALID_VALUE, f"Invalid value passed for {field}")


def required(field: str) -> BooksError:
    return BooksError(400, rules.CODE_INVALID_VALUE, f"Invalid value passed for {field}. {field} is required.")


def bad_request(code: int, message: str) -> BooksError:
    return BooksError(400, code, message)
