"""Talking to Truv: the HTTP client, wire parsing, pacing, and secret handling."""
