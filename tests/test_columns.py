"""Which columns fit a width: priorities, short titles, shrinking, and sharing what is left."""

from __future__ import annotations

from claude_poe_tui.ui.columns import Column, fit_columns

COLUMNS = [
    Column("time", "time", priority=100),
    Column("model", "model", priority=85, min_width=12),
    Column("route", "route", priority=40),
    Column("ttft", "ttft ms", priority=78, short_title="ttft"),
    Column("error", "error", priority=90, min_width=12, max_width=160),
]
CONTENT = {"time": 8, "model": 25, "route": 8, "ttft": 5, "error": 70}


def shown(fitted) -> dict[str, tuple[str, int]]:
    return {f.key: (f.title, f.width) for f in fitted}


def test_everything_fits_at_its_natural_width() -> None:
    fitted = fit_columns(COLUMNS, CONTENT, 200, padding=2)
    assert shown(fitted) == {"time": ("time", 8), "model": ("model", 25), "route": ("route", 8),
                             "ttft": ("ttft ms", 7), "error": ("error", 70)}


def test_narrow_short_titles_then_shrinking_then_the_least_useful_goes() -> None:
    # 8+25+8+7+70 + 10 padding = 128 does not fit 80: short titles, then shrink model and error.
    fitted = fit_columns(COLUMNS, CONTENT, 80, padding=2)
    assert [f.key for f in fitted] == ["time", "model", "route", "ttft", "error"]
    assert shown(fitted)["ttft"] == ("ttft", 5)
    assert sum(f.width + 2 for f in fitted) <= 80
    # Narrower still: route (priority 40) goes before anything more useful.
    fitted = fit_columns(COLUMNS, CONTENT, 50, padding=2)
    assert [f.key for f in fitted] == ["time", "model", "ttft", "error"]
    assert sum(f.width + 2 for f in fitted) <= 50


def test_what_is_left_is_shared_so_a_long_column_cannot_starve_the_others() -> None:
    fitted = shown(fit_columns(COLUMNS, CONTENT, 90, padding=2))
    assert fitted["model"][1] == 25, "the model column wants 13 more and gets them before the error takes the rest"
    assert fitted["error"][1] == 90 - 10 - 8 - 25 - 8 - 5


def test_a_column_never_grows_past_its_maximum_and_one_column_always_stays() -> None:
    fitted = shown(fit_columns(COLUMNS, {**CONTENT, "error": 500}, 1000, padding=2))
    assert fitted["error"][1] == 160
    assert [f.key for f in fit_columns(COLUMNS, CONTENT, 3, padding=2)] == ["time"]
