"""Every Books behaviour the reference marks **(inferred)**, chosen here and nowhere else.

When a real Zoho response proves one of these wrong, correct it here; routes and tests read these names.
"""

from __future__ import annotations

# Paging: default and maximum are documented (200); what happens above the maximum is not. We reject
# rather than clamp, so a client that sends per_page=500 fails here before it misbehaves against Zoho.
PER_PAGE_DEFAULT = 200
PER_PAGE_MAX = 200
REJECT_OVER_LIMIT_PER_PAGE = True

# Application codes (reference §5: only 0, 57, 1000, 1002, 6041 are seen verbatim).
CODE_INVALID_VALUE = 2  # "Invalid value passed for <field>"
CODE_INVALID_JSONSTRING = 4  # malformed body
CODE_INVALID_URL = 5  # unknown path under /books/v3
CODE_METHOD_NOT_ALLOWED = 37
CODE_DUPLICATE = 1001  # e.g. invoice number already used
CODE_DOES_NOT_EXIST = 1002
CODE_DUPLICATE_CONTACT_NAME = 3062
CODE_NOT_IN_ORGANIZATION = 6041  # also used when organization_id is missing
CODE_ALREADY_INVOICED = 36010  # billing an already-invoiced item, or editing/deleting one
CODE_NOT_ALLOWED_IN_STATE = 36020  # e.g. sending a void invoice, resuming an active recurrence

# Contacts: the display name must be unique; compared case-insensitively after trimming.
CONTACT_NAME_UNIQUE_CASE_INSENSITIVE = True

# Time entries: Books only offers the project's own users when logging time (inferred).
TIME_ENTRY_USER_MUST_BE_ON_PROJECT = True
# ...but an inactive user can own time: Zoho's own integration adds Projects users missing in Books as "Inactive
# Timesheet Staff Users" and writes their time to them (Books help, "Integrate Zoho Books with Zoho Projects";
# a Zoho community thread shows synced time entries owned by such a new inactive timesheet-staff user).
# A deleted user owns nothing.
TIME_ENTRY_USER_MUST_BE_ACTIVE = False

# Status names: the record keeps "nonbillable" while the list filter spells it "non-billable".
EXPENSE_NONBILLABLE_STATUS = "nonbillable"

# Auto numbering (documented shape "INV-00001"; estimates follow the same pattern).
INVOICE_NUMBER_PREFIX = "INV-"
ESTIMATE_NUMBER_PREFIX = "EST-"
NUMBER_DIGITS = 5

# Projects: time can be logged only on an active project; a project (or task) whose time has been invoiced
# cannot be deleted, and a task with logged time cannot be deleted.
TIME_ENTRY_PROJECT_MUST_BE_ACTIVE = True
# The official OpenAPI marks a top-level ``cost_rate`` as required when assigning users to a project.
PROJECT_USERS_REQUIRE_COST_RATE = True

# Time entries: ``Status.Unbilled`` lists billable, not-yet-invoiced entries only; one entry is at most a
# day long; ``Date.ThisWeek`` and friends count weeks from Sunday (Books' default organization setting).
UNBILLED_FILTER_EXCLUDES_NON_BILLABLE = True
MAX_MINUTES_PER_ENTRY = 24 * 60
WEEK_START_WEEKDAY = 6  # Python weekday(): Monday 0 ... Sunday 6

# Invoices: everything billed on one invoice belongs to its customer (Books only offers that customer's
# projects, time and expenses); the invoice is in the customer's currency; non-billable time or expenses
# cannot be billed. Voiding frees the billed items (a void invoice bills nothing); draft-from-void re-bills.
INVOICE_ITEMS_MUST_MATCH_CUSTOMER = True
INVOICE_CURRENCY_MUST_MATCH_CUSTOMER = True
VOID_RELEASES_BILLED_ITEMS = True
# ``last_modified_time`` on the invoice list means "modified at or after".
LAST_MODIFIED_FILTER_INCLUSIVE = True
