"""Template overrides are bounded in time and size: a render past a bound is a template error
naming the file, made quickly and without the memory the template asked for."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.core.errors import TemplateError
from daemon.core.model import Interview, Me, Meeting, Person
from daemon.mail import bounded
from daemon.mail.templates import Renderer
from daemon.mail.variables import draft_variables
from tests.e2e.workspace import Workspace

ME = Me(name="Ana Pérez", emails=("ana@example.org",), signature="Ana")
JANE = Person(email="jane.doe@example.com", name="Jane Doe")
START = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def variables() -> dict[str, object]:
    meeting = Meeting(uid="m1", title="Coffee chat", start=START,
                      end=START + timedelta(minutes=30))
    interview = Interview(meeting=meeting, account="personal", contacts=(JANE,))
    return draft_variables("thank_you", JANE, interview, ME, START.tzinfo)  # type: ignore[arg-type]


def override(folder: Path, body: str) -> Path:
    path = folder / "thank_you.txt"
    path.write_text(f"Subject: Thanks\n\n{body}\n", encoding="utf-8")
    return path


TOO_LONG = {
    "nested loops": "{% for a in 'x' * 99999 %}{% for b in 'y' * 99999 %}{% endfor %}"
                    "{% endfor %}",
    "a loop inside a macro calling itself": "{% macro m(n) %}{% if n %}{% for i in 'xxxxxxxxx' %}"
                                            "{{ m(n - 1) }}{% endfor %}{% endif %}{% endmacro %}"
                                            "{{ m(12) }}",
}
DOUBLING = ("{% macro d(s, n) %}{% if n %}{{ d(s OP s, n - 1) }}{% else %}{{ s|length }}"
            "{% endif %}{% endmacro %}{{ d('x', 64) }}")
TOO_BIG = {
    "repetition": '{{ "x" * 10**9 }}',
    "list repetition": "{{ [1] * 10**9 }}",
    "a power": "{{ 7 ** 999999 }}",
    "doubling by ~": DOUBLING.replace("OP", "~"),
    "doubling by +": DOUBLING.replace("OP", "+"),
    "a % width": "{{ '%999999999d' % 1 }}",
    "a method's width": "{{ 'x'.ljust(10**9) }}",
    "a filter's width": "{{ 'x'|center(10**9) }}",
    "replace": "{{ ('x' * 1000).replace('', 'y' * 1000) }}",
    "the replace filter": "{{ ('x' * 1000)|replace('', 'y' * 1000) }}",
    "the output": "{% for i in 'x' * 99999 %}0123456789{% endfor %}",
}


@pytest.mark.parametrize("body", TOO_LONG.values(), ids=TOO_LONG.keys())
def test_a_render_past_the_time_bound_is_an_error_naming_the_file(body: str,
                                                                  tmp_path: Path) -> None:
    path = override(tmp_path, body)
    renderer = Renderer(tmp_path)
    with pytest.raises(TemplateError) as caught:
        renderer.render("thank_you", variables())
    assert str(caught.value).startswith(f"template {path}")
    assert "more than 2 s" in str(caught.value)
    started = time.monotonic()
    with pytest.raises(TemplateError, match="more than 2 s"):  # not run again: it is unchanged
        renderer.render("thank_you", variables())
    assert time.monotonic() - started < bounded.RENDER_SECONDS


@pytest.mark.parametrize("body", TOO_BIG.values(), ids=TOO_BIG.keys())
def test_a_render_past_the_size_bound_is_refused_before_it_takes_the_memory(
        body: str, tmp_path: Path) -> None:
    path = override(tmp_path, body)
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as caught:
            Renderer(tmp_path).render("thank_you", variables())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value).startswith(f"template {path}")
    assert "longer than 200,000 characters" in str(caught.value)
    assert peak < 50 * bounded.MAX_CHARS  # a few bounded values, never the asked-for gigabyte


def test_an_edited_file_is_run_again(tmp_path: Path) -> None:
    override(tmp_path, TOO_BIG["repetition"])
    renderer = Renderer(tmp_path)
    with pytest.raises(TemplateError):
        renderer.render("thank_you", variables())
    override(tmp_path, "{% for i in 'xyz' %}{{ i }}{% endfor %} {{ 'ab' * 3 }} {{ 2 ** 10 }}")
    assert renderer.render("thank_you", variables()).body == "xyz ababab 1024\n"


def test_ordinary_loops_filters_and_operators_still_work(tmp_path: Path) -> None:
    override(tmp_path, "{% for w in ['a', 'b'] %}{{ loop.index }}{{ w|upper }}{% endfor %} "
                       "{{ '%5s' % 'x' }} {{ 'x'|center(5) }}| {{ 'a-b'.replace('-', '+') }} "
                       "{{ [1] + [2] }} {{ 'p' ~ 'q' }}")
    assert Renderer(tmp_path).render("thank_you", variables()).body == (
        "1A2B     x   x  | a+b [1, 2] pq\n")


@pytest.mark.slow
def test_a_cycle_preview_and_doctor_stop_a_runaway_override_and_name_it(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "w", accounts=("personal", "work"))
    templates = ws.root / "templates"
    templates.mkdir()
    path = override(templates, TOO_LONG["nested loops"])
    now = datetime.now(UTC)
    ws.add_event("p1", "Coffee chat with Ana", now - timedelta(hours=3), ("Ana", "ana@x.org"))
    ws.add_event("w1", "Coffee chat with Bo", now + timedelta(days=1, hours=1), ("Bo", "bo@x.org"),
                 account="work")
    cycle = ws.run("run", "--once")
    assert cycle.returncode == 1
    assert f"template {path}" in cycle.stderr and "more than 2 s" in cycle.stderr
    assert ws.draft_keys("personal") == []  # no draft from the runaway template
    assert ws.draft_keys("work") == ["w1/confirmation/bo@x.org"]  # the other account went on
    preview = ws.run("preview", "thank_you")
    assert preview.returncode == 1 and f"template {path}" in preview.stderr
    assert "Traceback" not in preview.stderr
    doctor = ws.run("doctor")
    assert "FAIL  template thank_you" in doctor.stdout and "more than 2 s" in doctor.stdout
