"""Whole sessions that speak: into a WAV file, and through sounddevice into the PulseAudio sink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pulse import recorded_sound

from assistant.speech.audio import read_wav, rms
from assistant.speech.private_pulse import PrivatePulseAudio
from assistant.speech.profiles import load_profiles
from assistant.speech.synthesis import Pyttsx3Synthesizer

CLI = [sys.executable, "-m", "assistant"]


def test_speak_to_renders_the_session_into_a_wav(tmp_path: Path) -> None:
    wav = tmp_path / "session.wav"
    db = tmp_path / "s.sqlite3"
    result = subprocess.run(
        [
            *CLI,
            "run",
            "cervical",
            "--skip-screen",
            "--no-listen",
            "--speak-to",
            str(wav),
            "--db",
            str(db),
            "--voice",
            "clear",
        ],
        input="stop session\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Session stopped at step one of eighteen" in result.stdout
    audio = read_wav(wav)
    # The intro is cut by "stop session"; what is left is the stop sentence, a few seconds long.
    assert 1.5 < audio.duration < 30.0
    assert rms(audio.samples) > 0.01
    span = recorded_sound(wav)
    assert span is not None and span[1] - span[0] > 1.0


def test_an_unknown_voice_or_device_falls_back_to_print(tmp_path: Path) -> None:
    for flag, value, expected in [
        ("--voice", "whisper", "whisper"),
        ("--output-device", "no such device", "no such device"),
    ]:
        result = subprocess.run(
            [
                *CLI,
                "run",
                "cervical",
                "--skip-screen",
                "--no-listen",
                flag,
                value,
                "--db",
                str(tmp_path / "s.sqlite3"),
            ],
            input="next\nstop session\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0
        assert "Traceback" not in result.stderr
        errors = result.stderr.strip().splitlines()
        assert len(errors) == 1 and expected in errors[0] and "printed" in errors[0], result.stderr
        assert "Squeezing, upper back, three to four times." in result.stdout


def test_voices_lists_profiles_and_engine_voices() -> None:
    result = subprocess.run([*CLI, "voices"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "* calm" in result.stdout
    assert "English" in result.stdout


def test_a_spoken_session_on_the_speakers_is_cut_short_by_pain(
    pulse_audio: PrivatePulseAudio, tmp_path: Path
) -> None:
    recording = tmp_path / "speaker.wav"
    db = tmp_path / "s.sqlite3"
    with pulse_audio.record_speaker(recording):
        process = subprocess.Popen(
            [*CLI, "run", "cervical", "--skip-screen", "--no-listen", "--db", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **pulse_audio.env},
        )
        assert process.stdin is not None
        time.sleep(4.0)  # the opening sentences are being spoken
        pain_sent = time.monotonic()
        # Then the input ends: the session stays open and the runner waits for speech to end.
        out, err = process.communicate("patient in pain\n", timeout=90)
        finished = time.monotonic()
    assert process.returncode == 0, err
    lines = out.splitlines()
    pain_line = next(
        line for line in lines if "Switch to gentle stroking on a neighbouring area" in line
    )
    span = recorded_sound(recording)
    assert span is not None and span[1] - span[0] > 4.0

    profile = load_profiles().get()
    synthesizer = Pyttsx3Synthesizer(profile.engine_voice, profile.rate_wpm, profile.volume)
    queued_before_pain = " ".join(lines[: lines.index(pain_line)])
    queued_seconds = synthesizer.synthesize(queued_before_pain).duration
    pain_seconds = synthesizer.synthesize(pain_line).duration
    # What was queued before the pain command plays far longer than the time we waited ...
    assert queued_seconds > 4.0 + 10.0
    # ... yet after the command only the pain instruction was spoken, in full.
    assert 0.8 * pain_seconds < finished - pain_sent < pain_seconds + 4.0
    history = json.loads(
        subprocess.run(
            [*CLI, "history", "--json", "--db", str(db)], capture_output=True, text=True
        ).stdout
    )
    assert history[0]["pain_events"] == 1 and history[0]["ended_at"] is None
