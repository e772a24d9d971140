"""Spoken commands into the runner: an audio source feeds the listener on a thread of its own."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.listening.echo import EchoCanceller
from assistant.listening.engines import SAMPLE_RATE
from assistant.listening.listener import Decision, Listener, to_stream_format
from assistant.listening.microphone import InputLost
from assistant.listening.segmenter import level_db
from assistant.reports.files import write_private
from assistant.session import NoteKept
from assistant.speech.worker import SpeechEvent


class AudioSource(Protocol):
    """A microphone or a recording; chunks() ends with the recording or raises InputLost."""

    def describe(self) -> str: ...

    def chunks(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Heard:
    """The listener's verdict on one utterance (accepted or not)."""

    decision: Decision


@dataclass(frozen=True)
class MicrophoneLost:
    reason: str


@dataclass(frozen=True)
class MicrophoneBack:
    """Sound arrives again after MicrophoneLost."""


@dataclass(frozen=True)
class RecordingEnded:
    """The recording driving the session has been heard to its end."""


VoiceEvent = Heard | MicrophoneLost | MicrophoneBack | RecordingEnded | NoteKept


@dataclass
class _OpenNote:
    path: Path
    samples_wanted: int
    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0


class VoiceInput:
    """Feeds a source into a listener and posts what was decided; retries a lost microphone.

    With an echo canceller, what the assistant plays is taken out of the input first.
    """

    def __init__(
        self,
        source: AudioSource,
        listener: Listener,
        post: Callable[[VoiceEvent], None],
        retry_seconds: float = 1.0,
        echo: EchoCanceller | None = None,
    ) -> None:
        self.source = source
        self.listener = listener
        self.echo = echo
        self._post = post
        self._retry_seconds = retry_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voice-input", daemon=True)
        self.level_db: float | None = None  # of the latest chunk, for the session screen's meter
        self._note: _OpenNote | None = None
        self._note_lock = threading.Lock()
        self._lost = False  # the input is gone until sound arrives again
        self._sounding = False  # an utterance of the assistant is being played
        self.clock: Callable[[], float] = time.monotonic  # the runner's, for NoteKept.at

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.source.close()
        self._thread.join(2.0)

    def take_note(self, seconds: float, path: Path) -> bool:
        """Keep the next seconds of input as a WAV at path (owner-only); NoteKept follows."""
        if not self._thread.is_alive():
            return False
        while path.exists():  # a resumed session numbers its notes from one again
            path = path.with_name(f"{path.stem}+{path.suffix}")
        with self._note_lock:
            if self._note is not None or self._lost:
                return False
            self._note = _OpenNote(path, round(seconds * SAMPLE_RATE))
        return True

    def _keep_for_note(self, chunk: np.ndarray, ended: bool = False) -> None:
        with self._note_lock:
            note = self._note
            if note is None:
                return
            if len(chunk):
                note.chunks.append(np.asarray(chunk, dtype=np.int16).copy())
                note.samples += len(chunk)
            if note.samples < note.samples_wanted and not ended:
                return
            self._note = None
        if not note.chunks:
            self._post(NoteKept(None, 0.0, self.clock()))
            return
        samples = np.concatenate(note.chunks)[: note.samples_wanted]
        try:
            import soundfile

            wav = io.BytesIO()
            soundfile.write(
                wav, samples.astype(np.int16), SAMPLE_RATE, format="WAV", subtype="PCM_16"
            )
            write_private(note.path, wav.getvalue())
        except Exception:  # this thread hears "patient in pain": it must live on
            self._post(NoteKept(None, 0.0, self.clock()))
            return
        self._post(NoteKept(str(note.path), len(samples) / SAMPLE_RATE, self.clock()))

    def on_speech(self, event: SpeechEvent) -> None:
        """Tell the listener when the assistant's own voice sounds, so it is never obeyed."""
        if event.kind == "started":
            self._sounding = True
            self.listener.assistant_speaking(
                event.text, event.at, duration=event.duration, monotonic=True
            )
            if self.echo is not None and event.audio is not None:
                # Band-limited: the alias of a hiss above 8 kHz is nowhere in the microphone's signal.
                played = to_stream_format(event.audio.samples, event.audio.sample_rate)
                start = self.listener.to_stream_time(event.at) + event.output_latency
                self.echo.add_reference(played, start)
        else:
            self.listener.speaking_ended(event.at, monotonic=True)
            sounding, self._sounding = self._sounding, False
            # Cut short while it sounded: the rest was never played. (Queued sentences dropped
            # unheard end after it, dated earlier: they must not cut what did play.)
            if self.echo is not None and event.kind != "finished" and sounding:
                self.echo.stop_reference(self.listener.to_stream_time(event.at))

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                for chunk in self.source.chunks():
                    if self._lost:
                        self._lost = False
                        self.listener.resume_after_gap()
                        if self.echo is not None:
                            self.echo.resume_at(self.listener.stream_time)
                        self._post(MicrophoneBack())
                    self.level_db = level_db(np.asarray(chunk))
                    if self.echo is not None:
                        chunk = self.echo.process(chunk)
                        if self.echo.settling:
                            self.listener.echo_unsettled(len(chunk) / SAMPLE_RATE)
                        self.listener.echo_residue(len(chunk) / SAMPLE_RATE, self.echo.residue)
                    self._keep_for_note(chunk)
                    for decision in self.listener.feed(chunk):
                        self._post(Heard(decision))
                    if self._stopped.is_set():
                        return
            except InputLost as error:
                if not self._lost:
                    with self._note_lock:  # no note can open between this and ending the open one
                        self._lost = True
                    self._post(MicrophoneLost(str(error)))
                    # A note ends with the sound it got: the rest of the memo was never heard.
                    self._keep_for_note(np.zeros(0, dtype=np.int16), ended=True)
                self._stopped.wait(self._retry_seconds)
                continue
            if self._stopped.is_set():
                return
            for decision in self.listener.flush():
                self._post(Heard(decision))
            self._keep_for_note(np.zeros(0, dtype=np.int16), ended=True)
            self._post(RecordingEnded())
            return
