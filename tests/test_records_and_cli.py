"""Session records in real SQLite, and whole keyboard sessions through the command line."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.session import BUDGET_WARNING
from assistant.store import SessionStore

CLI = [sys.executable, "-m", "assistant"]


def cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def begin(store: SessionStore) -> int:
    return store.begin(
        protocol="cervical",
        protocol_path=None,
        session_number=2,
        patient=None,
        exacerbation=False,
        gentle=False,
        steps_total=18,
        budget_minutes=7,
        started_at="2026-01-01T10:00:00+00:00",
    )


def test_database_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "sessions.sqlite3"
    with SessionStore(path) as store:
        store.record(begin(store), "command", {"step": 0}, "t")
        for file in path.parent.iterdir():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_loose_permissions_on_an_existing_file_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    SessionStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_each_event_is_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SessionStore(path)
    session_id = begin(store)
    store.record(session_id, "step_started", {"step": 3, "active_seconds": 12.5}, "t1")
    other = sqlite3.connect(path)
    assert other.execute("SELECT kind FROM events").fetchall() == [("step_started",)]
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    store.close()


def test_resume_point_and_summary_come_from_the_events(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = begin(store)
        for kind, data in [
            ("session_started", {"step": 0, "active_seconds": 0.0, "gentle": False}),
            ("step_completed", {"step": 0, "active_seconds": 30.0}),
            ("step_started", {"step": 1, "active_seconds": 30.0}),
            ("pain", {"step": 1, "active_seconds": 40.0}),
            (BUDGET_WARNING, {"step": 1, "active_seconds": 360.0}),
            ("step_completed", {"step": 1, "active_seconds": 361.0}),
            ("step_started", {"step": 2, "active_seconds": 361.0}),
        ]:
            store.record(session_id, kind, data, "t")
        point = store.resume_point(session_id)
        assert (point.step_index, point.gentle, point.active_seconds) == (2, True, 361.0)
        assert point.warnings_given == {BUDGET_WARNING}
        interrupted = store.last_interrupted()
        assert interrupted is not None and interrupted.id == session_id
        summary = store.summary(interrupted).to_json()
        assert (summary["steps_completed"], summary["pain_events"], summary["ended_at"]) == (
            2,
            1,
            None,
        )
        store.record(session_id, "session_ended", {"step": 2, "outcome": "stopped"}, "t-end")
        assert store.last_interrupted() is None
        ended = store.session(session_id)
        assert ended is not None and (ended.ended_at, ended.outcome) == ("t-end", "stopped")


# --- the command line -------------------------------------------------------------------------


def test_list_and_show(tmp_path: Path) -> None:
    listed = cli("list")
    assert listed.returncode == 0
    assert "cervical" in listed.stdout and "lumbosacral" in listed.stdout
    shown = cli("show", "cervical")
    assert shown.returncode == 0
    assert "supine" in shown.stdout
    assert "six to seven times on each side" in shown.stdout
    assert "Ordinary kneading, upper back, three to four times." in shown.stdout
    assert "2 times a day" in shown.stdout
    flare = cli("show", "lumbosacral", "--exacerbation")
    assert "left out" in flare.stdout and "Sacral section" not in flare.stdout
    # An exacerbation session is gentle: no grinding, repetitions at the low end.
    assert "Grinding" not in flare.stdout and "Gently: stroking instead of grinding" in flare.stdout


def test_unknown_protocol_is_a_clear_error() -> None:
    result = cli("show", "shoulders")
    assert result.returncode == 2
    assert "built-in protocols are: cervical, lumbosacral" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_whole_session_through_a_pipe(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    # The contraindication screen first: five general questions and the exacerbation, all no.
    commands = ["n", "no", "no", "no", "no there is not", "no"]
    commands += [
        "next please",
        "how many left",
        "what is this",
        "patient in pain",
        "next",
        "pause",
        "next",
        "resume",
    ]
    commands += ["next"] * 20
    result = cli("run", "cervical", "--text", "--db", str(db), stdin="\n".join(commands) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        "Stroking, upper back, from the lower edge of the shoulder blades to the neck, six to seven times on each side."
        in out
    )
    assert "Step two of eighteen" in out
    assert out.index("Does the patient have a fever?") < out.index("Fever: absent.")
    assert out.index("Is the patient in an exacerbation?") < out.index("No contraindications.")
    assert out.index("No contraindications.") < out.index("Stroking, upper back")
    assert "Unknown command 'what is this'" in out
    assert "Switch to gentle stroking on a neighbouring area" in out
    assert "Gently: stroking instead of ordinary kneading" in out
    assert "Paused. Say resume to continue." in out
    assert "The session is complete" in out
    history = json.loads(cli("history", "--json", "--db", str(db)).stdout)
    assert len(history) == 1
    session = history[0]
    assert session["protocol"] == "cervical" and session["session_number"] == 1
    assert session["ended_at"] is not None and session["outcome"] == "completed"
    assert session["pain_events"] == 1
    # One step was interrupted by pain and left with "next": it does not count as completed.
    assert session["steps_completed"] == 17


def test_the_screen_blocks_a_session_or_makes_it_gentle_and_is_remembered(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite3")
    blocked = cli("run", "cervical", "--text", "--db", db, stdin="no\nno\nyes\nyes\n")
    assert blocked.returncode == 0, blocked.stderr
    assert "Thrombosis: present." in blocked.stdout
    assert "The session will not start. Absolute contraindication to massage: thrombosis." in (
        blocked.stdout
    )
    assert "Stroking" not in blocked.stdout
    # The exacerbation: neighbouring areas only, gently, and the patient's record keeps it.
    answers = "no\n" * 5 + "yes\n" + "stop session\n"
    gentle = cli("run", "cervical", "--text", "--db", db, "--patient", "Vera M", stdin=answers)
    assert gentle.returncode == 0, gentle.stderr
    assert "Relative contraindication: an exacerbation." in gentle.stdout
    assert "Exacerbation: do not work directly on the neck and spinal column" in gentle.stdout
    skipped = cli("run", "cervical", "--text", "--db", db, "--skip-screen", stdin="stop session\n")
    assert "contraindications" not in skipped.stdout
    sessions = json.loads(cli("history", "--json", "--db", db).stdout)
    assert [s["outcome"] for s in sessions] == ["blocked", "stopped", "stopped"]
    assert sessions[1]["exacerbation"] and sessions[1]["gentle"]
    assert sessions[1]["steps_total"] < sessions[2]["steps_total"]
    # Next time the exacerbation is on record: not asked again, and worked around from the start.
    again = cli("run", "cervical", "--text", "--db", db, "--patient", "Vera M", stdin="no\n" * 5)
    assert "Is the patient in an exacerbation?" not in again.stdout
    assert "five questions" in again.stdout.lower()
    assert "Exacerbation: do not work directly" in again.stdout


def test_session_number_and_database_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.sqlite3"
    env = {**os.environ, "MASSAGE_ASSISTANT_DB": str(db)}
    result = cli(
        "run",
        "lumbosacral",
        "--skip-screen",
        "--text",
        "--session-number",
        "6",
        stdin="stop session\n",
        env=env,
    )
    assert (
        "Session six. Plan about fifteen minutes or more. The main technique in this session is grinding."
        in result.stdout
    )
    history = json.loads(cli("history", "--json", env=env).stdout)
    assert history[0]["session_number"] == 6 and history[0]["outcome"] == "stopped"


def _steps_started(db: Path) -> int:
    try:
        connection = sqlite3.connect(db)
        try:
            return connection.execute(
                "SELECT count(*) FROM events WHERE kind = 'step_started'"
            ).fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def test_a_killed_session_loses_nothing_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    process = subprocess.Popen(
        [*CLI, "run", "cervical", "--skip-screen", "--text", "--db", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write("next\nnext\npatient in pain\nnext\n")
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while _steps_started(db) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    before = json.loads(cli("history", "--json", "--db", str(db)).stdout)
    assert before[0]["ended_at"] is None
    assert before[0]["pain_events"] == 1
    assert before[0]["steps_completed"] == 2

    resumed = cli(
        "run", "--resume", "--text", "--db", str(db), stdin="how many left\nnext\nstop session\n"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming the interrupted session at step four of eighteen." in resumed.stdout
    # The pain event made the rest of the session gentle, and that survives the crash.
    assert "Gently: stroking instead of double ring kneading" in resumed.stdout
    after = json.loads(cli("history", "--json", "--db", str(db)).stdout)
    assert len(after) == 1
    assert after[0]["id"] == before[0]["id"]
    assert after[0]["outcome"] == "stopped" and after[0]["ended_at"] is not None
    assert after[0]["steps_completed"] == 3


def test_resume_with_nothing_to_resume_says_so(tmp_path: Path) -> None:
    result = cli("run", "--resume", "--text", "--db", str(tmp_path / "empty.sqlite3"))
    assert result.returncode == 2
    assert "no interrupted session" in result.stderr


@pytest.mark.parametrize("text", ["", "\n\n", "zzz\n"])
def test_odd_input_never_crashes(tmp_path: Path, text: str) -> None:
    result = cli(
        "run",
        "cervical",
        "--skip-screen",
        "--text",
        "--db",
        str(tmp_path / "o.sqlite3"),
        stdin=text,
    )
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert "left open" in result.stdout


def test_the_installed_command_finds_its_protocols_from_any_folder(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "massage-assistant"
    if not script.exists():
        pytest.skip("the massage-assistant script is not installed beside this Python")
    result = subprocess.run(
        [str(script), "show", "lumbosacral"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "lying on his stomach" in result.stdout


def test_readme_test_command_is_what_ci_runs() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text().strip().splitlines()
    assert f"bash .ci/install && {ci[-1]}" in readme
    assert ci[-2] == "bash .ci/install"


def test_counting_aloud_counts_the_repetitions_and_stops_on_next(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            *CLI,
            "run",
            "cervical",
            "--skip-screen",
            "--text",
            "--count",
            "--count-interval",
            "0.1",
            "--db",
            str(tmp_path / "c.sqlite3"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    time.sleep(3.0)  # six to seven on each side: seven on one side, seven on the other, then stop
    process.stdin.write("next\n")
    process.stdin.flush()
    time.sleep(0.25)  # squeezing three to four times: cut off by stop after a couple of counts
    out, _ = process.communicate("stop session\n", timeout=30)
    lines = out.splitlines()
    first = lines.index(
        "Stroking, upper back, from the lower edge of the shoulder blades to the neck, six to seven times on each side. The first technique."
    )
    second = lines.index("Squeezing, upper back, three to four times.")
    side = ["One", "Two", "Three", "Four", "Five", "Six", "Seven"]
    assert lines[first + 1 : second] == [*side, "Other side.", *side]
    after = lines[
        second + 1 : lines.index(next(line for line in lines if line.startswith("Session stopped")))
    ]
    assert 1 <= len(after) < 4
