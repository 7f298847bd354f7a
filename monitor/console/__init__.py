"""The operator console: server-rendered pages over the same reads as the CLI (issue 15)."""
