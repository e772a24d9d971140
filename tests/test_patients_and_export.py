"""Patient records and course numbering, and the CSV/JSON export read back against the database."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.catalog import load_protocol
from assistant.cli_records import history_summaries, patient_session_options
from assistant.export import CSV_COLUMNS, read_csv, read_json, read_patients, to_csv
from assistant.patients import find_patient, patient_name, patients
from assistant.phrasing import Phraser, load_phrasebook
from assistant.plan import SessionOptions, build_plan
from assistant.runner import InputClosed, SessionRunner, Typed, wall_clock_now
from assistant.session import Session, SessionSettings
from assistant.store import SessionStore
from assistant.vocabulary import load_vocabulary

CLI = [sys.executable, "-m", "assistant"]


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, timeout=60)


def run_typed(
    store: SessionStore,
    commands: list[str],
    *,
    protocol: str = "cervical",
    patient: str | None = None,
    session_number: int | None = None,
    exacerbation: bool | None = None,
) -> int:
    """A session through the real runner, typed commands in, records into SQLite, as `run` does."""
    loaded, path = load_protocol(protocol)
    number, flare = patient_session_options(store, patient, loaded.id, session_number, exacerbation)
    plan = build_plan(loaded, SessionOptions(number, flare))
    session_id = store.begin(
        protocol=loaded.id,
        protocol_path=str(path.resolve()),
        session_number=number,
        patient=patient_name(store, patient) if patient else None,
        exacerbation=flare,
        gentle=False,
        steps_total=len(plan.steps),
        budget_minutes=plan.budget.limit_minutes,
        started_at=wall_clock_now(),
    )
    runner = SessionRunner(
        Session(plan, SessionSettings(screen=False)),
        Phraser(load_phrasebook()),
        load_vocabulary(),
        store,
        session_id,
        out=io.StringIO(),
    )
    for command in commands:
        runner.post(Typed(command))
    runner.post(InputClosed("input ended"))
    runner.run()
    return session_id


def sessions_table(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT id, protocol, session_number, patient, exacerbation, budget_minutes"
            " FROM sessions ORDER BY id"
        ).fetchall()


# --- patients and the course -------------------------------------------------------------------


def test_the_session_number_follows_the_patients_course(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    with SessionStore(db) as store:
        for spelling in ["Anna K", "anna k", "  ANNA   K ", "Anna K"]:
            run_typed(store, ["next", "stop session"], patient=spelling)
        run_typed(store, ["stop"], patient="Anna K", protocol="lumbosacral")
        run_typed(store, ["stop"], patient="Boris P")
        run_typed(store, ["stop"])  # no patient: session 1, nothing remembered
        # An explicit number wins over the course count.
        assert patient_session_options(store, "Anna K", "cervical", 9, None) == (9, False)
        assert [p.name for p in patients(store)] == ["Anna K", "Boris P"]
    rows = sessions_table(db)
    # Three first sessions of 5-7 minutes, then "15 minutes or more" from the fourth on.
    assert [(r[1], r[2], r[3], r[5]) for r in rows] == [
        ("cervical", 1, "Anna K", 7),
        ("cervical", 2, "Anna K", 7),
        ("cervical", 3, "Anna K", 7),
        ("cervical", 4, "Anna K", 15),
        ("lumbosacral", 1, "Anna K", 7),
        ("cervical", 1, "Boris P", 7),
        ("cervical", 1, None, 7),
    ]
    protocol, _path = load_protocol("cervical")
    with SessionStore(db) as store:
        number, _flare = patient_session_options(store, "anna k", "cervical", None, None)
    plan = build_plan(protocol, SessionOptions(number))
    assert number == 5 and plan.emphasis.value == "grinding" and not plan.first_sessions


def test_exacerbation_is_remembered_until_cleared(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        assert patient_session_options(store, "Anna K", "cervical", None, True) == (1, True)
        run_typed(store, ["stop"], patient="Anna K")
        # Without a flag the remembered value applies, for every protocol.
        assert patient_session_options(store, "anna k", "cervical", None, None) == (2, True)
        assert patient_session_options(store, "Anna K", "lumbosacral", None, None) == (1, True)
        assert patient_session_options(store, "Boris P", "cervical", None, None) == (1, False)
        # Without a patient the flag is used once and not remembered.
        assert patient_session_options(store, None, "cervical", None, True) == (1, True)
        assert patient_session_options(store, None, "cervical", None, None) == (1, False)
        assert patient_session_options(store, "Anna K", "cervical", None, False) == (2, False)
        assert patient_session_options(store, "Anna K", "cervical", None, None) == (2, False)
        record = find_patient(store, "ANNA K")
        assert record is not None and record.name == "Anna K" and not record.exacerbation


def test_history_of_one_patient(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        run_typed(store, ["next", "stop"], patient="Anna K")
        run_typed(store, ["stop"], patient="Boris P")
        run_typed(store, ["patient in pain", "stop"], patient="Anna K")
        anna = history_summaries(store, " anna  k")
        assert [(s.session.session_number, s.steps_completed, s.pain_events) for s in anna] == [
            (1, 1, 0),
            (2, 0, 1),
        ]
        assert history_summaries(store, "Nobody") == []
        assert len(history_summaries(store, None)) == 3


def test_patients_through_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite3")

    def session_of(patient: str, *flags: str) -> subprocess.CompletedProcess[str]:
        args = ["run", "cervical", "--skip-screen", "--text", "--db", db, "--patient", patient]
        done = cli(*args, *flags, stdin="stop\n")
        assert done.returncode == 0, done.stderr
        return done

    first = session_of("Anna K", "--exacerbation")
    assert "Session one." in first.stdout
    second = session_of("anna k")
    assert "Session two." in second.stdout
    # The remembered exacerbation still leaves the affected areas out.
    flare = "Exacerbation: do not work directly on the neck and spinal column"
    assert flare in first.stdout and flare in second.stdout
    cleared = session_of("Anna K", "--no-exacerbation")
    assert "Session three." in cleared.stdout and flare not in cleared.stdout
    session_of("Boris P")
    anna = json.loads(cli("history", "--json", "--db", db, "--patient", "ANNA K").stdout)
    assert [(s["session_number"], s["patient"], s["exacerbation"]) for s in anna] == [
        (1, "Anna K", True),
        (2, "Anna K", True),
        (3, "Anna K", False),
    ]
    everyone = json.loads(cli("history", "--json", "--db", db).stdout)
    assert len(everyone) == 4


# --- export ------------------------------------------------------------------------------------


def database_content(db: Path) -> list[dict[str, Any]]:
    """The sessions and events exactly as SQLite holds them, read without the assistant's code."""
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        sessions = [dict(row) for row in connection.execute("SELECT * FROM sessions ORDER BY id")]
        for session in sessions:
            session["exacerbation"] = bool(session["exacerbation"])
            session["gentle"] = bool(session["gentle"])
            session["events"] = [
                {
                    "id": row["id"],
                    "at": row["at"],
                    "kind": row["kind"],
                    "data": json.loads(row["data"]),
                }
                for row in connection.execute(
                    "SELECT * FROM events WHERE session_id = ? ORDER BY id", (session["id"],)
                )
            ]
        return sessions
    finally:
        connection.close()


def as_plain(exported: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            **vars(item.session),
            "events": [vars(event) for event in item.events],
        }
        for item in exported
    ]


def varied_database(tmp_path: Path) -> Path:
    db = tmp_path / "clinic" / "s.sqlite3"
    with SessionStore(db) as store:
        first = run_typed(
            store,
            ["next please", "patient in pain", "resume", "skip", "stop session"],
            patient='Åsa, "Ö" Lund',
        )
        run_typed(store, ["next", "pause"], protocol="lumbosacral")  # left interrupted
        store.record(
            first,
            "voice_note",
            {"step": 2, "active_seconds": 1.5, "path": 'notes/a,b\n"c".wav', "seconds": 3.25},
            wall_clock_now(),
        )
        store.begin(
            protocol="cervical",
            protocol_path=None,
            session_number=2,
            patient=None,
            exacerbation=True,
            gentle=True,
            steps_total=18,
            budget_minutes=7,
            started_at=wall_clock_now(),
        )  # a session with no events at all
    return db


def test_csv_export_round_trips(tmp_path: Path) -> None:
    db = varied_database(tmp_path)
    out = tmp_path / "exports" / "all.csv"
    result = cli("export", "--format", "csv", "--out", str(out), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    content = database_content(db)
    text = out.read_bytes().decode("utf-8")
    assert as_plain(read_csv(text)) == content
    # One row per event, plus one for the session without events, after the header.
    events = sum(len(s["events"]) for s in content)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + events + 1
    # The session's columns are repeated on each of its events' rows.
    first_rows = [row for row in rows[1:] if row[0] == "1"]
    assert len(first_rows) == len(content[0]["events"])
    assert {row[4] for row in first_rows} == {'Åsa, "Ö" Lund'}


def test_json_export_round_trips(tmp_path: Path) -> None:
    db = varied_database(tmp_path)
    result = cli("export", "--format", "json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    content = database_content(db)
    assert json.loads(result.stdout) == content
    assert as_plain(read_json(result.stdout)) == content
    # The format follows the file name when --format is left out.
    out = tmp_path / "all.json"
    assert cli("export", "--out", str(out), "--db", str(db)).returncode == 0
    assert json.loads(out.read_text()) == content
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert as_plain(read_csv(to_csv(read_json(out.read_text())))) == content


def test_export_needs_a_format_and_an_existing_database(tmp_path: Path) -> None:
    db = varied_database(tmp_path)
    unknown = cli("export", "--out", str(tmp_path / "all.txt"), "--db", str(db))
    assert unknown.returncode == 2 and "--format csv" in unknown.stderr
    missing = cli("export", "--format", "json", "--db", str(tmp_path / "none.sqlite3"))
    assert missing.returncode == 2 and "no session database" in missing.stderr
    assert not (tmp_path / "none.sqlite3").exists()


@pytest.mark.parametrize("format_name", ["csv", "json"])
def test_patient_records_export_round_trips(tmp_path: Path, format_name: str) -> None:
    db = varied_database(tmp_path)
    with SessionStore(db) as store:
        run_typed(store, ["stop"], patient="Boris P", exacerbation=True)
        recorded = patients(store)
    out = tmp_path / f"patients.{format_name}"
    result = cli("export", "--patients", "--out", str(out), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    exported = read_patients(out.read_text(encoding="utf-8"), format_name)
    assert exported == recorded
    assert [(p.name, p.exacerbation) for p in exported] == [
        ("Boris P", True),
        ('Åsa, "Ö" Lund', False),
    ]
