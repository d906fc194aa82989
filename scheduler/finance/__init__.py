"""The Finance view and project-side creation of invoices, quotes, expenses and recurring invoices (design §8)."""
