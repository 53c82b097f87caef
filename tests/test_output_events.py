"""The proxy's output grouped into events by shape: a traceback folds under the line it belongs to."""

from __future__ import annotations

from claude_poe_tui.output_events import DETAIL_KEPT, OutputGrouper, group_lines

FRAMES = [
    "Traceback (most recent call last):",
    '  File "/lib/a.py", line 10, in f',
    "    return g()",
    "           ^^^",
    '  File "/lib/b.py", line 20, in g',
    '    raise SomeError("slow down")',
]


def summaries(lines: list[str]) -> list[tuple[str, int]]:
    return [(event.summary, event.folded) for event in group_lines(lines)]


def test_a_logged_error_with_its_traceback_is_one_event() -> None:
    lines = [
        "INFO:     Started server process [1]",
        "12:00:01 - Proxy:ERROR: call failed: upstream said 429",
        *FRAMES,
        "pkg.errors.SomeError: upstream said 429",
        "Received Model Group=claude-sonnet-5",  # the exception's message carries on unindented
        'INFO:     127.0.0.1:5555 - "POST /v1/messages HTTP/1.1" 429',
    ]
    assert summaries(lines) == [
        ("INFO:     Started server process [1]", 0),
        # The headline already says what the exception says: not repeated.
        ("12:00:01 - Proxy:ERROR: call failed: upstream said 429", len(FRAMES) + 2),
        ('INFO:     127.0.0.1:5555 - "POST /v1/messages HTTP/1.1" 429', 0),
    ]


def test_a_bare_traceback_is_summed_up_by_its_exception_and_chains_stay_together() -> None:
    lines = [
        *FRAMES,
        "ValueError: first",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        *FRAMES,
        "KeyError: 'second'",
        "WARNING: next thing",
    ]
    events = group_lines(lines)
    assert [e.summary for e in events] == ["KeyError: 'second'", "WARNING: next thing"]
    assert events[0].detail[-1] == "KeyError: 'second'" and "ValueError: first" in events[0].detail


def test_a_traceback_after_an_unrelated_line_is_an_event_of_its_own() -> None:
    lines = ["INFO:     Application startup complete.", *FRAMES, "RuntimeError: boom"]
    assert summaries(lines) == [("INFO:     Application startup complete.", 0),
                                ("RuntimeError: boom", len(FRAMES))]


def test_when_the_headline_does_not_say_it_the_exception_is_added() -> None:
    lines = ["Exception in ASGI application", *FRAMES, "OSError: [Errno 98] address in use"]
    assert summaries(lines) == [("Exception in ASGI application  ⟶ OSError: [Errno 98] address in use",
                                 len(FRAMES) + 1)]


def test_indented_lines_continue_and_blank_lines_vanish() -> None:
    lines = ["", "Config problems:", "  models[1].name: missing", "  models[2].bot: missing", "", "done"]
    assert summaries(lines) == [("Config problems:", 2), ("done", 0)]


def test_colours_are_dropped_and_detail_is_bounded() -> None:
    grouper = OutputGrouper(clock=lambda: 0.0)
    event, new = grouper.feed("\x1b[31mERROR\x1b[0m: many lines follow")
    assert new and event.headline == "ERROR: many lines follow"
    for number in range(DETAIL_KEPT + 50):
        same, new = grouper.feed(f"  line {number}")
        assert same is event and not new
    assert len(event.detail) == DETAIL_KEPT and event.dropped == 50 and event.folded == DETAIL_KEPT + 50


def test_a_streaming_event_says_it_changed() -> None:
    grouper = OutputGrouper(clock=lambda: 0.0)
    event, _ = grouper.feed("ERROR: it broke")
    before = event.version
    grouper.feed(FRAMES[0])
    grouper.feed(FRAMES[1])
    assert event.version > before and event.folded == 2
    grouper.feed("ZeroDivisionError: division by zero")
    assert event.exception == "ZeroDivisionError: division by zero"
    assert event.summary == "ERROR: it broke  ⟶ ZeroDivisionError: division by zero"
