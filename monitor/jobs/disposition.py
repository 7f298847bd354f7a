"""An operator's word on a finding: acknowledged (seen, being looked at) or resolved, with a note.

The CLI (`monitor changes ack|resolve`) and the console share this, so both check the same and audit alike.
"""

from __future__ import annotations

from monitor.errors import InputError
from monitor.services import Context
from monitor.store.audit import ACTOR
from monitor.store.db import session
from monitor.store.handoff_payloads import FindingDict
from monitor.store.monitoring import ACTIONS, DispositionRefused, dispose

MAX_NOTE = 500


def checked_note(note: str) -> str:
    """The note as kept: stripped, printable, at most MAX_NOTE characters. InputError otherwise."""
    text = note.strip()
    if not text or not text.isprintable() or len(text) > MAX_NOTE:
        raise InputError("--note", "", f"expected a printable text of 1 to {MAX_NOTE} characters saying why")
    return text


def dispose_finding(context: Context, finding_id: int, *, action: str, note: str) -> FindingDict:
    """Move one finding (`ack` or `resolve`); the audit entry names ACTOR as who. InputError (exit 2) for an
    unknown finding or one whose disposition does not allow it; nothing is changed then."""
    if action not in ACTIONS:
        raise InputError("action", "", f"expected ack or resolve, got {action!r}")
    text = checked_note(note)
    now = context.clock.now()
    try:
        with session(context.engine) as s:
            return dispose(s, finding_id, action=action, note=text, by=ACTOR.get(), now=now)
    except DispositionRefused as exc:
        raise InputError("finding", str(finding_id), str(exc)) from None
