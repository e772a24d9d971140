"""The listen command and recording-driven sessions, through the command line, with real engines."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recorded import CLI, history, speech_corpus


@pytest.fixture(scope="module")
def recording(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[str, float, float]]]:
    """A therapist's recording: commands and one sentence of conversation, with where each lies."""
    corpus = speech_corpus()
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    parts, spans, at = [], [], 0.0
    for text, pause in [
        ("", 3.0),
        ("next please", 2.0),
        ("Next week we'll work on the lower back.", 2.0),
        ("patient in pain", 2.0),
        ("resume", 2.0),
        ("stop session", 2.0),
    ]:
        if text:
            speech = corpus.synthesize(text, therapist) * 0.5
            spans.append((text, at, at + len(speech) / corpus.RATE))
            parts.append(speech)
            at += len(speech) / corpus.RATE
        parts.append(np.zeros(int(pause * corpus.RATE), np.float32))
        at += pause
    path = tmp_path_factory.mktemp("recording") / "therapist.wav"
    sf.write(str(path), np.concatenate(parts), corpus.RATE)
    return path, spans


def _session_from_recording(
    path: Path, db: Path
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`run cervical` steered by the recording, printing only; the run and what it obeyed."""
    result = subprocess.run(
        [*CLI, "run", "cervical", "--skip-screen", "--audio-file", str(path), "--no-voice", "--db", str(db)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result, [line for line in result.stdout.splitlines() if line.startswith("[heard]")]


def test_listen_prints_each_command_as_json(recording) -> None:
    path, spans = recording
    result = subprocess.run(
        [*CLI, "listen", "--audio-file", str(path), "--json", "--rejected"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "Listening with pocketsphinx" in result.stderr
    assert "RNNoise turns the room down while it is noisy" in result.stderr
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    accepted = [d for d in decisions if d["command"]]
    assert [d["command"] for d in accepted] == ["next", "pain", "resume", "stop"]
    commands = [s for s in spans if "week" not in s[0]]
    for decision, (_text, start, end) in zip(accepted, commands, strict=True):
        assert set(decision) == {"command", "text", "start", "end", "emitted_at", "confidence"}
        assert abs(decision["start"] - start) < 0.4 and abs(decision["end"] - end) < 0.4
        assert decision["end"] < decision["emitted_at"] < decision["end"] + 0.8
        assert 0 < decision["confidence"] <= 1
    # The sentence that starts with "next" was heard and turned down, with the reason.
    sentence = spans[1]
    assert any(
        d["command"] is None
        and d["rejected"]
        and d["start"] < sentence[2]
        and d["end"] > sentence[1]
        for d in decisions
    )


def test_a_whole_session_driven_by_a_recording_headless(recording, tmp_path: Path) -> None:
    path, _spans = recording
    db, spoken = tmp_path / "s.sqlite3", tmp_path / "assistant.wav"
    result, heard = _session_from_recording(path, db)
    assert heard == [
        "[heard] next please",
        "[heard] patient in pain",
        "[heard] resume",
        "[heard] stop session",
    ]
    (session,) = history(db)
    assert (session["steps_completed"], session["pain_events"]) == (1, 1)
    assert session["ended_at"] is not None
    # With a voice rendered to a file the same recording still steers the session: pain cuts in
    # whatever the assistant is saying.
    result = subprocess.run(
        [*CLI, "run", "cervical", "--skip-screen", "--audio-file", str(path), "--speak-to", str(spoken), "--db", str(db)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "[heard] patient in pain" in result.stdout
    assert spoken.stat().st_size > 44


def test_a_false_alarm_said_after_pain_leaves_no_pain_in_the_record(tmp_path: Path) -> None:
    corpus = speech_corpus()
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    quiet = [np.zeros(int(seconds * corpus.RATE), np.float32) for seconds in (3.0, 2.0)]
    parts = [quiet[0]]
    for text in ("patient in pain", "false alarm", "next please", "stop session"):
        parts += [corpus.synthesize(text, therapist) * 0.5, quiet[1]]
    path, db = tmp_path / "therapist.wav", tmp_path / "s.sqlite3"
    sf.write(str(path), np.concatenate(parts), corpus.RATE)
    result, heard = _session_from_recording(path, db)
    assert heard == [
        "[heard] patient in pain",
        "[heard] false alarm",
        "[heard] next please",
        "[heard] stop session",
    ]
    assert "Withdrawn as a false alarm." in result.stdout
    # The first step went on as planned after the withdrawal, and was completed.
    (session,) = history(db)
    assert (session["steps_completed"], session["pain_events"]) == (1, 0)


def test_a_broken_vosk_model_gives_way_to_pocketsphinx(recording, tmp_path: Path) -> None:
    path, _spans = recording
    fake = tmp_path / "vosk-model-small-en-us-0.15"
    (fake / "am").mkdir(parents=True)
    (fake / "conf").mkdir()
    result = subprocess.run(
        [*CLI, "listen", "--audio-file", str(path), "--vosk-model", str(fake)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "Listening with pocketsphinx" in result.stderr and "vosk could not load" in result.stderr
    assert "pain" in result.stdout
    choice = subprocess.run([*CLI, "vosk-model"], capture_output=True, text=True, check=True)
    assert choice.stdout.startswith(("pocketsphinx:", "vosk:"))


def test_a_voice_note_keeps_the_next_seconds_with_the_session(tmp_path: Path) -> None:
    """Take a note, a memo with command words in it, then stop: the memo is kept, not obeyed."""
    corpus = speech_corpus()
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    memo = "Next time repeat the stroking, the left shoulder is tense."
    parts = [np.zeros(3 * corpus.RATE, np.float32)]
    for text, pause in [("take a note", 0.8), (memo, 10.0), ("stop session", 2.0)]:
        parts += [corpus.synthesize(text, therapist) * 0.5, np.zeros(int(pause * corpus.RATE))]
    recording = tmp_path / "note.wav"
    sf.write(str(recording), np.concatenate(parts).astype(np.float32), corpus.RATE)
    db = tmp_path / "records" / "s.sqlite3"
    db.parent.mkdir()
    result, heard = _session_from_recording(recording, db)
    assert heard == ["[heard] take a note", "[heard] stop session"]  # nothing from the memo
    assert "Note kept." in result.stdout
    (note,) = (db.parent / "notes" / "session-1").iterdir()
    assert note.name == "note-1-step-1.wav"
    assert note.stat().st_mode & 0o777 == 0o600
    assert note.parent.stat().st_mode & 0o777 == 0o700
    sound, rate = sf.read(str(note), dtype="float32")
    assert rate == corpus.RATE and abs(len(sound) / rate - 10.0) < 0.05
    assert np.sqrt(np.mean(sound[: 3 * rate] ** 2)) > 0.01  # the memo is in it
    report = subprocess.run(
        [*CLI, "report", "1", "--db", str(db), "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "session-1.md").read_text(encoding="utf-8")
    assert "note-1-step-1.wav" in markdown
    html = (tmp_path / "report" / "session-1.html").read_text(encoding="utf-8")
    assert f'<audio controls preload="none" src="{note.resolve().as_uri()}">' in html
