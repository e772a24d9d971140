"""`massage-assistant demo` end to end: real speech, real recogniser, no audio devices."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.recorded import CLI, ROOT, history


def _between(lines: list[str], start: str) -> list[str]:
    """The transcript lines after the first one containing start, up to the next one spoken."""
    first = next(i for i, line in enumerate(lines) if start in line)
    following = []
    for line in lines[first + 1 :]:
        if "Therapist" in line or "Patient:" in line:
            break
        following.append(line)
    return following


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    db, out = folder / "sessions.sqlite3", folder / "out"
    done = subprocess.run(
        [*CLI, "demo", "--db", str(db), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr
    return db, out, done.stdout


def test_the_demo_mixes_both_voices_into_one_wav(demo: tuple[Path, Path, str]) -> None:
    _db, out, _stdout = demo
    sound, rate = soundfile.read(str(out / "demo.wav"), dtype="float32")
    assert rate == 16000
    assert len(sound) / rate > 60
    seconds = sound[: len(sound) // rate * rate].reshape(-1, rate)
    loud = np.sqrt(np.mean(seconds**2, axis=1)) > 0.01
    assert loud.mean() > 0.5  # most of the session is somebody speaking


def test_the_transcript_shows_pain_handled_and_conversation_ignored(
    demo: tuple[Path, Path, str],
) -> None:
    _db, out, stdout = demo
    transcript = (out / "transcript.txt").read_text(encoding="utf-8")
    assert (
        transcript.splitlines()
        == [line for line in stdout.splitlines() if line.startswith("[")][
            : len(transcript.splitlines())
        ]
    )
    lines = transcript.splitlines()
    after_pain = _between(lines, "Therapist: patient in pain")
    assert any("[heard] patient in pain" in line for line in after_pain)
    assert any("Stop the technique" in line for line in after_pain)
    after_chat = _between(lines, "Therapist: Next week we will work on the lower back.")
    assert not any("[heard]" in line for line in after_chat)
    assert any("[ignored]" in line for line in after_chat)
    after_reply = _between(lines, "Patient: That's fine, thank you.")
    assert not any("[heard]" in line for line in after_reply)


def test_the_demo_session_is_recorded_and_reported(demo: tuple[Path, Path, str]) -> None:
    db, out, _stdout = demo
    (session,) = history(db)
    assert session["protocol"] == "cervical"
    assert session["pain_events"] == 1
    for kept in out.iterdir():
        assert kept.stat().st_mode & 0o077 == 0, kept  # readable by its owner only
    assert session["steps_completed"] >= 2
    report = (out / f"session-{session['id']}.md").read_text(encoding="utf-8")
    assert "patient in pain" in report
