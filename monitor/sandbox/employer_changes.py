"""Scripted changes of an employer's payroll data (truv-api.md section 9), as a test writes them:
`{"at_refresh": N, KIND: true}` or `{"at_refresh": N, "pay_cut": "15%"}`, one mapping or a list.
Checked here (one kind per mapping, one change per refresh, nothing but a new employment after an
ending); employment.py makes them happen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

CHANGE_KINDS = (
    "job_loss",
    "pay_cut",
    "employer_change",
    "missed_pay",
    "derived_inactive",
    "rehire",
    "job_type_change",
    "pay_frequency_change",
    "hours_cut",
    "second_job",
    "leave",
)
# After these the employment is over: only a new employment (employer_change, rehire) may follow.
ENDING_KINDS = frozenset({"job_loss", "derived_inactive"})
NEW_EMPLOYMENT_KINDS = frozenset({"employer_change", "rehire"})
# A new employment next to the job, which goes on (later changes apply to the new one).
ADDED_EMPLOYMENT_KINDS = NEW_EMPLOYMENT_KINDS | {"second_job"}
# Kinds that only the income report shows (the employment report has no pay fields or statements).
INCOME_ONLY_KINDS = frozenset({"pay_cut", "missed_pay", "pay_frequency_change", "hours_cut", "leave"})


@dataclass(frozen=True, slots=True)
class EmployerChange:
    """One scripted change of an employer's data, shown from that link's `at_refresh`th refresh on."""

    at_refresh: int
    kind: str
    # pay_cut only: the fraction taken off income, pay_rate and later gross pay (0 < cut < 1).
    pay_cut: Decimal | None = None

    def to_mapping(self) -> dict[str, object]:
        return {"at_refresh": self.at_refresh, self.kind: str(self.pay_cut) if self.kind == "pay_cut" else True}


def parse_changes(value: object, where: str = "changes") -> tuple[EmployerChange, ...]:
    """`changes` of an employer spec: one mapping or a list of them, e.g. `{"at_refresh": 2,
    "job_loss": true}` or `[{"at_refresh": 2, "pay_cut": "15%"}, {"at_refresh": 4, "job_loss": true}]`.

    Each mapping has `at_refresh` (a whole number >= 1) and exactly one kind. Errors start with
    `where` so `EmployerSpec.from_mapping` can prefix the employer's path.
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, Mapping | EmployerChange) else value
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValueError(f"{where}: expected a mapping or a list of mappings, got {value!r}")
    changes = [
        item if isinstance(item, EmployerChange) else _parse_change(item, f"{where}[{index}]")
        for index, item in enumerate(items)
    ]
    for index, change in enumerate(changes):
        if isinstance(items[index], EmployerChange):
            _check_change(change, f"{where}[{index}]")
    changes.sort(key=lambda c: c.at_refresh)
    _check_sequence(changes, where)
    return tuple(changes)


def _parse_change(item: object, where: str) -> EmployerChange:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected a mapping like {{at_refresh: 2, job_loss: true}}, got {item!r}")
    unknown = sorted(str(k) for k in set(item) - {"at_refresh", *CHANGE_KINDS})
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected at_refresh and one of {list(CHANGE_KINDS)}")
    kinds = [k for k in CHANGE_KINDS if k in item]
    if len(kinds) != 1:
        raise ValueError(f"{where}: expected exactly one of {list(CHANGE_KINDS)}, got {kinds or 'none'}")
    if "at_refresh" not in item:
        raise ValueError(f"{where}: at_refresh is required (the link's refresh that shows the change, from 1)")
    change = _change_of(item["at_refresh"], kinds[0], item[kinds[0]], where)
    _check_change(change, where)
    return change


def _change_of(at_refresh: int, kind: str, raw: object, where: str) -> EmployerChange:
    """The change a mapping's one kind names: pay_cut takes a fraction, every other kind `true`."""
    if kind == "pay_cut":
        return EmployerChange(at_refresh, kind, _fraction(raw, f"{where}.pay_cut"))
    if raw is not True:
        raise ValueError(f"{where}.{kind}: expected true, got {raw!r}")
    return EmployerChange(at_refresh, kind)


def _check_change(change: EmployerChange, where: str) -> None:
    at = change.at_refresh
    if isinstance(at, bool) or not isinstance(at, int) or at < 1:
        raise ValueError(f"{where}.at_refresh: expected a whole number >= 1, got {at!r}")
    if change.kind not in CHANGE_KINDS:
        raise ValueError(f"{where}: unknown kind {change.kind!r}; expected one of {list(CHANGE_KINDS)}")
    cut = change.pay_cut
    if (change.kind == "pay_cut") != (cut is not None):
        raise ValueError(f"{where}: pay_cut needs a fraction, and only pay_cut takes one")
    if cut is not None and not Decimal(0) < cut < Decimal(1):
        raise ValueError(f"{where}.pay_cut: expected a fraction between 0 and 1 (exclusive), got {cut!r}")


def _fraction(raw: object, where: str) -> Decimal:
    """`"15%"`, `"0.15"` or `0.15` -> Decimal("0.15"); a bare 15 is refused (ambiguous)."""
    text = raw.strip() if isinstance(raw, str) else None
    try:
        if text is not None and text.endswith("%"):
            value = Decimal(text[:-1].strip()) / 100
        elif text is not None:
            value = Decimal(text)
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = Decimal(str(raw))
        else:
            raise ValueError
    except (InvalidOperation, ValueError):
        raise ValueError(f"{where}: expected a share like '15%' or 0.15, got {raw!r}") from None
    if not value.is_finite() or not Decimal(0) < value < Decimal(1):
        raise ValueError(f"{where}: expected a share between 0 and 1 (exclusive) like '15%' or 0.15, got {raw!r}")
    return value


def _check_sequence(changes: list[EmployerChange], where: str) -> None:
    """One change per refresh; nothing but a new employment after an ending; one type / frequency change
    per employer (a rehire keeps the job's type and frequency, a new employer starts F and BW)."""
    ended = type_changed = frequency_changed = False
    seen: set[int] = set()
    for change in changes:
        if change.at_refresh in seen:
            raise ValueError(f"{where}: two changes at refresh {change.at_refresh}; script one change per refresh")
        seen.add(change.at_refresh)
        if ended and change.kind not in NEW_EMPLOYMENT_KINDS:
            raise ValueError(
                f"{where}: {change.kind} at refresh {change.at_refresh} follows the end of the employment; "
                "only employer_change or rehire may follow job_loss or derived_inactive"
            )
        if change.kind == "job_type_change" and type_changed:
            raise ValueError(f"{where}: job_type_change twice for one employer (F to P happens once)")
        if change.kind == "pay_frequency_change" and frequency_changed:
            raise ValueError(f"{where}: pay_frequency_change twice for one employer (BW to W happens once)")
        type_changed |= change.kind == "job_type_change"
        frequency_changed |= change.kind == "pay_frequency_change"
        ended = change.kind in ENDING_KINDS
        if change.kind in ("employer_change", "second_job"):
            type_changed = frequency_changed = False
