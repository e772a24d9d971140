"""Session and course reports for the therapist, written as private files."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.reports.course import (
    CourseReport,
    build_course_report,
    course_plot_png,
)
from assistant.reports.files import write_private
from assistant.reports.html import render_course_html, render_session_html
from assistant.reports.markdown import render_course_markdown, render_session_markdown
from assistant.reports.model import ReportProblem, SessionReport, build_session_report

FORMATS = {"html": ("html",), "md": ("md",), "both": ("html", "md")}

__all__ = [
    "FORMATS",
    "CourseReport",
    "ReportProblem",
    "SessionReport",
    "build_course_report",
    "build_session_report",
    "course_file_stem",
    "write_course_report",
    "write_session_report",
]


def write_session_report(report: SessionReport, out_dir: Path, formats: str) -> list[Path]:
    """Write `session-<id>.html` and/or `.md` into `out_dir`; returns the files written."""
    stem = f"session-{report.session.id}"
    written = []
    for kind in FORMATS[formats]:
        text = render_session_html(report) if kind == "html" else render_session_markdown(report)
        written.append(write_private(out_dir / f"{stem}.{kind}", text))
    return written


def course_file_stem(patient: str) -> str:
    """A file name for the patient's course report: letters and digits, the rest as dashes."""
    slug = re.sub(r"[^\w]+", "-", patient, flags=re.UNICODE).strip("-_").lower()
    return f"course-{slug or 'patient'}"


def write_course_report(course: CourseReport, out_dir: Path, formats: str) -> list[Path]:
    """Write the course report; the HTML embeds its plot, the Markdown links a PNG beside it."""
    stem = course_file_stem(course.patient)
    png = course_plot_png(course) if course.sessions else None
    written = []
    for kind in FORMATS[formats]:
        if kind == "html":
            written.append(write_private(out_dir / f"{stem}.html", render_course_html(course, png)))
        else:
            plot_name = None
            if png is not None:
                plot_name = f"{stem}.png"
                written.append(write_private(out_dir / plot_name, png))
            written.append(
                write_private(out_dir / f"{stem}.md", render_course_markdown(course, plot_name))
            )
    return written
