"""Read-only views of the database for people: the ledger, and (later) compliance reports."""
