"""The thread that feeds the listener: what happens to a voice note when the microphone goes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.listening import Listener
from assistant.listening.engines import SAMPLE_RATE
from assistant.listening.microphone import InputLost
from assistant.session import NoteKept
from assistant.voice_input import MicrophoneLost, VoiceEvent, VoiceInput


class MicrophonePulledOut:
    """Gives one second of room sound once note_asked is set, then the device is gone for good."""

    def __init__(self) -> None:
        self.note_asked = threading.Event()
        self.closed = threading.Event()
        self.opened = 0

    def describe(self) -> str:
        return "a microphone that is pulled out"

    def chunks(self) -> Iterator[np.ndarray]:
        self.opened += 1
        if self.opened == 1:
            self.note_asked.wait(10)
            room = np.random.default_rng(0).normal(0, 300, SAMPLE_RATE).astype(np.int16)
            for start in range(0, SAMPLE_RATE, 320):
                yield room[start : start + 320]
        self.closed.wait(0.2)
        raise InputLost("the device was unplugged")

    def close(self) -> None:
        self.closed.set()


def test_a_note_ends_with_what_was_heard_when_the_microphone_goes(tmp_path: Path) -> None:
    events: queue.Queue[VoiceEvent] = queue.Queue()
    source = MicrophonePulledOut()
    voice = VoiceInput(source, Listener(), events.put, retry_seconds=0.05)
    voice.start()
    try:
        note = tmp_path / "note-1.wav"
        assert voice.take_note(10.0, note)
        source.note_asked.set()
        first = events.get(timeout=10)
        assert isinstance(first, MicrophoneLost)
        # Kept at once, not when (or if) the microphone comes back.
        kept = events.get(timeout=5)
        assert isinstance(kept, NoteKept) and kept.path == str(note)
        assert abs(kept.seconds - 1.0) < 0.05
        sound, rate = sf.read(str(note), dtype="int16")
        assert rate == SAMPLE_RATE and len(sound) == SAMPLE_RATE
        # While nothing can be heard, a note is refused (the session says it was not kept).
        assert not voice.take_note(10.0, tmp_path / "note-2.wav")
    finally:
        voice.stop()


class RecordingEcho:
    """Stands in for the echo canceller: keeps what it is told of the loudspeaker."""

    def __init__(self) -> None:
        self.references: list[float] = []
        self.stops: list[float] = []

    def add_reference(self, samples: np.ndarray, start: float) -> None:
        self.references.append(start)

    def stop_reference(self, at: float) -> None:
        self.stops.append(at)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        return chunk


def test_only_the_sentence_that_sounded_cuts_the_echo_reference_short() -> None:
    from assistant.speech.audio import Audio
    from assistant.speech.worker import SpeechEvent

    echo = RecordingEcho()
    listener = Listener()
    voice = VoiceInput(MicrophonePulledOut(), listener, lambda event: None, echo=echo)  # type: ignore[arg-type]
    listener.feed(np.zeros(1600, dtype=np.int16))  # the stream clock starts
    offset = listener.to_stream_time(0.0)  # monotonic 0.0 in stream time
    audio = Audio(np.zeros(2205, dtype=np.float32), 22050)
    voice.on_speech(SpeechEvent("started", 1, "Squeezing.", 10.0, duration=0.1, audio=audio))
    voice.on_speech(SpeechEvent("interrupted", 1, "Squeezing.", 10.05))
    # Queued sentences dropped unheard report later, dated at the interruption's request.
    voice.on_speech(SpeechEvent("interrupted", 2, "Kneading.", 10.01))
    voice.on_speech(SpeechEvent("finished", 3, "Pain.", 10.02))
    assert len(echo.references) == 1
    assert echo.stops == [pytest.approx(10.05 + offset, abs=1e-6)]
