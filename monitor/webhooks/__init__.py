"""Truv webhooks: signature check, the receiver, and applying events to loans and connections."""
