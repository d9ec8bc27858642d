"""The accepted date window (civmil.core.dates): one rule and one message for every channel."""

from __future__ import annotations

import datetime as dt

import pytest

from civmil.core import dates
from civmil.core import services as core_services
from civmil.core.errors import Invalid
from civmil.core.models import Space

pytestmark = pytest.mark.django_db

THIS_YEAR = dt.date.today().year
WINDOW = f"Give a date between 1 January 1990 and 31 December {THIS_YEAR + 10}."
PLUS_14 = dt.timezone(dt.timedelta(hours=14))
MINUS_5 = dt.timezone(dt.timedelta(hours=-5))


def live() -> Space:
    return Space.live()


def test_the_default_window_is_1990_to_ten_years_ahead() -> None:
    assert dates.accepted_window(live().pk) == (dt.date(1990, 1, 1), dt.date(THIS_YEAR + 10, 12, 31))


@pytest.mark.parametrize(("value", "inside"), [
    (dt.date(1, 1, 1), False),
    (dt.datetime(1, 1, 1, 0, 0, tzinfo=PLUS_14), False),        # cannot even be converted to UTC
    (dt.datetime(9999, 12, 31, 23, 0, tzinfo=MINUS_5), False),  # nor this one
    (dt.date(1900, 1, 1), False),
    (dt.date(1989, 12, 31), False),
    (dt.datetime(1989, 12, 31, 23, 59, tzinfo=dt.UTC), False),
    (dt.date(1990, 1, 1), True),
    (dt.datetime(1989, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-1))), True),  # 1990 in UTC
    (dt.date.today().replace(year=THIS_YEAR + 10, day=1), True),
    (dt.date(THIS_YEAR + 10, 12, 31), True),
    (dt.date(THIS_YEAR + 11, 1, 1), False),
    (dt.date(9999, 12, 31), False),
])
def test_values_in_and_out_of_the_window(value: dt.date, inside: bool) -> None:
    assert dates.out_of_window(value, live().pk) == (None if inside else WINDOW)


def test_a_time_is_judged_by_its_date_in_the_mission_zone() -> None:
    core_services.update_mission_settings(None, live(), {"time_zone": "Africa/Juba"})  # UTC+2
    late_in_1989_utc = dt.datetime(1989, 12, 31, 22, 30, tzinfo=dt.UTC)  # 00:30 on 1 January 1990 in Juba
    assert dates.out_of_window(late_in_1989_utc, live().pk) is None
    assert dates.out_of_window(late_in_1989_utc - dt.timedelta(hours=1), live().pk) == WINDOW


def test_the_window_is_a_mission_setting() -> None:
    core_services.update_mission_settings(None, live(), {"earliest_year": 1975, "years_ahead": 1})
    assert dates.accepted_window(live().pk) == (dt.date(1975, 1, 1), dt.date(THIS_YEAR + 1, 12, 31))
    assert dates.out_of_window(dt.date(1980, 6, 1), live().pk) is None
    assert dates.out_of_window(dt.date(THIS_YEAR + 2, 1, 1), live().pk) == (
        f"Give a date between 1 January 1975 and 31 December {THIS_YEAR + 1}.")


def test_check_in_window_names_the_field() -> None:
    dates.check_in_window(dt.date(2000, 1, 1), live().pk, "starts_on")
    dates.check_in_window(None, live().pk, "starts_on")
    with pytest.raises(Invalid) as caught:
        dates.check_in_window(dt.date(1900, 1, 1), live().pk, "starts_on")
    assert caught.value.status == 422
    assert caught.value.errors == {"starts_on": [WINDOW]}


def test_window_errors_checks_several_fields_at_once() -> None:
    assert dates.window_errors({"a": dt.date(2000, 1, 1), "b": None}, live().pk) == {}
    assert dates.window_errors({"a": dt.date(1900, 1, 1), "b": dt.date(2000, 1, 1),
                                "c": dt.datetime(1, 1, 1, tzinfo=PLUS_14)}, live().pk) == {
        "a": [WINDOW], "c": [WINDOW]}


def test_the_imports_carry_no_dates_today() -> None:
    """The directory CSV and the boundary import take no date (checked: their columns and the
    properties they read). A date added to either must pass civmil.core.dates like the forms and
    the API: this test is the reminder."""
    from dataclasses import fields

    from civmil.actors import boundaries, directory_csv

    def datelike(name: str) -> bool:
        return name.endswith(("_on", "_at", "date", "since", "until", "year"))

    assert not [c for columns in directory_csv.COLUMNS.values() for c in columns if datelike(c)]
    assert not [f.name for f in fields(boundaries.ImportOptions) if datelike(f.name)]
    assert not [f.name for f in fields(boundaries.PlannedArea) if datelike(f.name)]
