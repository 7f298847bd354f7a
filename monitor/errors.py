"""One exception tree; each error carries what the CLI needs to say and which exit code it means."""

from __future__ import annotations


class MonitorError(Exception):
    """Something stopped the command."""

    exit_code = 1
    # What the command had to say before it stopped (a pass's summary): `run --json` prints it with the error.
    details: dict[str, object] | None = None


class InputError(MonitorError):
    """Bad configuration or input file: the user must fix it; nothing was changed."""

    exit_code = 2

    def __init__(self, source: str, location: str, message: str) -> None:
        self.source = source
        self.location = location
        self.message = message
        where = f"{source}: {location}" if location else source
        super().__init__(f"{where}: {message}")


class ConfigError(InputError):
    """jobs.yaml or the environment is wrong."""

    # Every problem found (this one says the first and how many more), for `check-config` to list.
    problems: tuple[ConfigError, ...] = ()


class ImportFileError(InputError):
    """A loans import file is wrong."""


class StorageError(MonitorError):
    """The database could not be used."""


class TruvError(MonitorError):
    """Truv answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        super().__init__(message)


class TruvAuthError(TruvError):
    """401 (or 403 on every call): the credentials are wrong or for another environment; the pass stops."""


class TruvForbidden(TruvError):
    """403 on one resource: valid credentials without permission for it (e.g. another environment's order).

    It concerns that order or link only: its loan is set aside and every other loan goes on.
    """


class TruvNotFound(TruvError):
    """404: the order or link does not exist, or belongs to another client."""


def is_refresh_limit_message(message: str) -> bool:
    """Truv's per-token refusal ("Refresh limit for the access_token exceeded"), whatever its status."""
    return "refresh limit" in message.lower()


class TruvRefused(TruvError):
    """A 4xx other than auth/404/429: Truv read the request and refused it."""

    @property
    def is_refresh_limit(self) -> bool:
        return is_refresh_limit_message(str(self))


class TruvThrottled(TruvError):
    """429 after the retries allowed for this call."""


class TruvUnavailable(TruvError):
    """5xx, timeouts or transport errors after the retries allowed for this call."""


class TruvUnreachable(TruvError):
    """Too many connection failures or timeouts in a row: Truv (or the base URL) is down; the pass stops.

    Raised only for a request that was not sent; every later call of the pass is refused without sending.
    """


class TruvOutcomeUnknown(TruvError):
    """A refresh POST may have reached Truv but no answer came back: reconcile, never resend."""


class TruvNotSent(TruvError):
    """A refresh POST provably never left (the connection was refused before sending)."""
