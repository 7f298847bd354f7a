"""Truv webhooks' HTTP face: verify the signature, store the raw event, answer (monitor.store.webhook_events
applies it)."""
