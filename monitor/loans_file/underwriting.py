"""The optional underwriting columns (issue 22), checked and normalised: amounts, DTI, the income's unit,
the delivery date."""

from __future__ import annotations

from decimal import Decimal

from monitor.loans_file.cells import Bad, Raw, amount, day
from monitor.loans_file.columns import AMOUNTS, INCOME_UNITS
from monitor.loans_file.values import text


def underwriting(raw: Raw, bad: Bad) -> dict[str, str]:
    """The optional underwriting columns, checked and normalised (an empty one is left out)."""
    out: dict[str, str] = {}
    for column in AMOUNTS:
        if (value := amount(raw, column, bad)) is not None:
            out[column] = value
    if (dti := amount(raw, "dti", bad, top=Decimal(100))) is not None:
        out["dti"] = dti
    if unit := _income_unit(raw, bad, needed="qualifying_income" in out):
        out["qualifying_income_unit"] = unit
    if delivery := day(raw, "delivery_date", bad):
        out["delivery_date"] = delivery.isoformat()
    return out


def _income_unit(raw: Raw, bad: Bad, *, needed: bool) -> str:
    unit = text(raw.get("qualifying_income_unit")).lower()
    if unit and unit not in INCOME_UNITS:
        raise bad("qualifying_income_unit", "monthly or yearly", raw.get("qualifying_income_unit"))
    if needed and not unit:
        raise bad(
            "qualifying_income_unit",
            "monthly or yearly (the unit of qualifying_income)",
            raw.get("qualifying_income_unit"),
        )
    return unit
