"""Spoken guidance: every sentence printed and spoken through the speech worker."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from assistant.intents import Intent
from assistant.runner import Notice, Post
from assistant.session import AnnouncementDone
from assistant.speech import profiles
from assistant.speech.playback import AudioOutput, OutputUnavailable, SoundDevicePlayer
from assistant.speech.profiles import VoiceProfile
from assistant.speech.synthesis import Pyttsx3Synthesizer, SpeechUnavailable
from assistant.speech.wav_sink import WavTimelineSink
from assistant.speech.worker import SpeechEvent, SpeechWorker

_VOICE_STEPS: dict[Intent, Callable[[VoiceProfile], VoiceProfile]] = {
    Intent.LOUDER: profiles.louder,
    Intent.QUIETER: profiles.quieter,
    Intent.SLOWER: profiles.slower,
    Intent.FASTER: profiles.faster,
}


SpeechListener = Callable[[SpeechEvent], None]


class SpokenGuidance:
    """Prints each sentence and speaks it; a spoken announcement is done when its audio ends."""

    def __init__(
        self,
        worker: SpeechWorker,
        profile: VoiceProfile,
        post: Post,
        clock: Callable[[], float],
        out: TextIO,
    ) -> None:
        self.profile = profile
        self._worker = worker
        self._post = post
        self._clock = clock
        self._out = out
        self._ids = itertools.count(1)
        self._announcements: set[int] = set()
        self._lock = threading.Lock()
        self._failed = False
        self.listeners: list[SpeechListener] = []
        worker.on_event = self._on_event
        worker.start()

    def say(self, text: str, announces_step: bool) -> None:
        print(text, file=self._out, flush=True)
        if self._failed:
            if announces_step:
                self._post(AnnouncementDone(self._clock()))
            return
        utterance = next(self._ids)
        if announces_step:
            with self._lock:
                self._announcements.add(utterance)
        self._worker.say(text, utterance)

    def stop_speaking(self) -> None:
        self._worker.interrupt()

    def change_voice(self, intent: Intent) -> None:
        self.profile = _VOICE_STEPS[intent](self.profile)
        self._worker.set_rate(self.profile.rate_wpm)
        self._worker.set_volume(self.profile.volume)

    def close(self) -> None:
        self._worker.close(drain=not self._failed, timeout=30.0)

    def _on_event(self, event: SpeechEvent) -> None:
        for listener in self.listeners:
            listener(event)
        if event.kind == "started":
            return
        with self._lock:
            announced = event.utterance_id in self._announcements
            self._announcements.discard(event.utterance_id)  # type: ignore[arg-type]
        if event.kind == "failed" and not self._failed:
            self._failed = True
            reason = event.reason or "speech output failed"
            self._post(Notice(f"Speech stopped working ({reason}); the guidance goes on in print."))
        if announced and event.kind in ("finished", "failed"):
            self._post(AnnouncementDone(self._clock()))


def open_speech(
    profile: VoiceProfile, output_device: str | None, speak_to: Path | None
) -> SpeechWorker:
    """The speech worker for a session; raises SpeechUnavailable or OutputUnavailable with the fix."""
    synthesizer = Pyttsx3Synthesizer(profile.engine_voice, profile.rate_wpm, profile.volume)
    output: AudioOutput
    try:
        if speak_to is not None:
            output = WavTimelineSink(speak_to)
        else:
            output = SoundDevicePlayer(output_device)
    except (OutputUnavailable, OSError):
        synthesizer.close()
        raise
    return SpeechWorker(synthesizer, output)


__all__ = ["OutputUnavailable", "SpeechUnavailable", "SpokenGuidance", "open_speech"]
