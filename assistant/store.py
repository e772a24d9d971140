"""Session records in SQLite: every event committed as it happens, readable by its owner only."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from assistant.session import BUDGET_LIMIT, BUDGET_WARNING, PAIN_WITHDRAWN, ResumePoint

DB_ENVIRONMENT_VARIABLE = "MASSAGE_ASSISTANT_DB"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    protocol TEXT NOT NULL,
    protocol_path TEXT,
    session_number INTEGER NOT NULL,
    patient TEXT,
    exacerbation INTEGER NOT NULL DEFAULT 0,
    gentle INTEGER NOT NULL DEFAULT 0,
    steps_total INTEGER NOT NULL,
    budget_minutes INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id, id);
"""


def default_db_path() -> Path:
    override = os.environ.get(DB_ENVIRONMENT_VARIABLE)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("massage-assistant")) / "sessions.sqlite3"


@dataclass(frozen=True)
class StoredSession:
    id: int
    protocol: str
    protocol_path: str | None
    session_number: int
    patient: str | None
    exacerbation: bool
    gentle: bool
    steps_total: int
    budget_minutes: int
    started_at: str
    ended_at: str | None
    outcome: str | None


@dataclass(frozen=True)
class StoredEvent:
    id: int
    at: str
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class SessionSummary:
    session: StoredSession
    steps_completed: int
    pain_events: int
    active_seconds: float

    def to_json(self) -> dict[str, Any]:
        s = self.session
        return {
            "id": s.id,
            "protocol": s.protocol,
            "session_number": s.session_number,
            "patient": s.patient,
            "exacerbation": s.exacerbation,
            "gentle": s.gentle,
            "started_at": s.started_at,
            "ended_at": s.ended_at,
            "outcome": s.outcome,
            "steps_total": s.steps_total,
            "steps_completed": self.steps_completed,
            "pain_events": self.pain_events,
            "active_seconds": self.active_seconds,
            "budget_minutes": s.budget_minutes,
        }


def _create_private(path: Path) -> None:
    """Create the database file and its folder so that only the owner can read them."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(descriptor)
    # An existing file may have been created with looser rights by another tool.
    os.chmod(path, 0o600)


class SessionStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        _create_private(path)
        # isolation_level=None: every statement commits at once, so a killed process loses nothing.
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- writing ---

    def begin(
        self,
        *,
        protocol: str,
        protocol_path: str | None,
        session_number: int,
        patient: str | None,
        exacerbation: bool,
        gentle: bool,
        steps_total: int,
        budget_minutes: int,
        started_at: str,
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO sessions (protocol, protocol_path, session_number, patient, exacerbation,"
            " gentle, steps_total, budget_minutes, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                protocol,
                protocol_path,
                session_number,
                patient,
                int(exacerbation),
                int(gentle),
                steps_total,
                budget_minutes,
                started_at,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def record(self, session_id: int, kind: str, data: Mapping[str, Any], at: str) -> None:
        self._db.execute(
            "INSERT INTO events (session_id, at, kind, data) VALUES (?, ?, ?, ?)",
            (session_id, at, kind, json.dumps(dict(data), default=str)),
        )
        if kind == "session_ended":
            self._db.execute(
                "UPDATE sessions SET ended_at = ?, outcome = ? WHERE id = ?",
                (at, data.get("outcome"), session_id),
            )
        elif kind == "screen_result" and "steps_total" in data:
            # A relative contraindication found by the screen changes the session's plan.
            self._db.execute(
                "UPDATE sessions SET exacerbation = ?, gentle = ?, steps_total = ? WHERE id = ?",
                (int(data["exacerbation"]), int(data["gentle"]), data["steps_total"], session_id),
            )

    # --- reading ---

    def session(self, session_id: int) -> StoredSession | None:
        row = self._db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return _session(row) if row else None

    def sessions(self, patient: str | None = None) -> list[StoredSession]:
        if patient is None:
            rows = self._db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY id"
            ).fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE patient = ? ORDER BY id", (patient,)
            ).fetchall()
        return [_session(row) for row in rows]

    def events(self, session_id: int) -> list[StoredEvent]:
        rows = self._db.execute(
            "SELECT id, at, kind, data FROM events WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
        return [StoredEvent(row[0], row[1], row[2], json.loads(row[3])) for row in rows]

    def last_interrupted(self) -> StoredSession | None:
        row = self._db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return _session(row) if row else None

    def resume_point(self, session_id: int) -> ResumePoint:
        """Where the session stood at its last recorded event."""
        step = 0
        gentle = False
        active = 0.0
        warnings: set[str] = set()
        holding = False
        screen_pending = False
        for event in self.events(session_id):
            step = int(event.data.get("step", step))
            active = max(active, float(event.data.get("active_seconds", 0.0)))
            if event.kind in ("pain", "session_started", "screen_result") and (
                event.kind == "pain" or event.data.get("gentle")
            ):
                gentle = True
            if event.kind in (BUDGET_WARNING, BUDGET_LIMIT):
                warnings.add(event.kind)
            if event.kind == "pain" and event.data.get("phase") != "screening":
                holding = True
            elif event.kind in ("resumed", "step_started"):
                holding = False
            elif event.kind == PAIN_WITHDRAWN:
                # As the session stood before that pain.
                holding = bool(event.data.get("holding"))
                gentle = bool(event.data.get("gentle"))
            if event.kind == "session_started":
                screen_pending = event.data.get("screen") == "asked"
            elif event.kind == "screen_result":
                screen_pending = False
        return ResumePoint(step, gentle, active, frozenset(warnings), holding, screen_pending)

    def summary(self, session: StoredSession) -> SessionSummary:
        completed: set[int] = set()
        pain = 0
        active = 0.0
        for event in self.events(session.id):
            active = max(active, float(event.data.get("active_seconds", 0.0)))
            if event.kind == "step_completed":
                completed.add(int(event.data["step"]))
            elif event.kind == "pain":
                pain += 1
            elif event.kind == PAIN_WITHDRAWN:
                pain -= 1
        return SessionSummary(session, len(completed), pain, active)

    def history(self, patient: str | None = None) -> list[SessionSummary]:
        return [self.summary(s) for s in self.sessions(patient)]

    # --- for the modules that keep their own tables next to the records (patients) ---

    @property
    def connection(self) -> sqlite3.Connection:
        """The open database; every statement on it commits at once, like the records."""
        return self._db


_SESSION_COLUMNS = (
    "id, protocol, protocol_path, session_number, patient, exacerbation, gentle, steps_total,"
    " budget_minutes, started_at, ended_at, outcome"
)


def _session(row: tuple[Any, ...]) -> StoredSession:
    return StoredSession(
        id=row[0],
        protocol=row[1],
        protocol_path=row[2],
        session_number=row[3],
        patient=row[4],
        exacerbation=bool(row[5]),
        gentle=bool(row[6]),
        steps_total=row[7],
        budget_minutes=row[8],
        started_at=row[9],
        ended_at=row[10],
        outcome=row[11],
    )
