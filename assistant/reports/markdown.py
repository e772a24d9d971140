"""Session and course reports as Markdown, for notes systems that take plain text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from assistant.reports.course import CourseReport
from assistant.reports.html import voice_note_href
from assistant.reports.model import SessionReport, duration, local_time


class _Raw(str):
    """Markdown written here, not text from the records: kept as it is."""


def _text(text: str) -> str:
    """Recorded text made inert: no HTML a Markdown viewer would render."""
    if isinstance(text, _Raw):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Table cell text: pipes escaped and line breaks flattened, so the table holds together."""
    if isinstance(text, _Raw):
        return " ".join(text.split())
    return " ".join(_text(text).replace("\\", "\\\\").replace("|", "\\|").split())


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return [*lines, ""]


def _step_cell(report: SessionReport, index: int | None) -> str:
    step = report.step(index)
    return step.label if step else "\u2014"


def render_session_markdown(report: SessionReport) -> str:
    s = report.session
    lines = [f"# Session {s.id} \u2014 {_text(report.title)}", ""]
    facts = [
        ("Protocol", f"{report.title} ({s.protocol})"),
        ("Patient", s.patient or "not recorded"),
        ("Session in course", str(s.session_number)),
        ("Date", local_time(s.started_at, with_date=True)),
        ("Outcome", s.outcome or "interrupted (not ended)"),
        (
            "Duration",
            f"{duration(report.active_seconds)} of massage against a budget of {report.budget}"
            + (" \u2014 **over budget**" if report.over_budget else ""),
        ),
        ("Steps completed", f"{report.steps_completed} of {len(report.steps)}"),
    ]
    if s.exacerbation:
        facts.append(("Exacerbation", f"yes: {', '.join(report.regions_left_out)} left out"))
    if s.gentle or any(step.gentle for step in report.steps):
        facts.append(("Gentle variant", "yes"))
    lines.extend(f"- **{key}:** {_text(value)}" for key, value in facts)
    lines.append("")

    lines += ["## Steps", ""]
    lines += _table(
        ["#", "Stage", "Technique", "Areas", "Direction", "Repetitions planned", "Time", "Status"],
        (
            [
                str(step.number),
                step.stage_name,
                step.technique or "\u2014",
                ", ".join(step.regions),
                step.direction or "",
                step.repetitions,
                duration(step.seconds) if step.visits else "",
                step.status,
            ]
            for step in report.steps
        ),
    )

    lines += ["## Commands heard", ""]
    if report.commands:
        lines += _table(
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
    else:
        lines += ["No commands recorded.", ""]

    lines += ["## Pain", ""]
    if report.pain:
        lines += _table(
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
    else:
        lines += ["No pain events.", ""]
    if report.pain_scores:
        lines += ["### Pain scores", ""]
        lines += _table(
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

    if report.voice_notes:
        lines += ["## Voice notes", ""]
        lines += _table(
            ["Time", "Step", "Length", "Recording"],
            (
                [
                    local_time(n.at),
                    _step_cell(report, n.step),
                    duration(n.seconds) if n.seconds is not None else "",
                    _Raw(f"[{_cell(Path(n.path).name or n.path)}](<{voice_note_href(n.path)}>)"),
                ]
                for n in report.voice_notes
            ),
        )

    if report.screen_answers:
        lines += ["## Contraindication screen", ""]
        lines += _table(
            ["Question", "Answer", "Kind"],
            ([a.question, a.answer, a.kind] for a in report.screen_answers),
        )

    if report.budget_events:
        lines += ["## Time warnings", ""]
        lines += [
            f"- {local_time(b.at)} ({duration(b.active_seconds)}):"
            f" {'one minute left' if b.kind == 'budget_warning' else 'budget used'}"
            for b in report.budget_events
        ]
        lines.append("")

    soap = report.soap
    lines += ["## SOAP draft", "", "_Drafted from the records; complete and correct it._", ""]
    for heading, items in (
        ("Subjective", soap.subjective),
        ("Objective", soap.objective),
        ("Assessment", soap.assessment),
        ("Plan", soap.plan),
    ):
        lines += [f"### {heading}", ""]
        lines += [f"- {_text(item)}" for item in items]
        lines += ["", "Therapist's notes:", "", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_course_markdown(course: CourseReport, plot_file: str | None) -> str:
    lines = [f"# Course report \u2014 {_text(course.patient)}", ""]
    lines.append(f"- **Sessions:** {len(course.sessions)}")
    lines.append(f"- **Protocols:** {_text(', '.join(course.protocols)) or 'none'}")
    lines.append(f"- **Exacerbation recorded now:** {'yes' if course.exacerbation else 'no'}")
    lines.append("")
    if plot_file is not None:
        lines += [f"![Duration and pain level per session](<{plot_file}>)", ""]
    lines += ["## Sessions", ""]
    if course.sessions:
        lines += _table(
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
    else:
        lines += ["No sessions recorded for this patient.", ""]
    return "\n".join(lines).rstrip() + "\n"
