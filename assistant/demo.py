"""`massage-assistant demo`: a real session steered by a simulated therapist in a simulated room.

Nothing is faked inside the product: the session, the speech worker and the recogniser are the
ones `run` uses. Only the room is simulated. The assistant's loudspeaker and the therapist's
mouth are two timelines; the "microphone" hears the therapist plus the loudspeaker at echo
level, in real time, so the listener must still tell the therapist's commands from the
assistant's own words and from conversation.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from assistant.catalog import load_protocol
from assistant.listening import Listener
from assistant.listening.echo import EchoCanceller
from assistant.listening.engines import SAMPLE_RATE
from assistant.phrasing import Phraser, load_phrasebook
from assistant.plan import SessionOptions, build_plan
from assistant.reports import build_session_report, write_session_report
from assistant.reports.files import private_folder
from assistant.runner import SessionRunner, Typed, begin_session
from assistant.session import Phase, Session, SessionSettings
from assistant.speech.audio import Audio
from assistant.speech.profiles import load_profiles
from assistant.speech.synthesis import Pyttsx3Synthesizer
from assistant.speech.wav_sink import WavTimelineSink
from assistant.speech.worker import SpeechWorker
from assistant.spoken import SpokenGuidance
from assistant.store import SessionStore, default_db_path
from assistant.vocabulary import load_vocabulary
from assistant.voice_input import VoiceInput


@dataclass(frozen=True)
class Line:
    """Something said in the room; a command expects the assistant to answer aloud."""

    text: str
    command: bool = True
    speaker: str = "Therapist"


# One pass through the product: steering, conversation that must be ignored (the therapist's
# sentence with "next" in it, the patient's short reply), the pain hold and its release, a
# question, and the end of the session.
SCRIPT: tuple[Line, ...] = (
    Line("next"),
    Line("Next week we will work on the lower back.", command=False),
    Line("That's fine, thank you.", command=False, speaker="Patient"),
    Line("next"),
    Line("patient in pain"),
    Line("carry on"),
    Line("how many left"),
    Line("next"),
    Line("end session"),
)

# A voice unlike the assistant's, at a pace the bundled recogniser follows well; the patient's
# unlike both.
THERAPIST_VOICE = "en-gb"
THERAPIST_RATE_WPM = 130
PATIENT_VOICE = "en-us"
PATIENT_RATE_WPM = 160
ECHO_GAIN = 0.25  # the loudspeaker as the laptop's microphone hears it, about 12 dB down
ROOM_NOISE = 10 ** (-70 / 20)  # the microphone's own hiss, -70 dBFS


class Room:
    """The assistant's loudspeaker and the therapist's voice, and a microphone hearing both."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.speaker = WavTimelineSink(folder / "assistant.wav", SAMPLE_RATE, clock)
        self.mouth = WavTimelineSink(folder / "therapist.wav", SAMPLE_RATE, clock)
        self.origin = clock()
        self._closed = threading.Event()

    def describe(self) -> str:
        return "the demo room (a simulated therapist, and the assistant's own voice as echo)"

    def chunks(self, seconds: float = 0.02) -> Iterator[np.ndarray]:
        """What the microphone hears, as int16 chunks, paced in real time."""
        # A real microphone is never digitally silent, and the recogniser's running normalisation
        # behaves differently on pure zeros: a faint noise floor keeps the room honest.
        hiss = np.random.default_rng(0)
        heard_until = self.clock()
        while not self._closed.is_set():
            until = heard_until + seconds
            delay = until - self.clock()
            if delay > 0:
                time.sleep(delay)
            sound = self.mouth.window(heard_until, until) + ECHO_GAIN * self.speaker.window(
                heard_until, until
            )
            heard_until = until
            sound = sound + hiss.normal(0.0, ROOM_NOISE, len(sound))
            yield np.clip(np.round(sound * 32767), -32768, 32767).astype(np.int16)

    def close(self) -> None:
        self._closed.set()

    def mix(self, path: Path) -> Path:
        """Both voices as a listener in the room hears them, into one 16 kHz WAV."""
        import soundfile

        end = self.clock()
        sound = self.speaker.window(self.origin, end) + self.mouth.window(self.origin, end)
        peak = float(np.max(np.abs(sound))) if len(sound) else 0.0
        if peak > 1.0:
            sound = sound / peak
        soundfile.write(str(path), sound, SAMPLE_RATE, subtype="PCM_16")
        path.chmod(0o600)
        return path


class SimulatedTherapist:
    """Speaks the script, each line once the assistant has been quiet a moment.

    Like a person, it says a command again when the assistant does not answer it, and types the
    last one if the session is still going after the script.
    """

    def __init__(
        self,
        script: tuple[Line, ...],
        room: Room,
        say: Callable[[Line], None],
        type_command: Callable[[str], None],
        quiet_before: float = 2.0,
        answer_within: float = 2.5,
        tries: int = 2,
    ) -> None:
        self._script = script
        self._room = room
        self._say = say
        self._type_command = type_command
        self._quiet_before = quiet_before
        self._answer_within = answer_within
        self._tries = tries
        therapist = Pyttsx3Synthesizer(THERAPIST_VOICE, rate_wpm=THERAPIST_RATE_WPM, volume=1.0)
        patient = Pyttsx3Synthesizer(PATIENT_VOICE, rate_wpm=PATIENT_RATE_WPM, volume=1.0)
        self._voices = (therapist, patient)
        self._lines = {
            line: (patient if line.speaker == "Patient" else therapist).synthesize(line.text)
            for line in script
        }
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-therapist", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5.0)
        for voice in self._voices:
            voice.close()

    def _wait_for_quiet(self) -> None:
        quiet_since = self._room.clock()
        while not self._stopped.is_set():
            now = self._room.clock()
            if self._room.speaker.is_playing:
                quiet_since = now
            elif now - quiet_since >= self._quiet_before:
                return
            time.sleep(0.05)

    def _answered(self) -> bool:
        deadline = self._room.clock() + self._answer_within
        while not self._stopped.is_set() and self._room.clock() < deadline:
            if self._room.speaker.is_playing:
                return True
            time.sleep(0.05)
        return False

    def _speak(self, line: Line) -> None:
        audio: Audio = self._lines[line]
        self._say(line)
        self._room.mouth.play(audio)
        self._stopped.wait(audio.duration)

    def _run(self) -> None:
        for line in self._script:
            for _attempt in range(self._tries if line.command else 1):
                self._wait_for_quiet()
                if self._stopped.is_set():
                    return
                self._speak(line)
                if not line.command or self._answered():
                    break
        if self._script and not self._stopped.wait(self._answer_within):
            self._type_command(self._script[-1].text)


class StampedLines:
    """A text stream that starts each line with the time since the demo began; tees to a file."""

    def __init__(self, out: TextIO, clock: Callable[[], float], copy: TextIO | None) -> None:
        self._out = out
        self._clock = clock
        self._origin = clock()
        self._copy = copy
        self._at_line_start = True
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            for piece in text.splitlines(keepends=True):
                if self._at_line_start:
                    elapsed = self._clock() - self._origin
                    piece = f"[{int(elapsed // 60):02d}:{elapsed % 60:04.1f}] {piece}"
                self._out.write(piece)
                if self._copy is not None:
                    self._copy.write(piece)
                self._at_line_start = piece.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self._out.flush()
        if self._copy is not None:
            self._copy.flush()


def run_demo(
    protocol_name: str,
    store: SessionStore,
    out_dir: Path | None,
    out: TextIO = sys.stdout,
    echo_cancel: bool = True,
) -> int:
    """Run the demo session; returns its session id. Keeps the WAV and reports in out_dir."""
    folder = Path(tempfile.mkdtemp(prefix="massage-assistant-demo-"))
    keep = private_folder(out_dir) if out_dir is not None else None
    try:
        transcript_path = (keep or folder) / "transcript.txt"
        transcript_path.touch(mode=0o600)
        transcript_path.chmod(0o600)
        with transcript_path.open("w", encoding="utf-8") as transcript:
            stamped = StampedLines(out, time.monotonic, transcript)
            session_id = _session(protocol_name, store, folder, stamped, echo_cancel)
        if keep is not None:
            room_wav = keep / "demo.wav"
            shutil.move(str(folder / "demo.wav"), room_wav)
            reports = write_session_report(build_session_report(store, session_id), keep, "both")
            kept = ", ".join([room_wav.name, transcript_path.name, *(p.name for p in reports)])
            print(f"Kept in {keep}: {kept}", file=out)
        return session_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _session(
    protocol_name: str, store: SessionStore, folder: Path, out: StampedLines, echo_cancel: bool
) -> int:
    protocol, path = load_protocol(protocol_name)
    options = SessionOptions()
    plan = build_plan(protocol, options)
    session_id = begin_session(store, protocol, path, options)
    profile = load_profiles().get(None)
    vocabulary = load_vocabulary(profile.language)
    runner = SessionRunner(
        # The contraindication screen is skipped (and recorded so): the simulated patient has no
        # answers to give, and the demo is about guiding the massage.
        Session(plan, SessionSettings(screen=False)),
        Phraser(load_phrasebook(profile.language)),
        vocabulary,
        store,
        session_id,
        out=out,  # type: ignore[arg-type]
    )
    room = Room(folder)
    worker = SpeechWorker(
        Pyttsx3Synthesizer(profile.engine_voice, profile.rate_wpm, profile.volume), room.speaker
    )
    guidance = SpokenGuidance(worker, profile, runner.post, runner.clock, out)  # type: ignore[arg-type]
    runner.guidance = guidance
    listener = Listener(vocabulary)
    # The room's microphone hears the loudspeaker: what it plays is taken out again.
    voice = VoiceInput(room, listener, runner.post, echo=EchoCanceller() if echo_cancel else None)
    guidance.listeners.append(voice.on_speech)
    runner.keyboard_ends_session = False
    runner.show_ignored = True

    def said(line: Line) -> None:
        print(f"{line.speaker}: {line.text}", file=out, flush=True)

    def typed(text: str) -> None:
        if runner.session.phase is Phase.FINISHED:
            return  # heard after all: the session ended while its last words were being said
        print(f"Therapist (typing): {text}", file=out, flush=True)
        runner.post(Typed(text))

    therapist = SimulatedTherapist(SCRIPT, room, said, typed)
    print(
        f"Demo: session {session_id} of {protocol.title}, listening with "
        f"{listener.choice.name}; the therapist is simulated.",
        file=out,
        flush=True,
    )
    voice.start()
    therapist.start()
    try:
        result = runner.run()
    finally:
        therapist.stop()
        voice.stop()
    room.mix(folder / "demo.wav")
    print(f"Session {session_id} {result.outcome}.", file=out, flush=True)
    return session_id


def demo_command(args: argparse.Namespace) -> int:
    with SessionStore(args.db or default_db_path()) as store:
        run_demo(args.protocol, store, args.out, echo_cancel=not args.no_echo_cancel)
    return 0
