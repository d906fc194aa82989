"""The Books half of a generated world: two organizations, their currencies, the Books users that exist
before any sync (a subset of the Projects people), customers placed against the Projects client companies
on purpose, unrelated contacts and a few expenses. No Books projects: the product creates them.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING

from sandbox import names
from sandbox.seed_projects import DAY_MS, Cast, awkward
from sandbox.world import BooksUser, ClientCompany, Contact, Currency, Expense, Organization, Project, World

if TYPE_CHECKING:
    from sandbox.generator import Preset

CURRENCY_TABLE = {  # code: (name, symbol, rate to USD)
    "USD": ("US Dollar", "$", 1.0),
    "EUR": ("Euro", "€", 1.08),
    "GBP": ("Pound Sterling", "£", 1.27),
    "INR": ("Indian Rupee", "₹", 0.012),
    "AUD": ("Australian Dollar", "$", 0.66),
    "CAD": ("Canadian Dollar", "$", 0.73),
}


def seed_books(
    world: World,
    rng: random.Random,
    preset: Preset,
    cast: Cast,
    clients: list[ClientCompany],
    projects: list[Project],
    now: int,
) -> None:
    main = _organization(world, rng, "Zylker Consulting", "USD", tuple(CURRENCY_TABLE), cast)
    second = _organization(world, rng, "Zylker Consulting Europe", "EUR", ("EUR", "USD", "GBP"), cast)
    _books_users(world, rng, main, cast, now)
    _books_user(world, second, world.people[cast.admin].name, world.people[cast.admin].email, "admin", cast.admin, now)
    currency_ids = {
        c.currency_code: c.currency_id for c in world.currencies.values() if c.organization_id == main.organization_id
    }
    contacts = ContactBook(world, main.organization_id, currency_ids, now)
    for client in clients:
        _counterparts(world, contacts, client, cast.client_kinds[client.id])
    for i in range(max(3, preset.clients // 3)):
        stem = names.COMPANY_STEMS[i % len(names.COMPANY_STEMS)]
        contacts.add(f"{stem} Holdings {i + 1}", rng.choice(tuple(currency_ids)), f"finance{i}@holdings.example")
    for i in range(2):
        contacts.add(f"Office Supplies Vendor {i + 1}", "USD", contact_type="vendor")
    _expenses(world, rng, main, cast, contacts, projects, now)


def _organization(
    world: World, rng: random.Random, name: str, base: str, codes: tuple[str, ...], cast: Cast
) -> Organization:
    org = Organization(
        organization_id=str(rng.randint(700_000_000, 799_999_999)),
        name=name,
        email=world.people[cast.admin].email,
        currency_code=base,
        admin_zuids=[cast.admin],
        member_zuids=[cast.admin],
        created_date=dt.date(2020, 1, 1),
    )
    world.organizations[org.organization_id] = org
    for code in codes:
        label, symbol, rate = CURRENCY_TABLE[code]
        currency = Currency(
            currency_id=world.books_id(),
            organization_id=org.organization_id,
            currency_code=code,
            currency_name=label,
            currency_symbol=symbol,
            is_base_currency=code == base,
            exchange_rate=1.0 if code == base else round(rate / CURRENCY_TABLE[base][2], 6),
        )
        world.currencies[currency.currency_id] = currency
    return org


def _books_users(world: World, rng: random.Random, org: Organization, cast: Cast, now: int) -> None:
    case_differs = None
    for zuid in cast.users:
        if zuid not in cast.in_books:
            continue
        person = world.people[zuid]
        email = person.email
        if case_differs is None and zuid not in (cast.admin, cast.non_admin) and zuid not in cast.inactive:
            # the same mailbox, capitalised differently: matching users by email must ignore case
            case_differs = zuid
            email = email[0].upper() + email[1:]
            awkward(world, "books_user_email_case_differs", zuid)
        role = {cast.admin: "admin", cast.non_admin: "staff"}.get(zuid) or rng.choice(("staff", "timesheetstaff"))
        user = _books_user(world, org, person.name, email, role, zuid, now)
        if zuid in cast.inactive:
            user.status = "inactive"
        if zuid != cast.admin:
            org.member_zuids.append(zuid)


def _books_user(world: World, org: Organization, name: str, email: str, role: str, zuid: str, now: int) -> BooksUser:
    user = BooksUser(
        user_id=world.books_id(),
        organization_id=org.organization_id,
        name=name,
        email=email,
        user_role=role,
        zuid=zuid,
        cost_rate=40.0,
        created_time=now - 400 * DAY_MS,
    )
    world.books_users[user.user_id] = user
    return user


class ContactBook:
    """Creates contacts of one org, refusing a duplicate display name as Books does."""

    def __init__(self, world: World, org_id: str, currency_ids: dict[str, str], now: int) -> None:
        self.world, self.org_id, self.currency_ids, self.now = world, org_id, currency_ids, now
        self.taken: set[str] = set()
        self.by_client: dict[str, Contact] = {}

    def add(self, name: str, currency: str, email: str = "", contact_type: str = "customer") -> Contact:
        if name in self.taken:
            raise AssertionError(f"generator bug: Books contact name {name!r} used twice")
        self.taken.add(name)
        first, _, last = (email.split("@")[0].replace(".", " ").title() or "Accounts Team").partition(" ")
        contact = Contact(
            contact_id=self.world.books_id(),
            organization_id=self.org_id,
            contact_name=name,
            company_name=name,
            contact_type=contact_type,
            currency_id=self.currency_ids[currency],
            email=email,
            first_name=first,
            last_name=last,
            created_time=self.now - 500 * DAY_MS,
            last_modified_time=self.now - 100 * DAY_MS,
        )
        self.world.contacts[contact.contact_id] = contact
        return contact


def _counterparts(world: World, contacts: ContactBook, client: ClientCompany, kind: str) -> None:
    """The Books customers placed against one Projects client company, by its awkward kind."""
    if kind == "same_name":
        contacts.by_client[client.id] = contacts.add(client.name, client.currency_code, client.email)
    elif kind == "currency_mismatch":
        other = "USD" if client.currency_code != "USD" else "EUR"
        contact = contacts.add(client.name, other, client.email)
        awkward(world, "currency_mismatch_contacts", contact.contact_id)
    elif kind == "near_same_name":
        contact = contacts.add(_shouted(client.name), client.currency_code, client.email)
        awkward(world, "near_same_name_contacts", contact.contact_id)
    elif kind == "email_match":  # the client's mailbox, another name: e-mail alone must not match it
        contact = contacts.add("NW Trading Group", client.currency_code, client.email)
        awkward(world, "email_match_contacts", contact.contact_id)
    elif kind == "duplicate_normalized":
        for name in (client.name, _shouted(client.name)):
            contact = contacts.add(name, client.currency_code)
            awkward(world, "duplicate_normalized_contacts", contact.contact_id)


def _shouted(name: str) -> str:
    """ "Acme Ltd" → "ACME Ltd.": the same customer as a person would retype it."""
    first, _, rest = name.partition(" ")
    return f"{first.upper()} {rest}."


def _expenses(
    world: World,
    rng: random.Random,
    org: Organization,
    cast: Cast,
    contacts: ContactBook,
    projects: list[Project],
    now: int,
) -> None:
    account_id, paid_through = world.books_id(), world.books_id()
    by_id = {p.id: p for p in projects}
    today = dt.datetime.fromtimestamp(now / 1000, tz=dt.UTC).date()
    for project_id in cast.projects_with_expenses:
        project = by_id[project_id]
        customer = contacts.by_client[project.primary_client_id or ""]
        for n in range(2):
            expense = Expense(
                expense_id=world.books_id(),
                organization_id=org.organization_id,
                account_id=account_id,
                paid_through_account_id=paid_through,
                date=today - dt.timedelta(days=rng.randint(1, 120)),
                amount=float(rng.randint(20, 900)),
                description=f"Travel for {project.name}"[:100],
                reference_number=f"{project.key}-E{n + 1}",
                is_billable=True,
                customer_id=customer.contact_id,
                currency_id=customer.currency_id,
                status="unbilled",
                created_time=now - 30 * DAY_MS,
                last_modified_time=now - 30 * DAY_MS,
            )
            world.expenses[expense.expense_id] = expense
            awkward(world, "project_expenses", expense.expense_id)
        awkward(world, "projects_with_expenses", project.id)
    for n in range(3):  # the office's own costs, billable to nobody
        expense = Expense(
            expense_id=world.books_id(),
            organization_id=org.organization_id,
            account_id=account_id,
            paid_through_account_id=paid_through,
            date=today - dt.timedelta(days=10 * (n + 1)),
            amount=float(rng.randint(10, 200)),
            account_name="Office Supplies",
            description="Office supplies",
            currency_id=contacts.currency_ids["USD"],
            status="nonbillable",
            created_time=now - 20 * DAY_MS,
            last_modified_time=now - 20 * DAY_MS,
        )
        world.expenses[expense.expense_id] = expense
