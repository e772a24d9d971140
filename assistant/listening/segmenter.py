"""Cutting a 16 kHz stream into utterances, robust to steady background noise and music."""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np

from assistant.listening.engines import SAMPLE_RATE


def level_db(samples: np.ndarray) -> float:
    """Mean power of int16 samples in dB below full scale; -120 for no samples."""
    if not len(samples):
        return -120.0
    scaled = samples.astype(np.float32) / 32768
    return float(10 * np.log10(np.mean(scaled * scaled) + 1e-12))


class RunningMedian:
    """The median of the last `size` values added, as numpy's median has it; kept sorted as they
    come and go, because it is asked for every 30 ms."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._window: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._window)

    def add(self, value: float) -> None:
        if len(self._window) == self._size:
            del self._sorted[bisect.bisect_left(self._sorted, self._window.popleft())]
        self._window.append(value)
        bisect.insort(self._sorted, value)

    @property
    def median(self) -> float:
        middle = len(self._sorted) // 2
        if len(self._sorted) % 2:
            return self._sorted[middle]
        return (self._sorted[middle - 1] + self._sorted[middle]) / 2


@dataclass(frozen=True)
class SegmenterSettings:
    frame_seconds: float = 0.03
    start_frames: int = 3  # speech frames in a row that open an utterance
    end_frames: int = 9  # non-speech frames in a row that close it
    # ... once the room is known to be steady: a shorter pause closes it, so that pain said right
    # after other words ("thank you ... patient in pain") is an utterance of its own (bench_asr:
    # pain after speech). A phrase split so is joined again (Listener).
    steady_end_frames: int = 7
    preroll_frames: int = 8  # audio kept from before the start, so onsets are not clipped
    margin_db: float = 9.0  # how far above the background floor a frame must be to open speech
    # ... once the room is known to be steady (no music): a quieter voice may open speech there,
    # while the swells of music must not (bench_asr: pink noise and music at 10 dB).
    steady_margin_db: float = 7.5
    keep_margin_db: float = 4.0  # within an utterance, a frame this far above still continues it
    floor_window_s: float = 3.0  # the background is the median level of this much recent sound
    min_level_db: float = -60.0
    vad_mode: int = 3


@dataclass(frozen=True)
class SegmentEvent:
    kind: str  # "start", "audio" or "end"
    pcm: bytes = b""
    time: float = 0.0


class Segmenter:
    """WebRTC VAD gated by level above an adaptive background floor.

    The VAD alone calls music and loud noise speech and never closes an utterance. The floor is
    the median level of the last few seconds: a short command hardly moves it, while the swells
    of music and the grain of noise stay within the margin above it.
    """

    def __init__(self, settings: SegmenterSettings | None = None) -> None:
        from pocketsphinx import Vad

        self.settings = settings or SegmenterSettings()
        self._vad = Vad(self.settings.vad_mode, SAMPLE_RATE, self.settings.frame_seconds)
        self.frame_bytes: int = self._vad.frame_bytes
        self.frame_seconds = self.frame_bytes / 2 / SAMPLE_RATE
        self._levels = RunningMedian(
            max(1, round(self.settings.floor_window_s / self.frame_seconds))
        )
        self._frames = 0
        self._run = 0  # consecutive frames agreeing with a state change
        self._recent: deque[bytes] = deque(maxlen=self.settings.preroll_frames)
        self.in_speech = False
        self.room_steady = False  # told by the listener, which hears what the room plays
        # Told by the listener while it hears the room denoised: the floor stays within some
        # dB of the room as it came in, so faint leftovers of the noise do not count as voice.
        self.floor_at_least_db = -120.0
        # The last frame, between utterances, would have kept one going: faint speech, perhaps.
        self.faint_voice = False
        self.speech_start = 0.0
        self.speech_end = 0.0

    @property
    def full_close_seconds(self) -> float:
        """How long a pause closes an utterance where the room is not known to be steady."""
        return self.settings.end_frames * self.frame_seconds

    @property
    def opening(self) -> bool:
        """Speech may be starting: frames that would open an utterance have begun, too few yet."""
        return not self.in_speech and self._run > 0

    def process(self, frame: bytes) -> list[SegmentEvent]:
        """One frame of frame_bytes; returns what happened to the utterance."""
        settings = self.settings
        level = level_db(np.frombuffer(frame, dtype="<i2"))
        self._frames += 1
        now = self._frames * self.frame_seconds
        # Speech counts towards the floor too: a command is too short to move the median, and a
        # floor that never rose would hold music that swells up as one endless utterance.
        self._levels.add(level)
        floor = max(self._levels.median, self.floor_at_least_db)
        # Hysteresis: hard to open, easy to continue, so a sentence in noise stays one utterance.
        opening_margin = settings.steady_margin_db if self.room_steady else settings.margin_db
        faint = (
            level > settings.min_level_db
            and level > floor + settings.keep_margin_db
            and self._vad.is_speech(frame)
        )
        voiced = faint and (self.in_speech or level > floor + opening_margin)
        self.faint_voice = faint and not self.in_speech
        events: list[SegmentEvent] = []
        if not self.in_speech:
            self._recent.append(frame)
            self._run = self._run + 1 if voiced else 0
            if self._run >= settings.start_frames:
                self.in_speech = True
                self._run = 0
                self.speech_start = now - len(self._recent) * self.frame_seconds
                events.append(SegmentEvent("start", time=self.speech_start))
                events.append(SegmentEvent("audio", b"".join(self._recent)))
                self._recent.clear()
        else:
            events.append(SegmentEvent("audio", frame))
            self._run = 0 if voiced else self._run + 1
            closing = settings.steady_end_frames if self.room_steady else settings.end_frames
            if self._run >= closing:
                self.in_speech = False
                self._run = 0
                self.speech_end = now - closing * self.frame_seconds
                events.append(SegmentEvent("end", time=self.speech_end))
        return events
