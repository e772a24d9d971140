"""A patient's course: every session over time, with a plot of duration and pain."""

from __future__ import annotations

import io
from dataclasses import dataclass

from assistant.patients import find_patient
from assistant.reports.model import ReportProblem, build_session_report, local_time
from assistant.store import SessionStore

DURATION_COLOUR = "#4c78a8"
BUDGET_COLOUR = "#333333"
PAIN_COLOUR = "#d62728"


@dataclass(frozen=True)
class CourseSession:
    session_id: int
    started_at: str
    protocol: str
    session_number: int
    active_seconds: float
    budget: str
    budget_limit_minutes: int
    steps_completed: int
    steps_total: int
    pain_events: int
    max_pain_level: int | None
    outcome: str | None


@dataclass(frozen=True)
class CourseReport:
    patient: str
    exacerbation: bool
    sessions: tuple[CourseSession, ...]

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.protocol for s in self.sessions))


def build_course_report(store: SessionStore, patient: str) -> CourseReport:
    record = find_patient(store, patient)
    name = record.name if record is not None else " ".join(patient.split())
    stored = store.sessions(name)
    if record is None and not stored:
        raise ReportProblem(f"there is no patient {patient!r} in the records")
    sessions = []
    for session in stored:
        report = build_session_report(store, session.id)
        levels = report.pain_levels
        sessions.append(
            CourseSession(
                session_id=session.id,
                started_at=session.started_at,
                protocol=session.protocol,
                session_number=session.session_number,
                active_seconds=report.active_seconds,
                budget=report.budget,
                budget_limit_minutes=report.budget_limit_minutes,
                steps_completed=report.steps_completed,
                steps_total=len(report.steps),
                pain_events=len(report.pain),
                max_pain_level=max(levels) if levels else None,
                outcome=session.outcome,
            )
        )
    return CourseReport(name, bool(record and record.exacerbation), tuple(sessions))


def course_plot_png(course: CourseReport) -> bytes:
    """Duration against budget (top) and the highest pain level (bottom), one column per session."""
    # The Agg canvas draws without a display and without pyplot's global state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sessions = course.sessions
    positions = list(range(len(sessions)))
    labels = [
        f"#{s.session_id}\n{local_time(s.started_at, with_date=True)[:10]}\n{s.protocol} {s.session_number}"
        for s in sessions
    ]
    figure = Figure(figsize=(8, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))

    minutes = [s.active_seconds / 60.0 for s in sessions]
    top.bar(positions, minutes, color=DURATION_COLOUR, width=0.6, label="massage time")
    top.scatter(
        positions,
        [s.budget_limit_minutes for s in sessions],
        marker="_",
        s=900,
        linewidths=2,
        color=BUDGET_COLOUR,
        label="budget",
        zorder=3,
    )
    top.set_ylabel("minutes")
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", fontsize="small", markerscale=0.4)
    top.set_title(f"{course.patient}: duration and pain per session")

    known = [(x, s.max_pain_level) for x, s in enumerate(sessions) if s.max_pain_level is not None]
    if known:
        bottom.plot(
            [x for x, _ in known],
            [y for _, y in known],
            marker="o",
            color=PAIN_COLOUR,
            label="highest pain level",
        )
    unscored = [x for x, s in enumerate(sessions) if s.max_pain_level is None and s.pain_events]
    if unscored:
        bottom.scatter(
            unscored, [10.5] * len(unscored), marker="x", color=PAIN_COLOUR, label="pain, no level"
        )
    painless = [x for x, s in enumerate(sessions) if s.max_pain_level is None and not s.pain_events]
    if painless:
        bottom.scatter(
            painless,
            [0] * len(painless),
            marker="o",
            facecolors="none",
            edgecolors="#888888",
            label="no pain reported",
        )
    bottom.set_ylim(-0.5, 11)
    bottom.set_yticks(range(0, 11, 2))
    bottom.set_ylabel("pain (0\u201310)")
    bottom.set_xticks(positions, labels, fontsize="small")
    bottom.set_xlim(-0.7, max(len(sessions) - 0.3, 0.7))
    if known or unscored or painless:
        bottom.legend(loc="upper left", fontsize="small")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
