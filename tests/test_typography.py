"""French and English typography from the one module that writes numbers and dates."""

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piratebox import typography
from piratebox.timefmt import display_zone

PARIS = "Europe/Paris"
NNBSP, NBSP = "\u202f", "\u00a0"


def at(*fields):
    return datetime(*fields, tzinfo=display_zone(PARIS)).timestamp()


@pytest.mark.parametrize(("value", "decimals", "french", "english"), [
    (0, 0, "0", "0"),
    (1234, 0, f"1{NNBSP}234", "1,234"),
    (1234567.891, 1, f"1{NNBSP}234{NNBSP}567,9", "1,234,567.9"),
    (0.68, 2, "0,68", "0.68"),
    (-0.01, 0, "0", "0"),
])
def test_numbers_take_each_languages_marks(value, decimals, french, english):
    assert typography.number(value, "fr", decimals) == french
    assert typography.number(value, "en", decimals) == english


@settings(deadline=None)  # a busy machine took 300 ms once: what is tested is the text
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.integers(0, 3))
def test_a_french_number_reads_back_as_the_same_number(value, decimals):
    text = typography.number(value, "fr", decimals)
    assert "." not in text and " " not in text  # never a decimal point, never a plain space
    assert float(text.replace(NNBSP, "").replace(",", ".")) == pytest.approx(
        round(value, decimals), abs=10 ** -decimals)


def test_a_unit_never_leaves_its_number():
    assert typography.quantity(12, "kg", "fr") == f"12{NBSP}kg"
    assert typography.filesize(2765, "fr") == f"2,7{NBSP}Ko"
    assert typography.filesize(3 * 1024**3, "en") == f"3.0{NBSP}GB"
    assert typography.filesize(512, "fr") == f"512{NBSP}o"


def test_a_same_day_range_names_the_day_once():
    start, end = at(2026, 12, 5, 14, 0), at(2026, 12, 5, 17, 30)
    now = at(2026, 11, 23, 9, 0)
    assert typography.time_range(start, end, PARIS, "fr", now=now) == (
        f"samedi 5 décembre, 14{NBSP}h\u2009\u2013\u200917{NBSP}h{NBSP}30")
    assert typography.time_range(start, end, PARIS, "en", now=now) == (
        "Saturday 5 December, 14:00\u2009\u2013\u200917:30")


def test_a_range_over_midnight_names_both_days_and_another_year_its_year():
    start, end = at(2027, 1, 1, 20, 0), at(2027, 1, 2, 1, 0)
    assert typography.time_range(start, end, PARIS, "fr", now=at(2026, 12, 31, 9, 0)) == (
        f"vendredi 1er janvier 2027, 20{NBSP}h\u2009\u2013\u2009samedi 2 janvier 2027, 1{NBSP}h")


def test_no_end_is_one_moment():
    assert typography.time_range(at(2026, 3, 29, 9, 5), None, PARIS, "fr") == (
        f"dimanche 29 mars, 9{NBSP}h{NBSP}05")
