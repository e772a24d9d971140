"""Sessions steered by voice through a real input device: the PulseAudio virtual microphone."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recorded import CLI, history, speech_corpus

from assistant.intents import Intent
from assistant.speech.private_pulse import PrivatePulseAudio
from assistant.vocabulary import load_vocabulary


@pytest.fixture(scope="module")
def say_wav(tmp_path_factory: pytest.TempPathFactory):
    """A WAV of the therapist saying a phrase (hibari-tts, a natural voice), with silence around it."""
    corpus = speech_corpus()
    folder = tmp_path_factory.mktemp("therapist")
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")

    def make(text: str) -> Path:
        path = folder / f"{text.replace(' ', '-')}.wav"
        speech = corpus.synthesize(text, therapist) * 0.6
        silence = np.zeros(int(0.3 * corpus.RATE), np.float32)
        sf.write(str(path), np.concatenate([silence, speech, silence]), corpus.RATE)
        return path

    return make


class LineReader:
    """Collects a process's output lines on a thread, so a test can wait for one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._ended = False
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def printed(self) -> list[str]:
        """Every line printed so far, without waiting for more."""
        while not self._ended:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            self._take(line)
        return self.lines

    def heard(self) -> list[str]:
        """The commands obeyed so far, as printed: "[heard] next please"."""
        return [line for line in self.printed() if line.startswith("[heard]")]

    def _take(self, line: str | None) -> None:
        if line is None:
            self._ended = True
        else:
            self.lines.append(line)

    def wait_for(self, fragment: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        for line in self.printed():
            if fragment in line:
                return line
        while not self._ended and time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self._take(line)
            if line is not None and fragment in line:
                return line
        raise AssertionError(f"{fragment!r} never came; output so far:\n" + "\n".join(self.lines))


def _start_session(
    pulse_audio: PrivatePulseAudio, db: Path, *flags: str
) -> tuple[subprocess.Popen, LineReader]:
    process = subprocess.Popen(
        [*CLI, "run", "cervical", "--skip-screen", "--no-voice", "--db", str(db), *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=pulse_audio.env,
    )
    reader = LineReader(process.stdout)
    reader.wait_for("Listening with pocketsphinx", timeout=30)
    return process, reader


def test_a_session_steered_through_the_microphone(
    pulse_audio: PrivatePulseAudio, say_wav, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite3"
    process, reader = _start_session(pulse_audio, db)
    try:
        reader.wait_for("Stroking, upper back")
        pulse_audio.play_into_mic(say_wav("next please"))
        reader.wait_for("[heard] next please")
        reader.wait_for("Squeezing, upper back")
        pulse_audio.play_into_mic(say_wav("next please"))
        reader.wait_for("Ordinary kneading, upper back")
        pulse_audio.play_into_mic(say_wav("patient in pain"))
        reader.wait_for("Switch to gentle stroking on a neighbouring area")
        pulse_audio.play_into_mic(say_wav("stop session"))
        reader.wait_for("Session stopped")
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
    (session,) = history(db)
    assert session["steps_completed"] == 2
    assert session["pain_events"] == 1
    assert session["ended_at"] is not None


def test_conversation_into_the_microphone_changes_nothing(
    pulse_audio: PrivatePulseAudio, say_wav, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite3"
    process, reader = _start_session(pulse_audio, db)
    try:
        reader.wait_for("Stroking, upper back")
        for sentence in (
            "Next week we'll work on the lower back.",
            "Tell me if there is any pain.",
        ):
            pulse_audio.play_into_mic(say_wav(sentence))
        time.sleep(1.0)  # the listener decides within half a second of the end of speech
        pulse_audio.play_into_mic(say_wav("stop session"))
        reader.wait_for("Session stopped")
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
    assert reader.heard() == ["[heard] stop session"], "\n".join(reader.lines)
    (session,) = history(db)
    assert session["steps_completed"] == 0 and session["pain_events"] == 0


def _pactl(pulse_audio: PrivatePulseAudio, *args: str) -> str:
    return subprocess.run(
        ["pactl", *args], env=pulse_audio.env, capture_output=True, text=True, check=True
    ).stdout


def test_a_lost_microphone_pauses_the_session_and_its_return_resumes_it(
    pulse_audio: PrivatePulseAudio, say_wav, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite3"
    process, reader = _start_session(pulse_audio, db)
    modules = _pactl(pulse_audio, "list", "short", "modules").splitlines()
    (microphone,) = [line.split()[0] for line in modules if "module-remap-source" in line]
    try:
        reader.wait_for("Stroking, upper back")
        _pactl(pulse_audio, "unload-module", microphone)
        reader.wait_for("I can't hear the microphone. The session is paused")
        reader.wait_for("Paused.")
        _pactl(
            pulse_audio,
            "load-module",
            "module-remap-source",
            "source_name=mic",
            "master=micsink.monitor",
        )
        _pactl(pulse_audio, "set-default-source", "mic")
        reader.wait_for("The microphone is back")
        reader.wait_for("Resuming.")
        time.sleep(4.0)  # the server moves the reopened stream to the new microphone
        pulse_audio.play_into_mic(say_wav("stop session"))
        reader.wait_for("[heard] stop session")
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
    (session,) = history(db)
    assert session["ended_at"] is not None


@dataclass
class SpeakingSession:
    """A session speaking through the virtual loudspeaker, which is looped into the microphone."""

    process: subprocess.Popen
    reader: LineReader
    loopback: str
    pulse_audio: PrivatePulseAudio

    def type_in(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        self.process.kill()
        _pactl(self.pulse_audio, "unload-module", self.loopback)


# The loopback from the speaker to the microphone, for every loudspeaker test. adjust_time=0: a
# loudspeaker and a microphone on one sound card share a clock, so the sound takes the same time
# to come back all along; left to adjust, the loopback drops and repeats samples to hold its
# latency, which no room does.
LOUDSPEAKER_BESIDE_MICROPHONE = ["latency_msec=30", "adjust_time=0"]


def _start_speaking_session(
    pulse_audio: PrivatePulseAudio, db: Path, *flags: str
) -> SpeakingSession:
    """Loop the loudspeaker into the microphone, as a loudspeaker beside it, and start."""
    module = _pactl(
        pulse_audio, "load-module", "module-loopback", "source=spk.monitor", "sink=micsink",
        *LOUDSPEAKER_BESIDE_MICROPHONE,
    ).strip()  # fmt: skip
    process = subprocess.Popen(
        [*CLI, "run", "cervical", "--skip-screen", "--voice", "clear", "--show-ignored",
         "--db", str(db), *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=pulse_audio.env,
    )  # fmt: skip
    session = SpeakingSession(process, LineReader(process.stdout), module, pulse_audio)
    try:
        session.reader.wait_for("Listening with pocketsphinx", timeout=30)
    except BaseException:
        session.close()
        raise
    return session


def test_the_assistant_hears_itself_but_obeys_only_the_therapist(
    pulse_audio: PrivatePulseAudio, say_wav, tmp_path: Path
) -> None:
    """The speaker is looped back into the microphone at full level: a loudspeaker beside it."""
    db = tmp_path / "s.sqlite3"
    speaking = _start_speaking_session(pulse_audio, db)
    process, reader, type_in = speaking.process, speaking.reader, speaking.type_in
    try:
        reader.wait_for("Stroking, upper back")
        # "next" cuts the introduction; "help" then says nearly every command phrase aloud, at
        # the full level of the speaker: none of it may be obeyed.
        type_in("next")
        type_in("help")
        reader.wait_for("Say next, repeat, go back")
        time.sleep(18.0)  # the whole help sentence, about fourteen seconds at this voice
        assert not reader.heard(), "\n".join(reader.lines)
        # Between its sentences the therapist's pain is obeyed at once.
        pulse_audio.play_into_mic(say_wav("patient in pain"))
        reader.wait_for("[heard] patient in pain")
        reader.wait_for("Switch to gentle stroking on a neighbouring area")
        time.sleep(3.0)  # the pain instruction says "resume or next": never obeyed
        type_in("stop")
        reader.wait_for("Session stopped")
        assert process.wait(timeout=30) == 0
    finally:
        speaking.close()
    assert reader.heard() == ["[heard] patient in pain"], "\n".join(reader.lines)
    (session,) = history(db)
    assert session["pain_events"] == 1 and session["steps_completed"] == 1


@pytest.mark.parametrize("echo_cancel", [True, False], ids=["cancelled", "not cancelled"])
def test_pain_said_while_the_assistant_speaks_is_heard_through_its_voice(
    pulse_audio: PrivatePulseAudio, say_wav, tmp_path: Path, echo_cancel: bool
) -> None:
    """The therapist says "patient in pain" over the help, which the loudspeaker plays into the
    microphone at full level: with its own voice taken out the assistant hears it while the help
    is still being said, and without that hardly ever (the help has to end first)."""
    db = tmp_path / "s.sqlite3"
    flags = [] if echo_cancel else ["--no-echo-cancel"]
    speaking = _start_speaking_session(pulse_audio, db, *flags)
    process, reader, type_in = speaking.process, speaking.reader, speaking.type_in
    try:
        reader.wait_for("Stroking, upper back")
        type_in("next")
        reader.wait_for("Squeezing, upper back")
        time.sleep(4.0)  # said by now: the help is the next thing heard from the loudspeaker
        type_in("help")
        reader.wait_for("Say next, repeat, go back")
        help_began = time.monotonic()
        # As a therapist would, pain is said again while the assistant goes on: twice into the
        # help's first sentence, twice into its last, each time well away from where the help
        # names "patient in pain" itself (utterances starting 4.3 to 9.1 s in may be its own
        # words). The attempts keep to that plan whatever happened before, so a miss never
        # pushes the next one into the help's own "patient in pain" (bench_echo: about 4 in 5
        # are heard at the first try; on the virtual devices 47 runs of 54 were).
        heard_after: list[float] = []
        for into_the_help, next_attempt in ((0.3, 2.4), (2.4, 9.1), (9.1, 11.2), (11.2, 14.0)):
            time.sleep(max(0.0, help_began + into_the_help - time.monotonic()))
            pulse_audio.play_into_mic(say_wav("patient in pain"))
            try:
                # Heard as any pain phrase ("stop pain" once in CI): it is obeyed as pain.
                wait = max(0.1, help_began + next_attempt - time.monotonic())
                reader.wait_for("[heard] ", timeout=wait)
            except AssertionError:
                continue
            heard_after.append(time.monotonic() - help_began)
            break
        if echo_cancel:
            # While the help, about twelve and a half seconds long, is still being said: the last
            # attempt ends 12.3 s in, and the decision follows it.
            assert heard_after and heard_after[0] < 14.0, "\n".join(reader.lines[-12:])
            reader.wait_for("Switch to gentle stroking on a neighbouring area")
        type_in("stop")
        reader.wait_for("Session stopped", timeout=30)
        assert process.wait(timeout=30) == 0
    finally:
        speaking.close()
    heard = reader.heard()
    (session,) = history(db)
    pain = {f"[heard] {phrase}" for phrase in load_vocabulary().commands[Intent.PAIN]}
    if echo_cancel:
        assert len(heard) == 1 and heard[0] in pain, "\n".join(reader.lines)
    else:
        # Mostly unheard (bench_echo: 0 of 90): the voice and the command run together into one
        # long utterance. Heard or not, nothing the assistant said itself is obeyed.
        assert set(heard) <= pain, "\n".join(reader.lines)
    assert session["pain_events"] == len(heard)
