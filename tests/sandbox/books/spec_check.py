"""Validate sandbox Books responses against Zoho's own OpenAPI documents (../shared/reference/books-openapi).

The documents are Zoho's, and in a few places they contradict the live API and the reference. Each such
place is corrected in ``SPEC_CORRECTIONS`` below — the ONE allow-list, each entry with its reason — and
nowhere else; everything not listed is validated as published.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

SPEC_DIR = Path(__file__).resolve().parents[4] / "shared" / "reference" / "books-openapi"
SPEC_ROOT = "https://www.zohoapis.com/books/v3"


@dataclass(frozen=True)
class TypeCorrection:
    """Property ``name`` (anywhere in ``file``) is declared ``declared`` but the API sends ``actual``."""

    file: str
    name: str
    declared: str
    actual: str
    reason: str


@dataclass(frozen=True)
class StatusCorrection:
    """``method path`` answers ``actual`` where the document lists only ``declared``."""

    file: str
    method: str
    path: str
    declared: str
    actual: str
    reason: str


# Every document-wide fix: a list's page_context is an object in real responses (reference §4).
PAGE_CONTEXT_IS_OBJECT = (
    "reference §4: the OAS renders page_context as an array by mistake; real responses use an object"
)

AMOUNTS = "invoice amounts are numbers (reference §10 example, live API)"
DURATIONS = 'durations are "HH:mm" strings (reference §12 example)'

SPEC_CORRECTIONS: list[TypeCorrection | StatusCorrection] = [
    TypeCorrection("invoices.yml", "total", "string", "number", AMOUNTS),
    TypeCorrection("invoices.yml", "balance", "string", "number", AMOUNTS),
    TypeCorrection("projects.yml", "total", "string", "number", AMOUNTS),
    TypeCorrection("projects.yml", "balance", "string", "number", AMOUNTS),
    TypeCorrection("tasks.yml", "billed_hours", "number", "string", DURATIONS),
    TypeCorrection("tasks.yml", "log_time", "number", "string", DURATIONS),
    TypeCorrection("tasks.yml", "un_billed_hours", "number", "string", DURATIONS),
    TypeCorrection("tasks.yml", "rate", "integer", "number", "rates are amounts with decimals (projects.yml: number)"),
    TypeCorrection("expenses.yml", "page", "string", "integer", "page_context.page is a number in every other module"),
    TypeCorrection("expenses.yml", "per_page", "string", "integer", "page_context.per_page likewise"),
    TypeCorrection("recurring-invoices.yml", "quantity", "integer", "number", "invoices.yml types quantity as number"),
    StatusCorrection("expenses.yml", "post", "/expenses", "200", "201", "creates answer 201 (reference §2)"),
    StatusCorrection("users.yml", "post", "/users", "200", "201", "creates answer 201 (reference §2)"),
    StatusCorrection(
        "recurring-invoices.yml", "post", "/recurringinvoices/{recurring_invoice_id}/status/stop", "201", "200",
        "status changes answer 200 like every other module's (reference §2)",
    ),
    StatusCorrection(
        "recurring-invoices.yml", "post", "/recurringinvoices/{recurring_invoice_id}/status/resume", "201", "200",
        "status changes answer 200 like every other module's (reference §2)",
    ),
]  # fmt: skip

# Which document describes a path: the longest matching prefix wins (``/projects/timeentries`` would
# otherwise be taken for ``/projects/{project_id}``).
_FILE_BY_PREFIX = [
    (r"^/projects/timeentries", "time-entries.yml"),
    (r"^/projects/[^/]+/tasks", "tasks.yml"),
    (r"^/projects", "projects.yml"),
    (r"^/contacts", "contacts.yml"),
    (r"^/settings/currencies", "currency.yml"),
    (r"^/estimates", "estimates.yml"),
    (r"^/expenses", "expenses.yml"),
    (r"^/invoices", "invoices.yml"),
    (r"^/organizations", "organizations.yml"),
    (r"^/recurringinvoices", "recurring-invoices.yml"),
    (r"^/users", "users.yml"),
]


def spec_file_for(path: str) -> str:
    return next(file for pattern, file in _FILE_BY_PREFIX if re.match(pattern, path))


@functools.cache
def openapi(file: str) -> OpenAPI:
    spec = yaml.safe_load((SPEC_DIR / file).read_text())
    return OpenAPI.from_dict(corrected(spec, file))


def corrected(spec: dict[str, Any], file: str) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    _page_context_as_object(spec)
    for fix in SPEC_CORRECTIONS:
        if fix.file != file:
            continue
        if isinstance(fix, TypeCorrection):
            _retype(spec, fix)
        else:
            responses = spec["paths"][fix.path][fix.method]["responses"]
            responses[fix.actual] = responses[fix.declared]
    return spec


def _nodes(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _page_context_as_object(spec: dict[str, Any]) -> None:
    for node in list(_nodes(spec)):
        context = node.get("properties", {}).get("page_context") if isinstance(node.get("properties"), dict) else None
        if isinstance(context, dict) and context.get("type") == "array":
            node["properties"]["page_context"] = context["items"]


def _retype(spec: dict[str, Any], fix: TypeCorrection) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    for node in list(_nodes(spec)):
        properties = node.get("properties")
        if not isinstance(properties, dict) or fix.name not in properties:
            continue
        target = properties[fix.name]
        if "$ref" in target:
            target = schemas[target["$ref"].rsplit("/", 1)[-1]]
        if target.get("type") == fix.declared:
            target["type"] = fix.actual
            target.pop("example", None)


def check_response(response: requests.Response) -> None:
    """Raise if a successful Books response does not match Zoho's document (errors are not documented)."""
    if not 200 <= response.status_code < 300:
        return
    url = urlsplit(response.request.url)
    path = url.path.split("/books/v3", 1)[1]
    zoho = urlsplit(SPEC_ROOT)
    prepared = response.request.copy()
    prepared.url = urlunsplit((zoho.scheme, zoho.netloc, zoho.path + path, url.query, ""))
    openapi(spec_file_for(path)).validate_response(RequestsOpenAPIRequest(prepared), RequestsOpenAPIResponse(response))
