"""The thread that feeds the listener: what happens to a voice note when the microphone goes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
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
