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

# Time entries: Books only offers the project's own users when logging time, and not inactive ones.
TIME_ENTRY_USER_MUST_BE_ON_PROJECT = True
TIME_ENTRY_USER_MUST_BE_ACTIVE = True

# Status names: the record keeps "nonbillable" while the list filter spells it "non-billable".
EXPENSE_NONBILLABLE_STATUS = "nonbillable"

# Auto numbering (documented shape "INV-00001"; estimates follow the same pattern).
INVOICE_NUMBER_PREFIX = "INV-"
ESTIMATE_NUMBER_PREFIX = "EST-"
NUMBER_DIGITS = 5
