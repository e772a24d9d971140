"""Patient records: where each patient is in a course, and whether an exacerbation is on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

from assistant.store import SessionStore, SessionSummary

_SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    exacerbation INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class PatientProblem(ValueError):
    """A patient name or id that cannot be used; the message says why."""


@dataclass(frozen=True)
class Patient:
    name: str
    exacerbation: bool
    created_at: str
    updated_at: str


class PatientOptions(NamedTuple):
    session_number: int
    exacerbation: bool


def ensure_patients_table(store: SessionStore) -> None:
    store.connection.execute(_SCHEMA)


def normalise_name(name_or_id: str) -> str:
    """The name as stored: outer blanks dropped, inner runs of blanks made single."""
    name = " ".join(name_or_id.split())
    if not name:
        raise PatientProblem("a patient name or id cannot be blank")
    return name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def find_patient(store: SessionStore, name_or_id: str) -> Patient | None:
    """The patient recorded under this name or id; letter case does not matter."""
    ensure_patients_table(store)
    row = store.connection.execute(
        "SELECT name, exacerbation, created_at, updated_at FROM patients WHERE name = ?",
        (normalise_name(name_or_id),),
    ).fetchone()
    return Patient(row[0], bool(row[1]), row[2], row[3]) if row else None


def register_patient(store: SessionStore, name_or_id: str) -> Patient:
    """The patient's record, created on first use with the spelling given then."""
    existing = find_patient(store, name_or_id)
    if existing is not None:
        return existing
    now = _now()
    store.connection.execute(
        "INSERT INTO patients (name, exacerbation, created_at, updated_at) VALUES (?, 0, ?, ?)",
        (normalise_name(name_or_id), now, now),
    )
    patient = find_patient(store, name_or_id)
    assert patient is not None
    return patient


def patient_name(store: SessionStore, name_or_id: str) -> str:
    """The spelling the sessions are recorded under (the one given on first use)."""
    return register_patient(store, name_or_id).name


def set_exacerbation(store: SessionStore, name_or_id: str, exacerbation: bool) -> Patient:
    patient = register_patient(store, name_or_id)
    store.connection.execute(
        "UPDATE patients SET exacerbation = ?, updated_at = ? WHERE name = ?",
        (int(exacerbation), _now(), patient.name),
    )
    updated = find_patient(store, patient.name)
    assert updated is not None
    return updated


def next_session_number(store: SessionStore, name_or_id: str, protocol_id: str) -> int:
    """The patient's place in the course: earlier sessions of this protocol, plus one."""
    name = patient_name(store, name_or_id)
    (count,) = store.connection.execute(
        "SELECT COUNT(*) FROM sessions WHERE patient = ? AND protocol = ?", (name, protocol_id)
    ).fetchone()
    return int(count) + 1


def patient_session_options(
    store: SessionStore,
    patient: str | None,
    protocol_id: str,
    session_number_arg: int | None,
    exacerbation_arg: bool | None,
) -> PatientOptions:
    """Session number and exacerbation for `run`: given values win, the patient's record fills in.

    With a patient, an explicit exacerbation flag (True or False) is remembered for later
    sessions; None means "as last recorded". Without a patient nothing is remembered.
    """
    if patient is None:
        return PatientOptions(session_number_arg or 1, bool(exacerbation_arg))
    if exacerbation_arg is None:
        exacerbation = register_patient(store, patient).exacerbation
    else:
        exacerbation = set_exacerbation(store, patient, exacerbation_arg).exacerbation
    number = session_number_arg or next_session_number(store, patient, protocol_id)
    return PatientOptions(number, exacerbation)


def patients(store: SessionStore) -> list[Patient]:
    ensure_patients_table(store)
    rows = store.connection.execute(
        "SELECT name, exacerbation, created_at, updated_at FROM patients ORDER BY name"
    ).fetchall()
    return [Patient(row[0], bool(row[1]), row[2], row[3]) for row in rows]


def patient_history(store: SessionStore, name_or_id: str) -> list[SessionSummary]:
    """The patient's sessions, oldest first; empty for a patient never recorded."""
    patient = find_patient(store, name_or_id)
    if patient is None:
        return []
    return store.history(patient.name)
