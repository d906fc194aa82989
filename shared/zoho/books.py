"""``BooksClient``: one Zoho Books organization — reads and the writes the sync and invoicing need.

Every call carries ``organization_id``; lists page with ``page``/``per_page`` until
``page_context.has_more_page`` is false; bodies are raw JSON (the v3 OpenAPI's ``application/json``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.zoho.books_api import PER_PAGE, RESOURCES, Resource
from shared.zoho.books_models import (
    BooksProject,
    BooksProjectUser,
    BooksTask,
    BooksUser,
    Contact,
    Currency,
    Estimate,
    Expense,
    Invoice,
    Organization,
    RecurringInvoice,
    TimeEntry,
)
from shared.zoho.errors import MalformedResponse, ValidationFailed
from shared.zoho.http import ZohoHttp
from shared.zoho.paging import Page, cursor_number, iterate

M = TypeVar("M", bound=BaseModel)


class BooksClient:
    def __init__(self, http: ZohoHttp, organization_id: str) -> None:
        self.http = http
        self.organization_id = str(organization_id)
        self._role_ids: dict[str, str] | None = None
        self.per_page = PER_PAGE

    # ------------------------------------------------------------------------------------------ plumbing
    def call(
        self,
        method: str,
        path: str,
        *,
        template: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        with_org: bool = True,
    ) -> dict[str, Any]:
        """One Books call; a 2xx whose envelope ``code`` is not 0 is still a refusal."""
        query = {"organization_id": self.organization_id} if with_org else {}
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        endpoint = template or path
        body = self.http.request(method, path, endpoint=endpoint, params=query, json=json).body
        if not isinstance(body, dict):
            raise MalformedResponse("expected a JSON object", api="books", endpoint=f"{method} {endpoint}")
        if body.get("code", 0) != 0:
            raise ValidationFailed(
                str(body.get("message", "")), api="books", endpoint=f"{method} {endpoint}", code=body.get("code")
            )
        return body

    def page(
        self, resource: Resource, model: type[M], cursor: str | None = None, *, path: str | None = None, **filters: Any
    ) -> Page[M]:
        number = cursor_number(cursor, default=1, what="Books page")
        body = self.call(
            "GET",
            path or resource.path,
            template=resource.path,
            params={**filters, "page": number, "per_page": self.per_page},
        )
        rows = body.get(resource.many)
        if not isinstance(rows, list):
            raise MalformedResponse(f"expected a {resource.many!r} list", api="books", endpoint=f"GET {resource.path}")
        context = body.get("page_context")
        more = bool(context.get("has_more_page")) if isinstance(context, dict) else False
        return Page([model.model_validate(row) for row in rows], str(number + 1) if more else None)

    def _iter(self, many: str, model: type[M], *, path: str | None = None, **filters: Any) -> Iterator[M]:
        resource = RESOURCES[many]
        return iterate(lambda cursor: self.page(resource, model, cursor, path=path, **filters))

    def _one(self, many: str, model: type[M], method: str, record_id: str | None = None, **kw: Any) -> M:
        resource = RESOURCES[many]
        path = resource.path if record_id is None else f"{resource.path}/{record_id}"
        template = resource.path if record_id is None else f"{resource.path}/{{{resource.one}_id}}"
        body = self.call(method, path, template=template, **kw)
        record = body.get(resource.one)
        if not isinstance(record, dict):
            raise MalformedResponse(f"expected a {resource.one!r} object", api="books", endpoint=f"{method} {template}")
        return model.model_validate(record)

    def _delete(self, many: str, record_id: str) -> None:
        resource = RESOURCES[many]
        self.call("DELETE", f"{resource.path}/{record_id}", template=f"{resource.path}/{{{resource.one}_id}}")

    def _post_status(self, path: str, template: str) -> None:
        self.call("POST", path, template=template)

    # ------------------------------------------------------------------------------------------ organization
    def list_organizations(self) -> list[Organization]:
        # the only call that works without organization_id (reference §7)
        body = self.call("GET", "/organizations", with_org=False)
        return [Organization.model_validate(o) for o in body.get("organizations") or []]

    def get_organization(self) -> Organization:
        return self._one("organizations", Organization, "GET", self.organization_id)

    # ------------------------------------------------------------------------------------------ users
    def iter_users(self, status: str = "All") -> Iterator[BooksUser]:
        return self._iter("users", BooksUser, filter_by=f"Status.{status}")

    def get_user(self, user_id: str) -> BooksUser:
        return self._one("users", BooksUser, "GET", user_id)

    def create_user(self, *, name: str, email: str, role: str = "staff", cost_rate: float | None = None) -> BooksUser:
        payload: dict[str, Any] = {"name": name, "email": email}
        role_id = self._role_id(role)
        if role_id:
            payload["role_id"] = role_id  # Books takes a role_id, whose values differ per organization
        if cost_rate is not None:
            payload["cost_rate"] = cost_rate
        return self._one("users", BooksUser, "POST", json=payload)

    def _role_id(self, role: str) -> str:
        if self._role_ids is None:
            self._role_ids = {u.user_role: u.role_id for u in self.iter_users("All") if u.role_id}
        return self._role_ids.get(role, "")

    def mark_user_inactive(self, user_id: str) -> None:
        self._post_status(f"/users/{user_id}/inactive", "/users/{user_id}/inactive")

    def mark_user_active(self, user_id: str) -> None:
        self._post_status(f"/users/{user_id}/active", "/users/{user_id}/active")

    # ------------------------------------------------------------------------------------------ currencies
    def iter_currencies(self) -> Iterator[Currency]:
        return self._iter("currencies", Currency)

    # ------------------------------------------------------------------------------------------ contacts
    def iter_contacts(self, **filters: Any) -> Iterator[Contact]:
        return self._iter("contacts", Contact, **filters)

    def find_contacts(self, *, name: str | None = None, email: str | None = None) -> list[Contact]:
        """Exact-name and email matches (Books' own filters; the caller normalises names further)."""
        found: dict[str, Contact] = {}
        if name:
            for contact in self.iter_contacts(contact_name=name, filter_by="Status.All"):
                found[contact.contact_id] = contact
        if email:
            for contact in self.iter_contacts(email=email, filter_by="Status.All"):
                found[contact.contact_id] = contact
        return list(found.values())

    def get_contact(self, contact_id: str) -> Contact:
        return self._one("contacts", Contact, "GET", contact_id)

    def create_contact(self, payload: dict[str, Any]) -> Contact:
        return self._one("contacts", Contact, "POST", json=payload)

    def update_contact(self, contact_id: str, payload: dict[str, Any]) -> Contact:
        return self._one("contacts", Contact, "PUT", contact_id, json=payload)

    # ------------------------------------------------------------------------------------------ projects
    def iter_projects(self, **filters: Any) -> Iterator[BooksProject]:
        return self._iter("projects", BooksProject, **filters)

    def get_project(self, project_id: str) -> BooksProject:
        return self._one("projects", BooksProject, "GET", project_id)

    def create_project(self, payload: dict[str, Any]) -> BooksProject:
        return self._one("projects", BooksProject, "POST", json=payload)

    def update_project(self, project_id: str, payload: dict[str, Any]) -> BooksProject:
        return self._one("projects", BooksProject, "PUT", project_id, json=payload)

    def mark_project_active(self, project_id: str) -> None:
        self._post_status(f"/projects/{project_id}/active", "/projects/{project_id}/active")

    def mark_project_inactive(self, project_id: str) -> None:
        self._post_status(f"/projects/{project_id}/inactive", "/projects/{project_id}/inactive")

    def iter_project_users(self, project_id: str) -> Iterator[BooksProjectUser]:
        # no page_context in the documented response: one page
        body = self.call("GET", f"/projects/{project_id}/users", template="/projects/{project_id}/users")
        return iter([BooksProjectUser.model_validate(u) for u in body.get("users") or []])

    def assign_project_users(self, project_id: str, user_ids: list[str], *, cost_rate: float = 0.0) -> None:
        # the OAS marks the top-level cost_rate as required when assigning
        payload = {"users": [{"user_id": str(u)} for u in user_ids], "cost_rate": f"{cost_rate:.2f}"}
        self.call("POST", f"/projects/{project_id}/users", template="/projects/{project_id}/users", json=payload)

    # ------------------------------------------------------------------------------------------ project tasks
    def iter_project_tasks(self, project_id: str) -> Iterator[BooksTask]:
        resource = Resource("/projects/{project_id}/tasks", "tasks", "task", "task")
        path = f"/projects/{project_id}/tasks"
        return iterate(lambda cursor: self.page(resource, BooksTask, cursor, path=path))

    def _task_call(self, method: str, project_id: str, task_id: str | None, payload: Any = None) -> dict[str, Any]:
        path = f"/projects/{project_id}/tasks" + (f"/{task_id}" if task_id else "")
        template = "/projects/{project_id}/tasks" + ("/{task_id}" if task_id else "")
        return self.call(method, path, template=template, json=payload)

    def create_project_task(self, project_id: str, payload: dict[str, Any]) -> BooksTask:
        body = self._task_call("POST", project_id, None, payload)
        return BooksTask.model_validate({"project_id": project_id, **body["task"]})

    def update_project_task(self, project_id: str, task_id: str, payload: dict[str, Any]) -> BooksTask:
        body = self._task_call("PUT", project_id, task_id, payload)
        return BooksTask.model_validate({"project_id": project_id, **body["task"]})

    def delete_project_task(self, project_id: str, task_id: str) -> None:
        self._task_call("DELETE", project_id, task_id)

    # ------------------------------------------------------------------------------------------ time entries
    def iter_time_entries(
        self,
        *,
        project_id: str | None = None,
        user_id: str | None = None,
        filter_by: str | None = None,
        from_date: dt.date | None = None,
        to_date: dt.date | None = None,
    ) -> Iterator[TimeEntry]:
        if (from_date or to_date) and filter_by is None:
            filter_by = "Date.CustomDate"  # the pairing of from/to with CustomDate is inferred (reference §13)
        return self._iter(
            "time_entries",
            TimeEntry,
            project_id=project_id,
            user_id=user_id,
            filter_by=filter_by,
            from_date=from_date.isoformat() if from_date else None,
            to_date=to_date.isoformat() if to_date else None,
        )

    def get_time_entry(self, time_entry_id: str) -> TimeEntry:
        return self._one("time_entries", TimeEntry, "GET", time_entry_id)

    def create_time_entry(self, payload: dict[str, Any]) -> TimeEntry:
        return self._one("time_entries", TimeEntry, "POST", json=payload)

    def update_time_entry(self, time_entry_id: str, payload: dict[str, Any]) -> TimeEntry:
        return self._one("time_entries", TimeEntry, "PUT", time_entry_id, json=payload)

    def delete_time_entry(self, time_entry_id: str) -> None:
        self._delete("time_entries", time_entry_id)

    # ------------------------------------------------------------------------------------------ invoices
    def iter_invoices(
        self,
        *,
        last_modified_time: str | None = None,
        reference_number: str | None = None,
        customer_id: str | None = None,
        **filters: Any,
    ) -> Iterator[Invoice]:
        return self._iter(
            "invoices",
            Invoice,
            last_modified_time=last_modified_time,
            reference_number=reference_number,
            customer_id=customer_id,
            **filters,
        )

    def get_invoice(self, invoice_id: str) -> Invoice:
        return self._one("invoices", Invoice, "GET", invoice_id)

    def create_invoice(self, payload: dict[str, Any], *, ignore_auto_number_generation: bool = False) -> Invoice:
        params = {"ignore_auto_number_generation": "true"} if ignore_auto_number_generation else None
        return self._one("invoices", Invoice, "POST", json=payload, params=params)

    def update_invoice(self, invoice_id: str, payload: dict[str, Any]) -> Invoice:
        return self._one("invoices", Invoice, "PUT", invoice_id, json=payload)

    def delete_invoice(self, invoice_id: str) -> None:
        self._delete("invoices", invoice_id)

    def mark_invoice(self, invoice_id: str, status: str) -> None:
        """``status``: sent | void | draft."""
        self._post_status(f"/invoices/{invoice_id}/status/{status}", f"/invoices/{{invoice_id}}/status/{status}")

    # ------------------------------------------------------------------------------------------ estimates
    def iter_estimates(self, **filters: Any) -> Iterator[Estimate]:
        return self._iter("estimates", Estimate, **filters)

    def get_estimate(self, estimate_id: str) -> Estimate:
        return self._one("estimates", Estimate, "GET", estimate_id)

    def create_estimate(self, payload: dict[str, Any]) -> Estimate:
        return self._one("estimates", Estimate, "POST", json=payload)

    def update_estimate(self, estimate_id: str, payload: dict[str, Any]) -> Estimate:
        return self._one("estimates", Estimate, "PUT", estimate_id, json=payload)

    def delete_estimate(self, estimate_id: str) -> None:
        self._delete("estimates", estimate_id)

    # ------------------------------------------------------------------------------------------ expenses
    def iter_expenses(self, **filters: Any) -> Iterator[Expense]:
        return self._iter("expenses", Expense, **filters)

    def get_expense(self, expense_id: str) -> Expense:
        return self._one("expenses", Expense, "GET", expense_id)

    def create_expense(self, payload: dict[str, Any]) -> Expense:
        return self._one("expenses", Expense, "POST", json=payload)

    def update_expense(self, expense_id: str, payload: dict[str, Any]) -> Expense:
        return self._one("expenses", Expense, "PUT", expense_id, json=payload)

    def delete_expense(self, expense_id: str) -> None:
        self._delete("expenses", expense_id)

    # ------------------------------------------------------------------------------------------ recurring
    def iter_recurring_invoices(self, **filters: Any) -> Iterator[RecurringInvoice]:
        return self._iter("recurring_invoices", RecurringInvoice, **filters)

    def get_recurring_invoice(self, recurring_invoice_id: str) -> RecurringInvoice:
        return self._one("recurring_invoices", RecurringInvoice, "GET", recurring_invoice_id)

    def create_recurring_invoice(self, payload: dict[str, Any]) -> RecurringInvoice:
        return self._one("recurring_invoices", RecurringInvoice, "POST", json=payload)

    def update_recurring_invoice(self, recurring_invoice_id: str, payload: dict[str, Any]) -> RecurringInvoice:
        return self._one("recurring_invoices", RecurringInvoice, "PUT", recurring_invoice_id, json=payload)

    def delete_recurring_invoice(self, recurring_invoice_id: str) -> None:
        self._delete("recurring_invoices", recurring_invoice_id)
