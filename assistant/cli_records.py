"""The `report` and `export` commands, and the patient options of `run` and `history`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.export import FORMATS as EXPORT_FORMATS
from assistant.export import export_patients, export_records
from assistant.patients import (
    PatientOptions,
    PatientProblem,
    normalise_name,
    patient_history,
    patient_session_options,
)
from assistant.reports import (
    FORMATS as REPORT_FORMATS,
)
from assistant.reports import (
    ReportProblem,
    build_course_report,
    build_session_report,
    write_course_report,
    write_session_report,
)
from assistant.store import SessionStore, SessionSummary, default_db_path

Handler = Callable[[argparse.Namespace], int]

__all__ = [
    "PatientOptions",
    "add_record_commands",
    "history_summaries",
    "patient_argument",
    "patient_session_options",
]


def add_record_commands(subparsers: Any) -> dict[str, Handler]:
    """Add `report` and `export` to the command line; returns their handlers by name."""
    report = subparsers.add_parser(
        "report",
        help="write a session report, or a patient's course report",
        description="Write a session report (SESSION_ID) or a patient's course report (--patient).",
    )
    report.add_argument("session_id", nargs="?", type=int, metavar="SESSION_ID")
    report.add_argument(
        "--patient", type=patient_argument, metavar="NAME_OR_ID", help="the patient's course report"
    )
    report.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="folder to write to (default .)"
    )
    report.add_argument(
        "--format", choices=tuple(REPORT_FORMATS), default="both", help="html, md or both (default)"
    )
    report.add_argument("--db", type=Path, help="the session database (default: your data folder)")

    export = subparsers.add_parser(
        "export",
        help="export every session with its events as CSV or JSON",
        description="CSV: one row per event with the session's columns repeated."
        " JSON: a list of sessions, each with its events.",
    )
    export.add_argument(
        "--format", choices=EXPORT_FORMATS, help="csv or json (default: from --out's suffix)"
    )
    export.add_argument("--out", type=Path, metavar="FILE", help="file to write (default: stdout)")
    export.add_argument(
        "--patients",
        action="store_true",
        help="export the patient records (the exacerbation on record) instead of the sessions",
    )
    export.add_argument("--db", type=Path, help="the session database (default: your data folder)")
    return {"report": _report, "export": _export}


def patient_argument(text: str) -> str:
    """`--patient` as typed, checked: a name or id that is not blank."""
    try:
        return normalise_name(text)
    except PatientProblem as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def history_summaries(store: SessionStore, patient: str | None) -> list[SessionSummary]:
    """What `history` lists: every session, or only those of one patient."""
    if patient is None:
        return store.history()
    return patient_history(store, patient)


def _fail(message: str) -> int:
    print(f"massage-assistant: {message}", file=sys.stderr)
    return 2


def _open_store(db: Path | None) -> SessionStore:
    path = db or default_db_path()
    if not path.exists():
        raise ReportProblem(f"there is no session database at {path}")
    return SessionStore(path)


def _report(args: argparse.Namespace) -> int:
    if (args.session_id is None) == (args.patient is None):
        return _fail("name a session (report SESSION_ID) or a patient (report --patient NAME)")
    try:
        with _open_store(args.db) as store:
            if args.patient is not None:
                written = write_course_report(
                    build_course_report(store, args.patient), args.out, args.format
                )
            else:
                written = write_session_report(
                    build_session_report(store, args.session_id), args.out, args.format
                )
    except (ReportProblem, PatientProblem) as problem:
        return _fail(str(problem))
    except OSError as error:
        return _fail(f"could not write the report: {error}")
    for path in written:
        print(path)
    return 0


def _export(args: argparse.Namespace) -> int:
    format_name = args.format
    if format_name is None and args.out is not None:
        suffix = args.out.suffix.lower().lstrip(".")
        format_name = suffix if suffix in EXPORT_FORMATS else None
    if format_name is None:
        return _fail("choose --format csv or --format json")
    try:
        with _open_store(args.db) as store:
            if args.patients:
                result = export_patients(store, format_name, args.out)
            else:
                result = export_records(store, format_name, args.out)
    except ReportProblem as problem:
        return _fail(str(problem))
    except OSError as error:
        return _fail(f"could not write the export: {error}")
    if isinstance(result, Path):
        print(result, file=sys.stderr)
    else:
        sys.stdout.write(result)
    return 0
