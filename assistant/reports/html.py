"""Session and course reports as single self-contained HTML files (no scripts, no outside links)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from urllib.parse import quote

from assistant.reports.course import CourseReport
from assistant.reports.model import (
    COMPLETED,
    LEFT_AFTER_PAIN,
    NOT_REACHED,
    SKIPPED,
    SessionReport,
    duration,
    local_time,
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222;
       line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin-bottom: 0.2em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.completed { color: #1b6e20; }
.skipped, .left-after-pain, .over { color: #a33; font-weight: 600; }
.not-reached { color: #888; }
.muted { color: #666; }
.notes { border: 1px dashed #aaa; min-height: 4em; padding: 0.5em; color: #888; }
img.plot { max-width: 100%; height: auto; border: 1px solid #ddd; }
@media print { h2 { break-after: avoid; } table { break-inside: auto; } }
"""


def _page(title: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            # Nothing in a report may be fetched from elsewhere: it holds patient data. Voice
            # notes play from the local disk only.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
            " img-src data:; media-src file:; style-src 'unsafe-inline'\">",
            '<meta name="referrer" content="no-referrer">',
            f"<title>{escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    """A table; cells are escaped unless `raw` (then the caller has escaped them)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{cell if raw else escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _facts(items: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are already escaped."""
    rows = "\n".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in items)
    return f'<dl class="facts">\n{rows}\n</dl>'


def _list(items: Iterable[str]) -> str:
    return "<ul>\n" + "\n".join(f"<li>{escape(i)}</li>" for i in items) + "\n</ul>"


def _status_class(status: str) -> str:
    return {
        COMPLETED: "completed",
        SKIPPED: "skipped",
        LEFT_AFTER_PAIN: "left-after-pain",
        NOT_REACHED: "not-reached",
    }.get(status, "")


def voice_note_href(path: str) -> str:
    """A link to the recording: a file URI for an absolute path, else the path as written."""
    note = Path(path)
    return note.as_uri() if note.is_absolute() else quote(path)


def _step_cell(report: SessionReport, index: int | None) -> str:
    step = report.step(index)
    return step.label if step else "\u2014"


def render_session_html(report: SessionReport) -> str:
    s = report.session
    title = f"Session {s.id} \u2014 {report.title}"
    used = duration(report.active_seconds)
    budget_class = ' class="over"' if report.over_budget else ""
    facts = [
        ("Protocol", escape(f"{report.title} ({s.protocol})")),
        ("Patient", escape(s.patient) if s.patient else '<span class="muted">not recorded</span>'),
        ("Session in course", escape(str(s.session_number))),
        ("Date", escape(local_time(s.started_at, with_date=True))),
        ("Outcome", escape(s.outcome or "interrupted (not ended)")),
        (
            "Duration",
            f"<span{budget_class}>{escape(used)}</span> of massage against a budget of"
            f" {escape(report.budget)}" + (" \u2014 over budget" if report.over_budget else ""),
        ),
        ("Steps completed", escape(f"{report.steps_completed} of {len(report.steps)}")),
    ]
    if s.exacerbation:
        left_out = ", ".join(report.regions_left_out) or "the affected areas"
        facts.append(("Exacerbation", escape(f"yes: {left_out} left out")))
    if s.gentle or any(step.gentle for step in report.steps):
        facts.append(("Gentle variant", "yes"))
    body = [f"<h1>{escape(title)}</h1>", _facts(facts)]
    if not report.protocol_found:
        body.append(
            f'<p class="muted">The protocol file for {escape(s.protocol)} could not be loaded;'
            " steps are shown by number only.</p>"
        )

    body.append("<h2>Steps</h2>")
    rows = [
        [
            escape(str(step.number)),
            escape(step.stage_name),
            escape(step.technique or "\u2014"),
            escape(", ".join(step.regions)),
            escape(step.direction or ""),
            escape(step.repetitions),
            escape(duration(step.seconds)) if step.visits else "",
            f'<span class="{_status_class(step.status)}">{escape(step.status)}</span>',
        ]
        for step in report.steps
    ]
    body.append(
        _table(
            [
                "#",
                "Stage",
                "Technique",
                "Areas",
                "Direction",
                "Repetitions planned",
                "Time",
                "Status",
            ],
            rows,
            raw=True,
        )
    )

    body.append("<h2>Commands heard</h2>")
    if report.commands:
        body.append(
            _table(
                ["Time", "Session time", "Step", "Intent", "Heard"],
                (
                    [
                        local_time(c.at),
                        duration(c.active_seconds),
                        str(c.step + 1),
                        c.intent,
                        c.heard or "",
                    ]
                    for c in report.commands
                ),
            )
        )
    else:
        body.append('<p class="muted">No commands recorded.</p>')

    body.append("<h2>Pain</h2>")
    if report.pain:
        body.append(
            _table(
                ["Time", "Session time", "Step interrupted", "Level (0\u201310)"],
                (
                    [
                        local_time(p.at),
                        duration(p.active_seconds),
                        _step_cell(report, p.interrupted_step),
                        "" if p.level is None else str(p.level),
                    ]
                    for p in report.pain
                ),
            )
        )
    else:
        body.append('<p class="muted">No pain events.</p>')
    if report.pain_scores:
        body.append("<h3>Pain scores</h3>")
        body.append(
            _table(
                ["Time", "Session time", "Step", "Level (0\u201310)"],
                (
                    [
                        local_time(p.at),
                        duration(p.active_seconds),
                        _step_cell(report, p.step),
                        str(p.level),
                    ]
                    for p in report.pain_scores
                ),
            )
        )

    if report.voice_notes:
        body.append("<h2>Voice notes</h2>")
        body.append(
            _table(
                ["Time", "Step", "Length", "Recording"],
                (
                    [
                        escape(local_time(n.at)),
                        escape(_step_cell(report, n.step)),
                        escape(duration(n.seconds)) if n.seconds is not None else "",
                        f'<audio controls preload="none" src="{escape(voice_note_href(n.path))}">'
                        "</audio> "
                        f'<a href="{escape(voice_note_href(n.path))}">{escape(Path(n.path).name or n.path)}</a>',
                    ]
                    for n in report.voice_notes
                ),
                raw=True,
            )
        )

    if report.screen_answers:
        body.append("<h2>Contraindication screen</h2>")
        body.append(
            _table(
                ["Question", "Answer", "Kind"],
                ([a.question, a.answer, a.kind] for a in report.screen_answers),
            )
        )

    if report.budget_events:
        body.append("<h2>Time warnings</h2>")
        body.append(
            _list(
                f"{local_time(b.at)} ({duration(b.active_seconds)}):"
                f" {'one minute left' if b.kind == 'budget_warning' else 'budget used'}"
                for b in report.budget_events
            )
        )

    soap = report.soap
    body.append("<h2>SOAP draft</h2>")
    body.append('<p class="muted">Drafted from the records; complete and correct it.</p>')
    for heading, lines in (
        ("Subjective", soap.subjective),
        ("Objective", soap.objective),
        ("Assessment", soap.assessment),
        ("Plan", soap.plan),
    ):
        body.append(f"<h3>{heading}</h3>")
        body.append(_list(lines))
        body.append('<div class="notes">Therapist\'s notes:</div>')
    return _page(title, body)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_course_html(course: CourseReport, plot_png: bytes | None) -> str:
    title = f"Course report \u2014 {course.patient}"
    facts = [
        ("Patient", escape(course.patient)),
        ("Sessions", escape(str(len(course.sessions)))),
        ("Protocols", escape(", ".join(course.protocols) or "none")),
        ("Exacerbation recorded now", "yes" if course.exacerbation else "no"),
    ]
    if course.sessions:
        facts.append(
            (
                "Period",
                escape(
                    f"{local_time(course.sessions[0].started_at, True)} to"
                    f" {local_time(course.sessions[-1].started_at, True)}"
                ),
            )
        )
    body = [f"<h1>{escape(title)}</h1>", _facts(facts)]
    if plot_png is not None:
        body.append("<h2>Duration and pain per session</h2>")
        body.append(
            f'<img class="plot" src="{png_data_uri(plot_png)}"'
            ' alt="Duration and pain level per session">'
        )
    body.append("<h2>Sessions</h2>")
    if course.sessions:
        body.append(
            _table(
                [
                    "#",
                    "Date",
                    "Protocol",
                    "Session in course",
                    "Duration",
                    "Budget",
                    "Steps",
                    "Pain events",
                    "Highest pain level",
                    "Outcome",
                ],
                (
                    [
                        str(c.session_id),
                        local_time(c.started_at, with_date=True),
                        c.protocol,
                        str(c.session_number),
                        duration(c.active_seconds),
                        c.budget,
                        f"{c.steps_completed}/{c.steps_total}",
                        str(c.pain_events),
                        "" if c.max_pain_level is None else str(c.max_pain_level),
                        c.outcome or "interrupted",
                    ]
                    for c in course.sessions
                ),
            )
        )
    else:
        body.append('<p class="muted">No sessions recorded for this patient.</p>')
    return _page(title, body)
