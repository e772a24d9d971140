"""An audio output that renders everything said, at the times it was said, into one WAV file."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.speech.audio import Audio, Samples, resample
from assistant.speech.playback import EndCallback, OutputUnavailable, StartCallback

_WRITE_CHUNK = 1 << 16


@dataclass
class _Segment:
    offset: int
    """Start, in samples from the sink's creation."""
    samples: Samples
    on_end: EndCallback | None
    start_at: float
    ended: bool = False


class WavTimelineSink:
    """Same play/stop interface as SoundDevicePlayer, but the "speaker" is a WAV timeline.

    Positions come from `clock` (default time.monotonic), relative to the sink's creation;
    the gaps between utterances are silence. The file is written by close().

    realtime=True: an utterance ends when its duration has passed in real time (a timer), so
    a speech worker paces itself as it would with a speaker; play() or stop() during an
    utterance truncates it at that clock time and reports on_end(at, completed=False).

    realtime=False (simulated, for headless tests): play() reports on_start and
    on_end(start + duration, completed=True) at once, and an utterance played before the
    previous one would have ended is placed right after it; stop() still truncates the last
    utterance if the clock shows it was sounding, but cannot take back its on_end.
    """

    def __init__(
        self,
        path: Path | str,
        sample_rate: int = 22050,
        clock: Callable[[], float] = time.monotonic,
        realtime: bool = True,
    ) -> None:
        self.path = Path(path)
        try:
            # Found out now, not after a whole session spoken into a file that cannot be written.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as error:
            raise OutputUnavailable(
                f"cannot write {self.path} ({error.strerror}); choose another --speak-to file"
            ) from None
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.output_latency = 0.0  # a sample sounds on the timeline when it is placed there
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._current: _Segment | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    def _now_offset(self) -> int:
        return max(0, round((self._clock() - self._origin) * self.sample_rate))

    @property
    def is_playing(self) -> bool:
        with self._lock:
            return self._current is not None

    def play(
        self,
        audio: Audio,
        on_start: StartCallback | None = None,
        on_end: EndCallback | None = None,
    ) -> None:
        """Place `audio` on the timeline now (see the class notes for when on_end comes)."""
        samples = resample(audio, self.sample_rate).samples
        with self._lock:
            if self._closed:
                raise RuntimeError("the WAV sink is closed")
            interrupted = self._truncate_current()
            offset = self._now_offset()
            if not self.realtime and self._segments:
                last = self._segments[-1]
                offset = max(offset, last.offset + len(last.samples))
            start_at = self._origin + offset / self.sample_rate
            segment = _Segment(offset, samples, on_end, start_at)
            self._segments.append(segment)
            if self.realtime:
                self._current = segment
                self._timer = threading.Timer(
                    len(samples) / self.sample_rate, self._ended, [segment]
                )
                self._timer.daemon = True
                self._timer.start()
        if interrupted is not None:
            self._report_end(*interrupted)
        if on_start is not None:
            on_start(start_at)
        if not self.realtime:
            segment.ended = True
            if on_end is not None:
                on_end(start_at + len(samples) / self.sample_rate, True)

    def _truncate_current(self) -> tuple[_Segment, float] | None:
        """Cut the sounding utterance at the clock's time; call with the lock held."""
        if self.realtime:
            segment = self._current
            if segment is None:
                return None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._current = None
        else:
            if not self._segments:
                return None
            segment = self._segments[-1]
        offset = self._now_offset()
        kept = offset - segment.offset
        if kept >= len(segment.samples):
            return None
        segment.samples = segment.samples[: max(0, kept)]
        return segment, self._origin + offset / self.sample_rate

    def _ended(self, segment: _Segment) -> None:
        with self._lock:
            if self._current is not segment:
                return
            self._current = None
            self._timer = None
        self._report_end(segment, segment.start_at + len(segment.samples) / self.sample_rate, True)

    @staticmethod
    def _report_end(segment: _Segment, at: float, completed: bool = False) -> None:
        if segment.ended:
            return
        segment.ended = True
        if segment.on_end is not None:
            segment.on_end(at, completed)

    def window(self, start: float, end: float) -> Samples:
        """What the timeline sounds like from clock time start to end (float samples)."""
        first = round((start - self._origin) * self.sample_rate)
        count = max(0, round((end - start) * self.sample_rate))
        out = np.zeros(count, dtype=np.float32)
        with self._lock:
            segments = list(self._segments)
        for segment in segments:
            lo = max(first, segment.offset)
            hi = min(first + count, segment.offset + len(segment.samples))
            if lo < hi:
                out[lo - first : hi - first] += segment.samples[
                    lo - segment.offset : hi - segment.offset
                ]
        return out

    def stop(self) -> None:
        """Cut the current utterance at the clock's time."""
        with self._lock:
            interrupted = self._truncate_current()
        if interrupted is not None:
            self._report_end(*interrupted)

    def close(self) -> None:
        """Stop, then write the timeline to the WAV file (16-bit mono)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            interrupted = self._truncate_current() if self.realtime else None
            segments = sorted(self._segments, key=lambda s: s.offset)
        if interrupted is not None:
            self._report_end(*interrupted)
        self._write(segments)

    def _write(self, segments: list[_Segment]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(self.path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self.sample_rate)
            position = 0
            for segment in segments:
                # Streams silence in chunks so a long session never needs a full-length buffer.
                gap = segment.offset - position
                while gap > 0:
                    count = min(gap, _WRITE_CHUNK)
                    wav.writeframes(bytes(2 * count))
                    gap -= count
                skip = max(0, position - segment.offset)
                pcm = np.round(np.clip(segment.samples[skip:], -1.0, 1.0) * 32767.0)
                wav.writeframes(pcm.astype("<i2").tobytes())
                position = max(position, segment.offset + len(segment.samples))

    def __enter__(self) -> WavTimelineSink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
