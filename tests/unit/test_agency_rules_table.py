"""Agency pre-closing presets (truv-api.md section 11) and `judge_window`, rule by rule, as tables.

Dates are chosen around US federal holidays: Thanksgiving 2026-11-26 (Thursday), Christmas 2026-12-25
(Friday), New Year 2027-01-01 (Friday), so a business-day window and a calendar one disagree.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml

from monitor.config import parse_config
from monitor.core.agency_rules import PRESETS, custom, document_limit, judge_window, window_start
from monitor.errors import ConfigError

D = date.fromisoformat


# -- each preset: its window, its unit, its citation ------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "window", "unit", "guide", "age", "self_employed", "aim", "after"),
    [
        ("fannie-preclose", 10, "business", "Fannie Mae B3-3.1-07, B1-1-03", (4, "months"), 120, None, True),
        ("freddie-preclose", 10, "business", "Freddie Mac 5102.4, 5302.2", (120, "days"), 120, 14, False),
        ("fha-preclose", 10, "calendar", "FHA 4000.1", (None, "days"), None, None, False),
        ("va-preclose", 120, "calendar", "VA", (120, "days"), None, None, False),
        ("usda-preclose", 120, "calendar", "USDA", (120, "days"), None, None, False),
    ],
)
def test_each_preset_is_its_guide(preset, window, unit, guide, age, self_employed, aim, after):
    rule = PRESETS[preset]
    assert (rule.window, rule.unit, rule.guide) == (window, unit, guide)
    assert (rule.document_age, rule.document_age_unit) == age
    assert (rule.self_employed_window, rule.aim_days, rule.after_closing_until_delivery) == (self_employed, aim, after)
    cfg = parse_config(yaml.safe_dump({"policies": [{"use": preset}]}))
    assert cfg.policies[0].name == preset
    assert cfg.policies[0].product == "employment"
    assert cfg.policies[0].max_age == timedelta(days=120)
    assert cfg.policies[0].rule() == rule


# -- business days across holidays vs calendar days ---------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "note", "start"),
    [
        # 10 business days before Mon 2026-11-30: Thanksgiving (11-26) skipped -> Fri 11-13.
        ("fannie-preclose", "2026-11-30", "2026-11-13"),
        ("freddie-preclose", "2026-11-30", "2026-11-13"),
        # Christmas and New Year both skipped: 10 business days before Mon 2027-01-04 -> Thu 12-17.
        ("fannie-preclose", "2027-01-04", "2026-12-17"),
        # FHA counts calendar days: holidays and weekends count.
        ("fha-preclose", "2026-11-30", "2026-11-20"),
        ("fha-preclose", "2027-01-04", "2026-12-25"),
        ("va-preclose", "2027-01-04", "2026-09-06"),
        ("usda-preclose", "2026-11-30", "2026-08-02"),
    ],
)
def test_window_start_business_vs_calendar(preset, note, start):
    assert window_start(PRESETS[preset], D(note)) == D(start)


@pytest.mark.parametrize(
    ("preset", "verified", "inside"),
    [
        ("fannie-preclose", "2026-11-13", True),  # the window's first day (holiday skipped)
        ("fannie-preclose", "2026-11-12", False),
        ("fha-preclose", "2026-11-20", True),
        ("fha-preclose", "2026-11-19", False),  # inside 10 business days, outside 10 calendar days
        ("fannie-preclose", "2026-11-19", True),
        ("fannie-preclose", "2026-11-30", True),  # on the note date
    ],
)
def test_judge_window_at_its_edges(preset, verified, inside):
    got, cited = judge_window(PRESETS[preset], D("2026-11-30"), D(verified))
    assert got is inside
    assert cited.startswith(PRESETS[preset].guide)


def test_holidays_none_counts_only_weekends():
    rule = PRESETS["fannie-preclose"].with_overrides(holidays="none")
    assert window_start(rule, D("2026-11-30")) == D("2026-11-16")  # Thanksgiving counted as a business day


# -- Freddie AIM: close by the report date + 14 calendar days ---------------------------------------------


@pytest.mark.parametrize(
    ("verified", "note", "inside"),
    [
        ("2026-11-16", "2026-11-30", True),  # + 14 exactly
        ("2026-11-15", "2026-11-30", False),  # + 15
        ("2026-11-13", "2026-11-27", True),
    ],
)
def test_freddie_aim_report_date_plus_14(verified, note, inside):
    got, cited = judge_window(PRESETS["freddie-preclose"], D(note), D(verified), aim=True)
    assert got is inside
    assert "AIM" in cited and "14 calendar days" in cited and cited.startswith("Freddie Mac 5102.4")


def test_aim_flag_means_nothing_without_an_aim_rule():
    # Fannie has no AIM date: its 10 business days decide (11-13 is the first day for 11-30).
    assert judge_window(PRESETS["fannie-preclose"], D("2026-11-30"), D("2026-11-13"), aim=True)[0] is True
    assert judge_window(PRESETS["fannie-preclose"], D("2026-11-30"), D("2026-11-12"), aim=True)[0] is False


# -- after closing, until delivery (Fannie B3-3.1-07) -------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "verified", "delivery", "inside"),
    [
        ("fannie-preclose", "2026-12-03", None, True),  # not delivered yet: still counts
        ("fannie-preclose", "2026-12-03", "2026-12-10", True),
        ("fannie-preclose", "2026-12-10", "2026-12-10", True),  # on the delivery date
        ("fannie-preclose", "2026-12-11", "2026-12-10", False),  # after delivery
        ("freddie-preclose", "2026-12-03", None, False),  # Freddie: before the note date only
        ("fha-preclose", "2026-12-01", "2026-12-10", False),
    ],
)
def test_after_closing_until_delivery(preset, verified, delivery, inside):
    got, cited = judge_window(PRESETS[preset], D("2026-11-30"), D(verified), D(delivery) if delivery else None)
    assert got is inside
    assert ("after closing" in cited or "after the note date" in cited) and cited.startswith(PRESETS[preset].guide)


# -- self-employed windows, document age --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verified", "self_employed", "inside"),
    [
        ("2026-08-10", True, True),  # 112 days before: inside the 120 calendar days
        ("2026-08-10", False, False),  # the salaried window is 10 business days
        ("2026-08-02", True, True),  # 120 days exactly
    ],
)
def test_self_employed_window(verified, self_employed, inside):
    got, cited = judge_window(PRESETS["fannie-preclose"], D("2026-11-30"), D(verified), self_employed=self_employed)
    assert got is inside
    assert ("self-employed, 120 calendar days" in cited) is self_employed


@pytest.mark.parametrize(
    ("preset", "note", "limit"),
    [
        ("fannie-preclose", "2026-11-30", "2026-07-30"),  # B1-1-03: 4 months
        ("fannie-preclose", "2026-06-30", "2026-02-28"),  # no February 30th: the month's last day
        ("freddie-preclose", "2026-11-30", "2026-08-02"),  # 120 days
        ("va-preclose", "2026-11-30", "2026-08-02"),
        ("fha-preclose", "2026-11-30", None),
    ],
)
def test_document_age_at_the_note_date(preset, note, limit):
    assert document_limit(PRESETS[preset], D(note)) == (D(limit) if limit else None)


def test_document_age_limits_a_self_employed_verification():
    rule = PRESETS["fannie-preclose"].with_overrides(self_employed_window=200)
    got, cited = judge_window(rule, D("2026-11-30"), D("2026-06-01"), self_employed=True)
    assert got is False
    assert "older than 4 months" in cited


def test_custom_rule_from_pre_closing_business_days():
    cfg = parse_config(
        yaml.safe_dump(
            {"policies": [{"name": "p", "product": "income", "max_age": "30d", "pre_closing_business_days": 5}]}
        )
    )
    assert cfg.policies[0].rule() == custom(5)
    # 5 business days before 11-30 (Thanksgiving skipped): 11-20.
    assert judge_window(custom(5), D("2026-11-30"), D("2026-11-19"))[0] is False
    assert judge_window(custom(5), D("2026-11-30"), D("2026-11-20"))[0] is True
    assert (
        parse_config(yaml.safe_dump({"policies": [{"name": "p", "product": "income", "max_age": "3d"}]}))
        .policies[0]
        .rule()
        is None
    )


# -- overrides in jobs.yaml, and what is refused ----------------------------------------------------------


def test_overrides_replace_only_what_they_name():
    data = {
        "policies": [
            {
                "use": "fannie-preclose",
                "name": "fannie-12",
                "window": 12,
                "window_unit": "calendar",
                "holidays": "none",
            },
            {"use": "freddie-preclose", "aim_days": 10, "guide": "Freddie Mac 5102.4 (lender overlay)"},
            {"use": "fha-preclose", "product": "income", "max_age": "30d"},
        ]
    }
    cfg = parse_config(yaml.safe_dump(data))
    fannie, freddie, fha = (p.rule() for p in cfg.policies)
    assert fannie is not None and freddie is not None and fha is not None
    assert (fannie.window, fannie.unit, fannie.holidays, fannie.after_closing_until_delivery) == (
        12,
        "calendar",
        "none",
        True,
    )
    assert (freddie.aim_days, freddie.guide, freddie.window) == (10, "Freddie Mac 5102.4 (lender overlay)", 10)
    assert (cfg.policies[2].product, cfg.policies[2].max_age) == ("income", timedelta(days=30))
    # The pass refreshes ahead of closing inside the window: business days as they are, calendar days fewer.
    assert [p.pre_closing_business_days for p in cfg.policies] == [6, 10, 5]


@pytest.mark.parametrize(
    ("policy", "where", "what"),
    [
        ({"use": "fannie-preclos"}, "policies[0].use", "'fannie-preclose'"),
        ({"use": "fha-preclose", "window_unit": "weeks"}, "policies[0].window_unit", "'business' or 'calendar'"),
        ({"use": "fha-preclose", "window": 0}, "policies[0].window", "greater than or equal to 1"),
        ({"use": "fha-preclose", "holidays": "uk"}, "policies[0].holidays", "'us-federal' or 'none'"),
        ({"use": "fha-preclose", "document_age_unit": "years"}, "policies[0].document_age_unit", "'days' or 'months'"),
        ({"use": "fha-preclose", "aim_days": 100}, "policies[0].aim_days", "less than or equal to 60"),
        (
            {"use": "fha-preclose", "after_closing_until_delivery": "maybe"},
            "policies[0].after_closing_until_delivery",
            "boolean",
        ),
        (
            {"use": "fha-preclose", "pre_closing_business_days": 3},
            "policies[0].pre_closing_business_days",
            "not with `use: fha-preclose`",
        ),
        ({"name": "p", "product": "income", "max_age": "3d", "window": 3}, "policies[0].window", "needs a preset"),
        ({"use": "fha-preclose", "windw": 3}, "policies[0].windw", "did you mean 'window'"),
    ],
)
def test_bad_preset_fields_name_file_and_key(policy, where, what):
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump({"policies": [policy]}), "conf/jobs.yaml")
    assert caught.value.exit_code == 2
    text = str(caught.value)
    assert text.startswith("conf/jobs.yaml: " + where)
    assert what in text
