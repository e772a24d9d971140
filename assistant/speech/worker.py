"""The speech thread: queues announcements, synthesizes and plays them, reports what happened."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from assistant.speech.audio import Audio
from assistant.speech.playback import AudioOutput, OutputUnavailable
from assistant.speech.synthesis import (
    MAX_RATE_WPM,
    MIN_RATE_WPM,
    SpeechUnavailable,
    SynthesisError,
)

_log = logging.getLogger(__name__)

EventKind = Literal["started", "finished", "interrupted", "failed"]

# How long past an utterance's own length playback may take before it counts as stalled.
_STALL_MARGIN = 2.0


@dataclass(frozen=True)
class SpeechEvent:
    """What happened to an utterance; `at` is time.monotonic() of the sound itself.

    started: first audio handed to the device. finished: the last sample played.
    interrupted: silenced by interrupt() (or dropped from the queue before it started).
    failed: could not be synthesized or played; `reason` says why.
    """

    kind: EventKind
    utterance_id: int | None
    text: str
    at: float
    reason: str | None = None
    duration: float | None = None  # of the whole utterance's audio, given with "started"
    # With "started": the audio being played, and how long after `at` the device sounds it.
    audio: Audio | None = None
    output_latency: float = 0.0


class Synthesizer(Protocol):
    rate_wpm: int
    volume: float

    def synthesize(self, text: str) -> Audio: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _Say:
    text: str
    utterance_id: int | None
    generation: int


_CLOSE = object()


class SpeechWorker:
    """Owns the synthesizer and the audio output once started; every other thread only
    calls say(), interrupt(), set_rate(), set_volume(), close().

    Every said utterance gets exactly one final event (finished, interrupted or failed);
    "started" comes before "finished" and before "interrupted" if any sound was played.
    Events are delivered on the worker thread, in order; keep the listener quick.
    """

    def __init__(
        self,
        synthesizer: Synthesizer,
        output: AudioOutput,
        on_event: Callable[[SpeechEvent], None] | None = None,
    ) -> None:
        self._synthesizer = synthesizer
        self._output = output
        self.on_event = on_event
        self._queue: queue.Queue[_Say | object] = queue.Queue()
        self._lock = threading.Lock()
        self._generation = 0
        self._interrupted_at: dict[int, float] = {}
        self._rate_wpm: int | None = None
        self._volume: float | None = None
        self._speaking = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)

    @property
    def speaking(self) -> bool:
        """True between an utterance's "started" and its final event."""
        return self._speaking

    def start(self) -> None:
        self._thread.start()

    def say(self, text: str, utterance_id: int | None = None) -> None:
        """Queue `text` to be spoken after what is already queued; returns at once."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the speech worker is closed")
            self._queue.put(_Say(text, utterance_id, self._generation))

    def interrupt(self) -> None:
        """Silence the current utterance now and drop everything queued."""
        with self._lock:
            self._interrupted_at[self._generation] = time.monotonic()
            self._generation += 1
            # Stopping here, not on the worker thread, saves a thread hop before silence.
            self._output.stop()

    def set_rate(self, wpm: int) -> None:
        """Speaking rate in words per minute, from the next utterance."""
        if not MIN_RATE_WPM <= wpm <= MAX_RATE_WPM:
            raise ValueError(f"rate must be {MIN_RATE_WPM}..{MAX_RATE_WPM} words per minute")
        with self._lock:
            self._rate_wpm = int(wpm)

    def set_volume(self, volume: float) -> None:
        """Volume 0..1, from the next utterance."""
        if not 0.0 <= volume <= 1.0:
            raise ValueError("volume must be 0..1")
        with self._lock:
            self._volume = float(volume)

    def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Finish what is queued (drain) or interrupt it, then stop the thread and release
        the synthesizer and the output."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if not drain:
            self.interrupt()
        self._queue.put(_CLOSE)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Draining took too long: cut it short so the output is still released (a WAV
                # file being rendered is only written then).
                self.interrupt()
                self._thread.join(5.0)
        else:
            self._release()

    def _emit(self, event: SpeechEvent) -> None:
        if event.kind == "started":
            self._speaking = True
        elif event.kind in ("finished", "interrupted"):
            self._speaking = False
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            _log.exception("speech event listener failed")

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _CLOSE:
                    break
                assert isinstance(item, _Say)
                self._speak(item)
        finally:
            self._release()

    def _release(self) -> None:
        for release in (self._output.close, self._synthesizer.close):
            try:
                release()
            except Exception:
                _log.exception("releasing a speech resource failed")

    def _dropped(self, item: _Say) -> bool:
        """Emit "interrupted" for an item queued before the last interrupt()."""
        with self._lock:
            current = self._generation
        if item.generation == current:
            return False
        at = self._interrupted_at.get(item.generation, time.monotonic())
        self._emit(SpeechEvent("interrupted", item.utterance_id, item.text, at))
        return True

    def _speak(self, item: _Say) -> None:
        if self._dropped(item):
            return
        with self._lock:
            rate, volume = self._rate_wpm, self._volume
        try:
            if rate is not None:
                self._synthesizer.rate_wpm = rate
            if volume is not None:
                self._synthesizer.volume = volume
            audio = self._synthesizer.synthesize(item.text)
        except (SynthesisError, SpeechUnavailable, ValueError, OSError) as error:
            self._emit(
                SpeechEvent("failed", item.utterance_id, item.text, time.monotonic(), str(error))
            )
            return
        # A queue per utterance, so a late callback from an earlier one cannot be mistaken.
        notes: queue.Queue[tuple[str, float, bool]] = queue.Queue()

        def on_start(at: float) -> None:
            notes.put(("start", at, False))

        def on_end(at: float, completed: bool) -> None:
            notes.put(("end", at, completed))

        with self._lock:
            # Checked under the lock so an interrupt() cannot slip in between check and play.
            if item.generation != self._generation:
                dropped = True
            else:
                dropped = False
                try:
                    self._output.play(audio, on_start=on_start, on_end=on_end)
                except (OutputUnavailable, RuntimeError, OSError) as error:
                    failure: str | None = str(error)
                else:
                    failure = None
        if dropped:
            self._dropped(item)
            return
        if failure is not None:
            self._emit(
                SpeechEvent("failed", item.utterance_id, item.text, time.monotonic(), failure)
            )
            return
        self._follow_playback(item, audio, notes)

    def _follow_playback(
        self, item: _Say, audio: Audio, notes: queue.Queue[tuple[str, float, bool]]
    ) -> None:
        deadline = time.monotonic() + audio.duration + _STALL_MARGIN
        while True:
            try:
                kind, at, completed = notes.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._output.stop()
                self._speaking = False
                reason = "audio playback stalled (the output device stopped taking audio)"
                self._emit(
                    SpeechEvent("failed", item.utterance_id, item.text, time.monotonic(), reason)
                )
                return
            if kind == "start":
                latency = float(getattr(self._output, "output_latency", 0.0))
                self._emit(
                    SpeechEvent(
                        "started",
                        item.utterance_id,
                        item.text,
                        at,
                        duration=audio.duration,
                        audio=audio,
                        output_latency=latency,
                    )
                )
                continue
            if completed:
                self._emit(SpeechEvent("finished", item.utterance_id, item.text, at))
            else:
                self._emit(SpeechEvent("interrupted", item.utterance_id, item.text, at))
            return
