"""Finance work of the worker: sending project-side requests to Books (invoicing) and reading Books back (pull)."""
