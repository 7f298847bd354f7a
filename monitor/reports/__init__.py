"""Read-only views for people (ledger, status, loans, re-auth, the compliance report): they shape and
render typed rows read through `monitor.store`, and never speak SQL themselves."""
