"""Every recorded session with its events, as CSV or JSON for the clinic's own system.

JSON is a list of sessions, each with its fields and its events in order. CSV has one row per
event with the session's columns repeated (a session without events gets one row with empty
event columns); an empty cell stands for a missing value, booleans are 0 or 1, and each event's
data is a JSON object in `event_data`. `read_csv` and `read_json` read both back exactly.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from assistant.patients import Patient, patients
from assistant.reports.files import write_private
from assistant.store import SessionStore, StoredEvent, StoredSession

FORMATS = ("csv", "json")

SESSION_COLUMNS = tuple(f.name for f in fields(StoredSession))
CSV_COLUMNS = (
    "session_id",
    *SESSION_COLUMNS[1:],
    "event_id",
    "event_at",
    "event_kind",
    "event_data",
)
_BOOLEAN = frozenset({"exacerbation", "gentle"})
_INTEGER = frozenset({"session_number", "steps_total", "budget_minutes"})
_OPTIONAL = frozenset({"protocol_path", "patient", "ended_at", "outcome"})


@dataclass(frozen=True)
class ExportedSession:
    session: StoredSession
    events: tuple[StoredEvent, ...]


def collect(store: SessionStore, patient: str | None = None) -> list[ExportedSession]:
    """All sessions (or one patient's), oldest first, each with its events in order."""
    return [ExportedSession(s, tuple(store.events(s.id))) for s in store.sessions(patient)]


# --- JSON ------------------------------------------------------------------------------------


def to_json(sessions: list[ExportedSession]) -> str:
    return (
        json.dumps(
            [
                {**asdict(item.session), "events": [asdict(e) for e in item.events]}
                for item in sessions
            ],
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def read_json(text: str) -> list[ExportedSession]:
    result = []
    for entry in json.loads(text):
        session = StoredSession(**{name: entry[name] for name in SESSION_COLUMNS})
        events = tuple(StoredEvent(e["id"], e["at"], e["kind"], e["data"]) for e in entry["events"])
        result.append(ExportedSession(session, events))
    return result


# --- CSV -------------------------------------------------------------------------------------


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in _BOOLEAN:
        return "1" if value else "0"
    return str(value)


def to_csv(sessions: list[ExportedSession]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for item in sessions:
        values = asdict(item.session)
        session_cells = [_cell(name, values[name]) for name in SESSION_COLUMNS]
        if not item.events:
            writer.writerow([*session_cells, "", "", "", ""])
        for event in item.events:
            writer.writerow(
                [
                    *session_cells,
                    str(event.id),
                    event.at,
                    event.kind,
                    json.dumps(event.data, ensure_ascii=False),
                ]
            )
    return buffer.getvalue()


def _session_value(name: str, text: str) -> Any:
    if name in _OPTIONAL and text == "":
        return None
    if name == "id" or name in _INTEGER:
        return int(text)
    if name in _BOOLEAN:
        return text == "1"
    return text


def read_csv(text: str) -> list[ExportedSession]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ValueError(f"not a session export: expected the columns {', '.join(CSV_COLUMNS)}")
    sessions: dict[int, StoredSession] = {}
    events: dict[int, list[StoredEvent]] = {}
    for row in reader:
        cells = {"id": row["session_id"], **{n: row[n] for n in SESSION_COLUMNS[1:]}}
        session = StoredSession(**{n: _session_value(n, v) for n, v in cells.items()})
        sessions.setdefault(session.id, session)
        bucket = events.setdefault(session.id, [])
        if row["event_id"]:
            bucket.append(
                StoredEvent(
                    int(row["event_id"]),
                    row["event_at"],
                    row["event_kind"],
                    json.loads(row["event_data"]),
                )
            )
    return [ExportedSession(s, tuple(events[i])) for i, s in sessions.items()]


# --- writing ---------------------------------------------------------------------------------


def render(sessions: list[ExportedSession], format_name: str) -> str:
    if format_name == "csv":
        return to_csv(sessions)
    if format_name == "json":
        return to_json(sessions)
    raise ValueError(f"unknown export format {format_name!r}; expected csv or json")


# --- patients ------------------------------------------------------------------------------

PATIENT_COLUMNS = tuple(f.name for f in fields(Patient))


def patients_text(rows: list[Patient], format_name: str) -> str:
    """The patient records (name or id, the exacerbation on record, when created and changed)."""
    if format_name == "json":
        return json.dumps([asdict(p) for p in rows], indent=2, ensure_ascii=False) + "\n"
    if format_name != "csv":
        raise ValueError(f"unknown export format {format_name!r}; expected csv or json")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PATIENT_COLUMNS)
    for patient in rows:
        writer.writerow([_cell(n, v) for n, v in asdict(patient).items()])
    return buffer.getvalue()


def read_patients(text: str, format_name: str) -> list[Patient]:
    if format_name == "json":
        return [Patient(**entry) for entry in json.loads(text)]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != PATIENT_COLUMNS:
        raise ValueError(f"not a patient export: expected the columns {', '.join(PATIENT_COLUMNS)}")
    return [
        Patient(row["name"], row["exacerbation"] == "1", row["created_at"], row["updated_at"])
        for row in reader
    ]


def export_patients(store: SessionStore, format_name: str, out: Path | None) -> str | Path:
    """Like export_records, for the patient records."""
    text = patients_text(patients(store), format_name)
    return text if out is None else write_private(out, text)


def export_records(
    store: SessionStore, format_name: str, out: Path | None, patient: str | None = None
) -> str | Path:
    """Write the export to `out` (created 0600), or return the text when there is no file."""
    text = render(collect(store, patient), format_name)
    if out is None:
        return text
    return write_private(out, text)
