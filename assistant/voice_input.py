"""Spoken commands into the runner: an audio source feeds the listener on a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.listening.listener import Decision, Listener
from assistant.listening.microphone import InputLost
from assistant.listening.segmenter import level_db
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


VoiceEvent = Heard | MicrophoneLost | MicrophoneBack | RecordingEnded


class VoiceInput:
    """Feeds a source into a listener and posts what was decided; retries a lost microphone."""

    def __init__(
        self,
        source: AudioSource,
        listener: Listener,
        post: Callable[[VoiceEvent], None],
        retry_seconds: float = 1.0,
    ) -> None:
        self.source = source
        self.listener = listener
        self._post = post
        self._retry_seconds = retry_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voice-input", daemon=True)
        self.level_db: float | None = None  # of the latest chunk, for the session screen's meter

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.source.close()
        self._thread.join(2.0)

    def on_speech(self, event: SpeechEvent) -> None:
        """Tell the listener when the assistant's own voice sounds, so it is never obeyed."""
        if event.kind == "started":
            self.listener.assistant_speaking(
                event.text, event.at, duration=event.duration, monotonic=True
            )
        else:
            self.listener.speaking_ended(event.at, monotonic=True)

    def _run(self) -> None:
        lost = False
        while not self._stopped.is_set():
            try:
                for chunk in self.source.chunks():
                    if lost:
                        lost = False
                        self.listener.resume_after_gap()
                        self._post(MicrophoneBack())
                    self.level_db = level_db(np.asarray(chunk))
                    for decision in self.listener.feed(chunk):
                        self._post(Heard(decision))
                    if self._stopped.is_set():
                        return
            except InputLost as error:
                if not lost:
                    lost = True
                    self._post(MicrophoneLost(str(error)))
                self._stopped.wait(self._retry_seconds)
                continue
            if self._stopped.is_set():
                return
            for decision in self.listener.flush():
                self._post(Heard(decision))
            self._post(RecordingEnded())
            return
