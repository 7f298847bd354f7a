"""The loans file, column by column (README "Loans file (CSV or JSONL)"): each documented format, default
and refusal, and the row (header = row 1) and column every error names. Files are written to tmp_path;
nothing touches a database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ImportFileError, InputError
from monitor.loans_file import KNOWN, MAX_JSONL_LINE, REQUIRED, LoanRow, parse_row, read_rows

SOURCE = "loans.csv"


def row(**fields: Any) -> dict[str, Any]:
    return {"loan_id": "L-1", "order_id": "o-1", **fields}


def parse(**fields: Any) -> LoanRow:
    return parse_row(row(**fields), row=3, source=SOURCE)


def refusal(raw: dict[str, Any], *, at: int = 3) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        parse_row(raw, row=at, source=SOURCE)
    return caught.value


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def read_all(path: Path) -> list[LoanRow]:
    return list(read_rows(path))


def read_refusal(path: Path) -> str:
    with pytest.raises(ImportFileError) as caught:
        read_all(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


# -- the documented columns ------------------------------------------------------------------------------


def test_the_documented_columns():
    assert REQUIRED == ("loan_id", "order_id")
    assert set(KNOWN) == {"loan_id", "order_id", "gse", "status", "closing_date", "data_as_of"}


def test_a_minimal_row_takes_every_default():
    got = parse()
    assert got == LoanRow(
        row=3,
        loan_id="L-1",
        order_id="o-1",
        gse=False,
        status="active",
        closing_date=None,
        data_as_of=None,
        attributes={},
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("true", True, id="true"),
        pytest.param("false", False, id="false"),
        pytest.param("TRUE", True, id="upper-true"),
        pytest.param("False", False, id="title-false"),
        pytest.param(" true ", True, id="spaces"),
        pytest.param("", False, id="empty-is-default"),
        pytest.param(None, False, id="null-is-default"),
        pytest.param(True, True, id="json-true"),
        pytest.param(False, False, id="json-false"),
    ],
)
def test_gse(value, expected):
    assert parse(gse=value).gse is expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("perhaps", id="readme-example"),
        pytest.param("truthy", id="truthy"),
        pytest.param("2", id="two"),
        pytest.param("GSE", id="word"),
    ],
)
def test_gse_refused(value):
    err = refusal(row(gse=value))
    assert str(err) == f"{SOURCE}: row 3, column 'gse': expected true or false, got {value!r}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("active", "active", id="active"),
        pytest.param("closed", "closed", id="closed"),
        pytest.param("CLOSED", "closed", id="upper"),
        pytest.param(" Active ", "active", id="spaces"),
        pytest.param("", "active", id="empty-is-default"),
        pytest.param(None, "active", id="null-is-default"),
    ],
)
def test_status(value, expected):
    assert parse(status=value).status == expected


@pytest.mark.parametrize("value", ["open", "funded", "inactive", "1"])
def test_status_refused(value):
    err = refusal(row(status=value))
    assert str(err) == f"{SOURCE}: row 3, column 'status': expected active or closed, got {value!r}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-30", date(2026, 11, 30), id="iso-date"),
        pytest.param(" 2026-11-30 ", date(2026, 11, 30), id="spaces"),
        pytest.param("2028-02-29", date(2028, 2, 29), id="leap-day"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="null"),
    ],
)
def test_closing_date(value, expected):
    assert parse(closing_date=value).closing_date == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("11/30/2026", id="us-format"),
        pytest.param("30.11.2026", id="european"),
        pytest.param("2026-11-31", id="no-such-day"),
        pytest.param("2027-02-29", id="not-a-leap-year"),
        pytest.param("2026-11-30T00:00:00Z", id="a-time"),
        pytest.param("soon", id="word"),
    ],
)
def test_closing_date_refused(value):
    err = refusal(row(closing_date=value))
    assert str(err) == f"{SOURCE}: row 3, column 'closing_date': expected a date as YYYY-MM-DD, got {value!r}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-01T09:30:00Z", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), id="Z"),
        pytest.param("2026-11-01T09:30:00+00:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), id="plus-zero"),
        pytest.param("2026-11-01T11:30:00+02:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), id="offset-to-utc"),
        pytest.param("2026-11-01T04:30:00-05:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), id="west-offset"),
        pytest.param("2026-11-01T09:30:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC), id="no-offset-is-utc"),
        pytest.param("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC), id="a-date-is-midnight-utc"),
        pytest.param("2026-11-01T09:30:00.250Z", datetime(2026, 11, 1, 9, 30, 0, 250000, tzinfo=UTC), id="millis"),
        pytest.param("", None, id="empty-is-unknown"),
        pytest.param(None, None, id="null-is-unknown"),
    ],
)
def test_data_as_of(value, expected):
    got = parse(data_as_of=value).data_as_of
    assert got == expected
    if got is not None:
        assert got.utcoffset() is not None and got.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yesterday", id="word"),
        pytest.param("11/01/2026 09:30", id="us-format"),
        pytest.param("2026-11-01T25:00:00Z", id="hour-25"),
        pytest.param("0001-01-01T00:00:00+05:00", id="before-year-1-in-utc"),
        pytest.param("9999-12-31T23:00:00-05:00", id="after-year-9999-in-utc"),
        pytest.param("1730453400", id="epoch"),
    ],
)
def test_data_as_of_refused(value):
    err = refusal(row(data_as_of=value))
    assert str(err) == (
        f"{SOURCE}: row 3, column 'data_as_of': expected an ISO-8601 time like 2026-11-01T09:30:00Z, got {value!r}"
    )


@pytest.mark.parametrize("column", REQUIRED)
@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_columns(column, value):
    err = refusal(row(**{column: value}))
    assert str(err) == f"{SOURCE}: row 3, column {column!r}: required value is empty or missing"


@pytest.mark.parametrize("column", REQUIRED)
def test_a_required_column_absent_from_the_row(column):
    raw = row()
    del raw[column]
    assert f"column {column!r}: required value" in str(refusal(raw))


@pytest.mark.parametrize(
    ("loan_id", "expected"),
    [
        pytest.param(" L-1 ", "L-1", id="trimmed"),
        pytest.param(1004, "1004", id="json-number"),
        pytest.param("-1", "-1", id="formula-looking-id-kept-as-is"),
        pytest.param("L\u00e9-1", "L\u00e9-1", id="unicode"),
    ],
)
def test_ids_are_text(loan_id, expected):
    assert parse(loan_id=loan_id).loan_id == expected


# -- attributes: every other column -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "attributes"),
    [
        pytest.param({"program": "FHA"}, {"program": "FHA"}, id="one"),
        pytest.param({"program": " FHA ", "branch": "7"}, {"program": "FHA", "branch": "7"}, id="trimmed"),
        pytest.param({" program ": "FHA"}, {"program": "FHA"}, id="key-trimmed"),
        pytest.param({"program": ""}, {"program": ""}, id="empty-value-kept"),
        pytest.param({"program": None}, {"program": ""}, id="null-value-is-empty"),
        pytest.param({"units": 2}, {"units": "2"}, id="number-as-text"),
        pytest.param({"first_time": True}, {"first_time": "true"}, id="boolean-as-text"),
        pytest.param({"": "orphan"}, {}, id="unnamed-column-dropped"),
    ],
)
def test_other_columns_are_attributes(extra, attributes):
    assert parse(**extra).attributes == attributes


def test_known_columns_are_never_attributes():
    got = parse(gse="true", status="closed", closing_date="2026-11-30", data_as_of="2026-11-01", program="VA")
    assert got.attributes == {"program": "VA"}


# -- values no column can hold ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        pytest.param("loan_id", "L\x001", "text without NUL bytes", id="nul-in-id"),
        pytest.param("program", "F\x00HA", "text without NUL bytes", id="nul-in-attribute"),
        pytest.param("order_id", "o-1\nL-2,o-2", "a value on one line", id="newline-in-id"),
        pytest.param("program", "FH\rA", "a value on one line", id="carriage-return-inside"),
        pytest.param("program", {"a": 1}, "a single value", id="object"),
        pytest.param("program", [1, 2], "a single value", id="list"),
    ],
)
def test_unreadable_values(column, value, expected):
    err = refusal(row(**{column: value}))
    assert str(err).startswith(f"{SOURCE}: row 3, column {column!r}: expected {expected}")


def test_a_long_value_is_shown_cut_short():
    value = "x\n" + "y" * 5000
    message = str(refusal(row(program=value)))
    assert "(5002 characters)" in message
    assert len(message) < 300


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("pro\x00gram", "text without NUL bytes", id="nul-in-name"),
        pytest.param("pro\ngram", "a value on one line", id="newline-in-name"),
    ],
)
def test_unreadable_column_names(key, expected):
    message = str(refusal(row(**{key: "x"})))
    assert message.startswith(f"{SOURCE}: row 3: expected column names as {expected}")


@pytest.mark.parametrize("at", [2, 17, 100_000])
def test_the_row_number_is_the_callers(at):
    assert f"row {at}, column 'gse'" in str(refusal(row(gse="perhaps"), at=at))
    assert parse_row(row(), row=at, source=SOURCE).row == at


def test_an_import_error_is_an_input_error_with_exit_code_2():
    err = refusal(row(gse="perhaps"))
    assert isinstance(err, InputError)
    assert (err.exit_code, err.source, err.location) == (2, SOURCE, "row 3, column 'gse'")


# -- CSV files -----------------------------------------------------------------------------------------


def test_a_csv_file_row_numbers_count_the_header_as_row_1(tmp_path):
    path = write(
        tmp_path,
        "loans.csv",
        "loan_id,order_id,gse,status,closing_date,data_as_of,program\n"
        "L-1,o-1,true,active,2026-11-30,2026-11-01T09:30:00Z,FHA\n"
        "L-2,o-2,false,closed,,,VA\n",
    )
    rows = read_all(path)
    assert [(r.row, r.loan_id, r.gse, r.status, r.attributes) for r in rows] == [
        (2, "L-1", True, "active", {"program": "FHA"}),
        (3, "L-2", False, "closed", {"program": "VA"}),
    ]
    assert rows[0].closing_date == date(2026, 11, 30)
    assert rows[1].data_as_of is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            "loan_id,order_id,gse\nL-1,o-1,true\nL-2,o-2,perhaps\n",
            "row 3, column 'gse': expected true or false, got 'perhaps'",
            id="readme-example",
        ),
        pytest.param("order_id,gse\no-1,true\n", "row 1 (header): missing required column(s): loan_id", id="no-id"),
        pytest.param("loan_id\nL-1\n", "row 1 (header): missing required column(s): order_id", id="no-order"),
        pytest.param(
            "loan_id,order_id,gse,gse\nL-1,o-1,true,false\n",
            "row 1 (header): repeated column(s): gse",
            id="repeated-column",
        ),
        pytest.param(
            "loan_id,order_id\nL-1,o-1,extra\n", "row 2: has more fields than the header's 2", id="too-many-fields"
        ),
        pytest.param(
            'loan_id,order_id,program\nL-1,o-1,"FHA\nL-2,o-2,VA\n',
            "row 2: not valid CSV: ",
            id="quote-left-open",
        ),
        pytest.param(
            'loan_id,order_id,program\nL-1,o-1,"FHA\nL-2,o-2,VA\n',
            '(a " quote left open?)',
            id="quote-left-open-hint",
        ),
        pytest.param(
            'loan_id,order_id,program\nL-1,o-1,"FHA\nVA"\n',
            "row 2, column 'program': expected a value on one line",
            id="field-spanning-lines",
        ),
        pytest.param("loan_id,order_id\n,o-1\n", "row 2, column 'loan_id': required value", id="empty-loan-id"),
    ],
)
def test_csv_refusals(tmp_path, content, expected):
    message = read_refusal(write(tmp_path, "loans.csv", content))
    assert message.startswith(str(tmp_path / "loans.csv") + ": ")
    assert expected in message


def test_a_short_row_leaves_the_missing_columns_empty(tmp_path):
    path = write(tmp_path, "loans.csv", "loan_id,order_id,gse\nL-1,o-1\n")
    assert read_all(path)[0].gse is False


def test_a_utf8_bom_is_fine(tmp_path):
    path = write(tmp_path, "loans.csv", "\ufeffloan_id,order_id\nL-1,o-1\n".encode())
    assert [r.loan_id for r in read_all(path)] == ["L-1"]


def test_header_names_are_trimmed(tmp_path):
    path = write(tmp_path, "loans.csv", " loan_id , order_id , gse \nL-1,o-1,true\n")
    assert read_all(path)[0].gse is True


def test_a_header_only_file_has_no_rows(tmp_path):
    assert read_all(write(tmp_path, "loans.csv", "loan_id,order_id\n")) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            b"loan_id,order_id,program\nL-1,o-1,FHA\nL-2,o-2,Caf\xe9\n",
            "row 3: not UTF-8 text (byte 0xe9); save it as UTF-8",
            id="latin-1-byte",
        ),
        pytest.param(
            "loan_id,order_id\nL-1,o-1\n".encode("utf-16"),
            "(it looks like UTF-16)",
            id="utf-16",
        ),
    ],
)
def test_not_utf8(tmp_path, content, expected):
    assert expected in read_refusal(write(tmp_path, "loans.csv", content))


def test_nothing_is_yielded_past_a_bad_row(tmp_path):
    path = write(tmp_path, "loans.csv", "loan_id,order_id,gse\nL-1,o-1,true\nL-2,o-2,perhaps\nL-3,o-3,true\n")
    seen: list[str] = []
    with pytest.raises(ImportFileError, match="row 3"):
        for got in read_rows(path):
            seen.append(got.loan_id)
    assert seen == ["L-1"]


# -- JSONL files ---------------------------------------------------------------------------------------


def jsonl(*objects: Any) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects)


def test_a_jsonl_file(tmp_path):
    path = write(
        tmp_path,
        "loans.jsonl",
        jsonl(
            {"loan_id": "L-1", "order_id": "o-1", "gse": True, "program": "FHA"},
            "",
            {"loan_id": 1004, "order_id": "o-2", "status": "closed", "units": 2},
        ),
    )
    rows = read_all(path)
    assert [(r.row, r.loan_id, r.gse, r.status, r.attributes) for r in rows] == [
        (1, "L-1", True, "active", {"program": "FHA"}),
        (3, "1004", False, "closed", {"units": "2"}),  # a blank line keeps its number
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(["[1, 2]"], "row 1: expected a JSON object per line", id="array-line"),
        pytest.param(['"L-1"'], "row 1: expected a JSON object per line", id="string-line"),
        pytest.param(["{'loan_id': 'L-1'}"], "row 1: not valid JSON", id="python-dict"),
        pytest.param(['{"loan_id": "L-1", "order_id": "o-1"', "{}"], "row 1: not valid JSON", id="truncated"),
        pytest.param(
            [{"loan_id": "L-1", "order_id": "o-1"}, {"loan_id": "L-2", "order_id": "o-2", "program": {"a": 1}}],
            "row 2, column 'program': expected a single value",
            id="object-value",
        ),
        pytest.param(
            [{"loan_id": "L-1", "order_id": "o-1", "tags": ["a"]}],
            "row 1, column 'tags': expected a single value",
            id="list-value",
        ),
        pytest.param(["[" * 100_000 + "]" * 100_000], "row 1: not valid JSON", id="nested-too-deep"),
        pytest.param(
            [{"loan_id": "L-1", "order_id": "o-1", "gse": "maybe"}],
            "row 1, column 'gse': expected true or false, got 'maybe'",
            id="bad-value",
        ),
        pytest.param([{"order_id": "o-1"}], "row 1, column 'loan_id': required value", id="no-loan-id"),
    ],
)
def test_jsonl_refusals(tmp_path, lines, expected):
    assert expected in read_refusal(write(tmp_path, "loans.jsonl", jsonl(*lines)))


def test_a_jsonl_line_past_one_mib_is_refused_without_reading_it_whole(tmp_path):
    huge = json.dumps({"loan_id": "L-1", "order_id": "o-1", "note": "x" * MAX_JSONL_LINE})
    message = read_refusal(write(tmp_path, "loans.jsonl", jsonl({"loan_id": "L-0", "order_id": "o-0"}, huge)))
    assert f"row 2: longer than {MAX_JSONL_LINE} characters" in message
    assert MAX_JSONL_LINE == 1 << 20


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json", ".JSONL"])
def test_jsonl_suffixes(tmp_path, suffix):
    path = write(tmp_path, "loans" + suffix, jsonl({"loan_id": "L-1", "order_id": "o-1"}))
    assert [r.loan_id for r in read_all(path)] == ["L-1"]


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".CSV", ""])
def test_csv_suffixes(tmp_path, suffix):
    path = write(tmp_path, "loans" + suffix, "loan_id,order_id\nL-1,o-1\n")
    assert [r.loan_id for r in read_all(path)] == ["L-1"]


@pytest.mark.parametrize("suffix", [".xlsx", ".yaml", ".parquet"])
def test_other_suffixes_are_refused(tmp_path, suffix):
    message = read_refusal(write(tmp_path, "loans" + suffix, "loan_id,order_id\nL-1,o-1\n"))
    assert f"expected a .csv or .jsonl file, got {suffix!r}" in message


def test_a_missing_file(tmp_path):
    assert read_refusal(tmp_path / "nope.csv").endswith("nope.csv: file not found")


# -- what was underwritten (issue 22): optional columns, checked and normalised ----------------------------


def test_underwriting_columns_are_read_and_normalised():
    got = parse(
        delivery_date="2026-12-15",
        qualifying_income=" 8500.50 ",
        qualifying_income_unit="Monthly",
        dti="43.5%",
        monthly_debts="3700",
        funds_to_close="25000.00",
        reserves="0",
    )
    assert got.attributes == {
        "delivery_date": "2026-12-15",
        "qualifying_income": "8500.50",
        "qualifying_income_unit": "monthly",
        "dti": "43.5",
        "monthly_debts": "3700",
        "funds_to_close": "25000.00",
        "reserves": "0",
    }
    assert parse(delivery_date="", dti="").attributes == {"delivery_date": "", "dti": ""}  # empty: not given


@pytest.mark.parametrize(
    ("fields", "column", "expected"),
    [
        ({"delivery_date": "12/15/2026"}, "delivery_date", "a date as YYYY-MM-DD"),
        ({"delivery_date": "0001-01-01"}, "delivery_date", "a date between 1900-01-01 and 2200-12-31"),
        ({"delivery_date": "9999-12-31"}, "delivery_date", "a date between 1900-01-01 and 2200-12-31"),
        ({"qualifying_income": "8500"}, "qualifying_income_unit", "monthly or yearly (the unit of qualifying_income)"),
        (
            {"qualifying_income": "8500", "qualifying_income_unit": "weekly"},
            "qualifying_income_unit",
            "monthly or yearly",
        ),
        ({"qualifying_income": "$8,500"}, "qualifying_income", "an amount like 8500.00"),
        (
            {"qualifying_income": "-1", "qualifying_income_unit": "monthly"},
            "qualifying_income",
            "an amount like 8500.00",
        ),
        ({"monthly_debts": "NaN"}, "monthly_debts", "an amount like 8500.00"),
        ({"funds_to_close": "1e12"}, "funds_to_close", "an amount like 8500.00"),
        ({"reserves": "lots"}, "reserves", "an amount like 8500.00"),
        ({"dti": "0"}, "dti", "a percentage like 43.5"),
        ({"dti": "143"}, "dti", "a percentage like 43.5"),
        ({"dti": "0.43x"}, "dti", "a percentage like 43.5"),
    ],
)
def test_underwriting_refusals_name_row_and_column(fields, column, expected):
    error = refusal(row(**fields))
    assert error.exit_code == 2
    assert str(error).startswith(f"{SOURCE}: row 3, column {column!r}: expected {expected}")


def test_underwriting_columns_need_no_declaration_and_pass_the_csv_fast_path(tmp_path):
    from monitor.loans_file import Declared

    path = write(
        tmp_path,
        "loans.csv",
        "loan_id,order_id,closing_date,delivery_date,qualifying_income,qualifying_income_unit\n"
        "L-1,o-1,2026-12-01,2026-12-20,120000,yearly\nL-2,o-2,2026-12-01,,,\n"
        "L-3,o-3,2026-12-01,2026-13-01,,\n",
    )
    rows = read_rows(path, Declared(frozenset()))
    first, second = next(rows), next(rows)
    assert first.attributes["qualifying_income_unit"] == "yearly" and first.attributes["delivery_date"] == "2026-12-20"
    assert second.attributes == {"delivery_date": "", "qualifying_income": "", "qualifying_income_unit": ""}
    with pytest.raises(ImportFileError, match=r"row 4, column 'delivery_date': expected a date as YYYY-MM-DD"):
        next(rows)
