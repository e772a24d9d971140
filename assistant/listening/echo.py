"""Removing the assistant's own voice from the microphone signal (acoustic echo cancellation).

The samples the loudspeaker plays are the reference. A partitioned-block frequency-domain
adaptive filter (normalised LMS, overlap-save) learns how the room turns them into what the
microphone hears, and its estimate is subtracted. The loudspeaker's sound reaches the
microphone after device buffering and flight time: that bulk delay is found by GCC-PHAT for
each utterance, so the filter only has to model the room's response, which it keeps from one
utterance to the next. Where the loudspeaker runs dry for a moment (a busy machine), the rest of
an utterance sounds later than followed: the delay is then looked for much further behind.

The therapist speaking over the echo must not spoil what the filter has learned: adaptation
stops while the echo estimate explains too little of the microphone signal, and of two filters
only the one that adapts is exposed to the risk; the other, which makes the output, takes over
its weights only while they cancel better, and gives them back when they went wrong.

What the filter leaves of the echo is turned down where nothing else is heard, so that the
recogniser's endpointer does not take the remains of the assistant's voice for speech.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.listening.engines import SAMPLE_RATE

Floats = npt.NDArray[np.float64]

_QUIET = 1e-8  # mean square of a block below which it counts as silence (-80 dBFS)
_PLACEABLE = 1e-7  # mean square a stretch of the reference needs for its delay to be sought


@dataclass(frozen=True)
class EchoSettings:
    """The canceller's shape; block and filter lengths are in samples at 16 kHz."""

    block: int = 512
    partitions: int = 7  # 7 x 32 ms: the room's response up to 224 ms after the direct sound
    step: float = 0.8  # NLMS step size (0..2; 1 learns fastest without noise)
    # How much later than announced the loudspeaker may sound (device buffers), and how much
    # earlier (the announced output latency may be an overestimate).
    max_delay: float = 0.5
    max_lead: float = 0.1
    # Audio of the reference used to find the delay, and how often to try again when an
    # utterance starts with silence or the therapist speaks over it.
    delay_window: float = 0.8
    delay_tries: int = 4
    # Near the delay found before, a shorter stretch tells it sooner; tried on so many stretches
    # before the whole range is searched.
    near_delay: float = 0.03
    near_window: float = 0.25
    near_tries: int = 3
    # Within an utterance, how often and how far from the delay found it is looked for again.
    follow_every: float = 0.5
    follow_window: float = 0.5
    follow_range: float = 0.06
    # Where the loudspeaker ran dry for a moment (its output stalled), the rest of the sentence
    # sounds that much later, far beyond that range: once the delay is not clearly found near
    # where it was this many checks in a row, and subtracting made the sound louder meanwhile
    # (speech over the echo makes checks unclear too, but what is subtracted still fits), it is
    # looked for up to lost_reach behind.
    lost_after: int = 2
    lost_reach: float = 1.0
    delay_tolerance: int = 3  # samples
    # The direct sound is placed this far into the filter, for paths a little earlier than found.
    pre_delay: int = 48
    # Adaptation stops while the echo estimate explains less than this share of the microphone
    # signal (someone speaks over the echo), and for so many blocks after; held much longer, the
    # room is taken to have changed.
    talk_over_share: float = 0.7
    talk_over_hold: int = 6
    relearn_after: float = 3.0
    # The echo the filter leaves is turned down to this share where it is all there is (1: never).
    residual_floor: float = 0.1
    residual_margin: float = 2.0


@dataclass
class _Segment:
    start: int  # stream sample of its first sample
    samples: Floats
    delay_checked: bool = False
    tries: int = 0
    # The filters as they were when it began to sound, if they had learned the room by then.
    learned: tuple[np.ndarray, np.ndarray] | None = None
    began: bool = False
    next_check: int | None = None  # where the delay is to be checked again
    near_peak: int | None = None  # the lag the last look near the old delay pointed to
    settled: bool = False  # its delay has been found
    unclear: int = 0  # follow checks in a row that found no clear delay
    misfits: int = 0  # the canceller's misfits as of its last clear check
    lost_stretch: int | None = None  # where the last of them looked, to be looked for further

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


class EchoCanceller:
    """Subtracts the estimated echo of added references from int16 16 kHz microphone chunks.

    Stream time is the microphone's: seconds since its first sample, counted by process().
    Thread-safe: one thread calls process() while another adds references.
    """

    def __init__(self, settings: EchoSettings | None = None) -> None:
        self.settings = s = settings or EchoSettings()
        self._n = s.block
        bins = s.block + 1
        self._w_fg = np.zeros((s.partitions, bins), dtype=np.complex128)
        self._w_bg = np.zeros((s.partitions, bins), dtype=np.complex128)
        self._x: np.ndarray = np.zeros((s.partitions, bins), dtype=np.complex128)
        self._x_block = -(10**9)  # the block index the spectra in _x end with
        self._segments: list[_Segment] = []
        self._lock = threading.Lock()
        self._pos = 0  # samples processed so far
        self._delay = 0  # samples by which the echo follows the announced reference
        # The delay as sentences start, without what a stalled loudspeaker added within one.
        self._usual_delay = 0
        self._stalled = False
        self._misfits = 0  # times what was learned no longer fitted (subtracting made it louder)
        span = s.max_delay + s.max_lead + s.delay_window * (s.delay_tries + 1)
        self._history = _Ring(round(span * SAMPLE_RATE) + s.block)
        # The block being filled: its microphone samples and both filters' echo estimates.
        self._block_mic = np.zeros(s.block)
        self._block_fg: Floats | None = None
        self._block_bg: Floats | None = None
        self._mic_power = 0.0
        self._constrain_next = 0
        self._gain = 1.0
        self._block_gain = np.ones(s.block)
        self._error_power_last = 0.0
        self._residual_ratio = 0.1
        self._error_power = 0.0
        self._converged = False
        self._hold = 0
        self._held_blocks = 0
        self._davg1 = 0.0
        self._davg2 = 0.0
        self._dvar1 = 0.0
        self._dvar2 = 0.0
        self.delay_estimates: list[float] = []  # seconds, one per utterance that found it
        self._residue: float | None = 0.0  # of the last chunk processed: see residue

    @property
    def residue(self) -> float | None:
        """How much of the assistant's voice the last chunk processed still holds, as its mean
        square (full scale 1), judged from the echo estimate and how much of it the filter
        leaves; None where nobody can tell: the filter has not learned the room, or the sentence
        sounding has not been placed yet (its echo estimate is of the wrong moment)."""
        return None if self.settling else self._residue

    # -- the reference --------------------------------------------------------------------------

    @property
    def stream_time(self) -> float:
        return self._pos / SAMPLE_RATE

    @property
    def delay(self) -> float:
        """Seconds by which the echo follows the announced start of what is played."""
        return self._delay / SAMPLE_RATE

    @property
    def settling(self) -> bool:
        """Whether what sounds now is of a sentence whose delay is not found yet, so that
        what the microphone hears of it may not have been taken out."""
        with self._lock:
            heard = self._pos - self._delay
            return any(s.start <= heard < s.end and not s.settled for s in self._segments)

    def add_reference(self, samples: np.ndarray, start: float) -> None:
        """What the loudspeaker plays (16 kHz; int16 or float in -1..1) from stream time start."""
        data = np.asarray(samples)
        floats = data / 32768.0 if data.dtype == np.int16 else data.astype(np.float64)
        segment = _Segment(round(start * SAMPLE_RATE), np.asarray(floats, dtype=np.float64))
        with self._lock:
            segment.misfits = self._misfits
            # A new utterance replaces what was still to be played of the previous one.
            for other in self._segments:
                if other.end > segment.start > other.start:
                    other.samples = other.samples[: segment.start - other.start]
            self._segments.append(segment)
            self._forget_old()

    def stop_reference(self, at: float) -> None:
        """The loudspeaker went silent at stream time at: cut what was still to be played."""
        cut = round(at * SAMPLE_RATE)
        with self._lock:
            for segment in self._segments:
                if segment.start < cut < segment.end:
                    segment.samples = segment.samples[: cut - segment.start]

    def resume_at(self, stream_time: float) -> None:
        """The input was lost until stream time: go on from there (the room is still learned)."""
        with self._lock:
            self._pos = max(self._pos, round(stream_time * SAMPLE_RATE))
            self._block_fg = self._block_bg = None
            self._x_block = -(10**9)
            self._history = _Ring(len(self._history.data), self._pos)

    def _forget_old(self) -> None:
        horizon = self._pos - self._delay - self._filter_length - 4 * SAMPLE_RATE
        self._segments = [s for s in self._segments if s.end > horizon and len(s.samples)]

    @property
    def _filter_length(self) -> int:
        return self.settings.partitions * self._n

    def _reference(self, first: int, count: int) -> Floats:
        """Reference samples first..first+count (stream samples, before the delay)."""
        out = np.zeros(count)
        for segment in self._segments:
            lo, hi = max(first, segment.start), min(first + count, segment.end)
            if lo < hi:
                out[lo - first : hi - first] += segment.samples[
                    lo - segment.start : hi - segment.start
                ]
        return out

    def _sounding(self, block: int) -> bool:
        """Whether an echo may be heard in the block: a reference sounds within the filter's reach."""
        lag = self._delay - self.settings.pre_delay
        first = block * self._n - lag - self._filter_length
        last = (block + 1) * self._n - lag
        return any(s.start < last and s.end > first for s in self._segments)

    # -- the microphone -------------------------------------------------------------------------

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """The chunk (int16) with the echo removed; unchanged when no reference sounds."""
        mic = np.asarray(chunk, dtype=np.int16)
        with self._lock:
            self._history.write(mic)
            out: np.ndarray | None = None
            done = 0
            residue: float | None = 0.0
            while done < len(mic):
                block, offset = divmod(self._pos, self._n)
                take = min(len(mic) - done, self._n - offset)
                if offset == 0:
                    self._begin_block(block)
                if self._block_fg is not None:
                    piece = mic[done : done + take] / 32768.0
                    self._block_mic[offset : offset + take] = piece
                    echo = self._block_fg[offset : offset + take]
                    gain = self._block_gain[offset : offset + take]
                    cleaned = (piece - echo) * gain
                    if residue is not None and self._converged:
                        residue += self._residual_ratio * float(np.sum((echo * gain) ** 2))
                    else:
                        residue = None
                    if out is None:
                        out = mic.copy()
                    out[done : done + take] = np.clip(np.round(cleaned * 32768.0), -32768, 32767)
                self._pos += take
                done += take
                if offset + take == self._n:
                    if self._block_fg is not None:
                        self._end_block()
                    # Between blocks, so that a new delay never splits one.
                    self._check_delay()
            self._residue = None if residue is None else residue / max(1, len(mic))
        return mic if out is None else out

    def _begin_block(self, block: int) -> None:
        if not self._sounding(block):
            self._block_fg = self._block_bg = None
            self._gain = 1.0
            return
        self._update_spectra(block)
        reached = (block + 1) * self._n - self._delay + self.settings.pre_delay
        for segment in self._segments:
            if not segment.began and segment.start < reached:
                segment.began = True
                if self._converged:
                    segment.learned = (self._w_fg.copy(), self._w_bg.copy())
        self._block_fg = self._estimate(self._w_fg)
        self._block_bg = self._estimate(self._w_bg)
        gain = 1.0
        if self.settings.residual_floor < 1.0 and self._converged:
            # What the filter leaves of the echo is about residual_ratio of its estimate; where
            # that makes up most of what was left in the last block, nobody else is speaking.
            echo = float(self._block_fg @ self._block_fg)
            left = self._residual_ratio * echo * self.settings.residual_margin
            gain = max(self.settings.residual_floor, 1.0 - left / (self._error_power_last + 1e-12))
        self._block_gain = np.linspace(self._gain, gain, self._n, endpoint=False)
        self._gain = gain

    def _update_spectra(self, block: int) -> None:
        """Spectra of the delayed reference, the newest (ending with block) first."""
        n = self._n
        lag = self._delay - self.settings.pre_delay
        if block - self._x_block >= self.settings.partitions or block < self._x_block:
            # After a pause or a new delay: all partitions afresh.
            firsts = [(block - p) * n - lag - n for p in range(self.settings.partitions)]
            frames = np.stack([self._reference(first, 2 * n) for first in firsts])
            self._x = np.fft.rfft(frames, axis=1)
        else:
            for b in range(self._x_block + 1, block + 1):
                frame = self._reference(b * n - lag - n, 2 * n)
                self._x[1:] = self._x[:-1].copy()
                self._x[0] = np.fft.rfft(frame)
        self._x_block = block

    def _estimate(self, weights: np.ndarray) -> Floats:
        return np.fft.irfft(np.sum(weights * self._x, axis=0), 2 * self._n)[self._n :]

    def _end_block(self) -> None:
        assert self._block_fg is not None and self._block_bg is not None
        mic = self._block_mic
        e_fg = mic - self._block_fg
        e_bg = mic - self._block_bg
        self._error_power_last = float(e_fg @ e_fg)
        if not self._talk_over(mic, self._block_fg, e_fg):
            self._adapt(e_bg)
            echo = float(self._block_fg @ self._block_fg)
            if self._converged and echo > 1e-9 * self._n:
                ratio = min(1.0, self._error_power_last / echo)
                self._residual_ratio = 0.95 * self._residual_ratio + 0.05 * ratio
        self._two_path(e_fg, e_bg, self._block_fg - self._block_bg)

    def _talk_over(self, mic: Floats, echo: Floats, error: Floats) -> bool:
        """Whether someone speaks over the echo, judged by how much of the microphone signal
        the echo estimate explains; only once the filter has learned the room."""
        power = float(mic @ mic)
        if power < _QUIET * self._n:
            return False  # nothing heard (a sound server's digital silence): nothing to spoil
        self._mic_power = 0.95 * self._mic_power + 0.05 * power
        self._error_power = 0.95 * self._error_power + 0.05 * float(error @ error)
        if self._error_power > 2.0 * self._mic_power:
            # Subtracting makes it louder: what was learned no longer fits (the sound moved by
            # more than the delay search followed). Better nothing than that; learn afresh.
            self._w_fg[:] = 0.0
            self._w_bg[:] = 0.0
            self._converged = False
            self._error_power = self._mic_power
            self._misfits += 1
            return False
        if not self._converged:
            self._converged = self._mic_power > 10.0 * self._error_power
            return False
        if float(mic @ echo) / power < self.settings.talk_over_share:
            self._hold = self.settings.talk_over_hold
            self._held_blocks += 1
            if self._held_blocks * self._n > self.settings.relearn_after * SAMPLE_RATE:
                # Held this long, it is more likely the room changed: learn it again.
                self._converged = False
                self._held_blocks = 0
            return True
        if self._hold > 0:
            self._hold -= 1
            return True
        self._held_blocks = 0
        return False

    def _adapt(self, error: Floats) -> None:
        """One NLMS step of the background filter, normalised per frequency bin."""
        n = self._n
        spectrum = np.fft.rfft(np.concatenate([np.zeros(n), error]))
        power = np.sum(np.abs(self._x) ** 2, axis=0)
        # The floor keeps near-silent reference bins from taking huge steps on noise.
        floor = 1e-6 * 2 * n * self.settings.partitions + 0.01 * float(np.mean(power))
        self._w_bg += np.conj(self._x) * (self.settings.step * spectrum / (power + floor))
        # Only the first half of each partition's impulse response may be non-zero (overlap-
        # save); enforcing it on one partition per block in turn costs two small transforms
        # instead of two per partition, and learns about as well.
        p = self._constrain_next
        self._constrain_next = (p + 1) % self.settings.partitions
        impulse = np.fft.irfft(self._w_bg[p], 2 * n)
        impulse[n:] = 0.0
        self._w_bg[p] = np.fft.rfft(impulse)

    def _two_path(self, e_fg: Floats, e_bg: Floats, difference: Floats) -> None:
        """Copy the background filter to the foreground while it cancels better; undo it when
        speech over the echo has thrown it off."""
        sff = float(e_fg @ e_fg)
        see = float(e_bg @ e_bg)
        dbf = float(difference @ difference) + 1e-12
        gain = sff - see
        self._davg1 = 0.6 * self._davg1 + 0.4 * gain
        self._davg2 = 0.85 * self._davg2 + 0.15 * gain
        self._dvar1 = 0.36 * self._dvar1 + 0.16 * sff * dbf
        self._dvar2 = 0.7225 * self._dvar2 + 0.0225 * sff * dbf
        if (
            gain * abs(gain) > sff * dbf
            or self._davg1 * abs(self._davg1) > 0.5 * self._dvar1
            or self._davg2 * abs(self._davg2) > 0.25 * self._dvar2
        ):
            self._w_fg = self._w_bg.copy()
            self._davg1 = self._davg2 = self._dvar1 = self._dvar2 = 0.0
        elif -gain * abs(gain) > 4.0 * sff * dbf:
            self._w_bg = self._w_fg.copy()
            self._davg1 = self._davg2 = self._dvar1 = self._dvar2 = 0.0

    # -- the bulk delay -------------------------------------------------------------------------

    def _check_delay(self) -> None:
        """Find the delay of each new utterance once enough of it has been heard, and follow it
        through the utterance (an output buffer that runs dry plays the rest a little later)."""
        s = self.settings
        lead = round(s.max_lead * SAMPLE_RATE)
        reach = round(s.max_delay * SAMPLE_RATE)
        window = round(s.delay_window * SAMPLE_RATE)
        for segment in self._segments:
            if segment.delay_checked:
                self._follow_delay(segment, lead, reach)
                continue
            if self._stalled and self._pos - self._usual_delay >= segment.start:
                # The loudspeaker ran dry in the sentence before; this one's start was announced
                # as it sounded, behind the usual delay. The room itself did not change.
                self._stalled = False
                self._delay = self._usual_delay
                self._x_block = -(10**9)
            near_tries = s.near_tries if self.delay_estimates else 0
            looking_near = segment.tries < near_tries
            if looking_near:
                # The device usually buffers about as it did before: looking near the last
                # delay first gives an answer sooner.
                near = round(s.near_delay * SAMPLE_RATE)
                lo, hi = max(-lead, self._delay - near), min(reach, self._delay + near)
                length = round(s.near_window * SAMPLE_RATE)
                first = segment.start + segment.tries * length
            else:
                lo, hi, length = -lead, reach, window
                first = segment.start + (segment.tries - near_tries) * window // 2
            if self._pos < first + length + hi:
                return
            segment.tries += 1
            if looking_near:
                found = self._near_delay(segment, first, length, lo, hi)
            else:
                found = self._find_delay(first, length, lo, hi)
            tried_all = segment.tries >= near_tries + s.delay_tries
            if found is not None or tried_all or first + length >= segment.end:
                segment.delay_checked = True
            if found is None:
                continue
            segment.settled = True
            segment.next_check = first + length
            self.delay_estimates.append(found / SAMPLE_RATE)
            self._usual_delay = found
            if abs(found - self._delay) <= s.delay_tolerance:
                continue
            if segment.learned is not None:
                # The filters model the room behind the delay found before; what they learned
                # while misaligned since this utterance began is dropped.
                self._w_fg, self._w_bg = segment.learned
                self._delay = found
                self._x_block = -(10**9)
            else:
                # Learned during this utterance, behind the old delay: moved along with it.
                self._move_delay(found)

    def _follow_delay(self, segment: _Segment, lead: int, reach: int) -> None:
        """Check the delay again a little further into the utterance."""
        s = self.settings
        length = round(s.follow_window * SAMPLE_RATE)
        if segment.lost_stretch is not None:
            self._look_far(segment, lead, length)
        first = segment.next_check
        if first is None or first + length > segment.end:
            segment.next_check = None
            return
        near = round(s.follow_range * SAMPLE_RATE)
        lo, hi = max(-lead, self._delay - near), min(reach, self._delay + near)
        if self._delay > reach:
            hi = self._delay + near  # found beyond the usual reach, where a stall put it
        if self._pos < first + length + hi:
            return
        segment.next_check = first + round(s.follow_every * SAMPLE_RATE)
        peak = self._peak(first, length, lo, hi)
        if peak is None or not peak[1]:
            if self._comparable(first, length):
                segment.unclear += 1
                misfit = self._misfits > segment.misfits or self._error_power > self._mic_power
                if segment.unclear >= s.lost_after and misfit and segment.lost_stretch is None:
                    segment.lost_stretch = first
            return
        segment.unclear = 0
        segment.misfits = self._misfits
        found = peak[0]
        # A sample or two either way is the estimate's own jitter, which the filter absorbs; a
        # needless move by one sample would cost it most of what it cancels.
        if abs(found - self._delay) > s.delay_tolerance:
            # Only the sound came later: the room, and so what was learned of it, is the same.
            self._delay = found
            self._x_block = -(10**9)

    def _comparable(self, first: int, window: int) -> bool:
        """Whether the reference sounds over first..first+window and the microphone heard sound."""
        reference = self._reference(first, window)
        heard = self._history.read(first + self._delay, window)
        return (
            float(reference @ reference) >= window * _PLACEABLE
            and heard is not None
            and float(heard @ heard) >= window * _QUIET
        )

    def _look_far(self, segment: _Segment, lead: int, window: int) -> None:
        """Look for the delay of the stretch that was not found near it, up to lost_reach behind,
        once that much has been heard: the loudspeaker may have run dry and sound the rest later.
        Only a delay beyond the range followed is taken here."""
        s = self.settings
        first = segment.lost_stretch
        reach = round(s.lost_reach * SAMPLE_RATE)
        if first is None or self._pos < first + window + reach:
            return
        segment.lost_stretch, segment.unclear, segment.misfits = None, 0, self._misfits
        if any(other.began and other.start > segment.start for other in self._segments):
            return  # the next sentence sounds already, announced as it began
        found = self._find_delay(first, window, -lead, reach)
        near = round(s.follow_range * SAMPLE_RATE)
        if found is None or abs(found - self._delay) <= near:
            return  # nothing far off: following near the delay goes on as before
        # Followed on from there: stretches before it may be from before the loudspeaker ran dry.
        segment.next_check = first + window
        self._delay = found
        self._x_block = -(10**9)
        self._stalled = abs(found - self._usual_delay) > near

    def _near_delay(
        self, segment: _Segment, first: int, window: int, lo: int, hi: int
    ) -> int | None:
        """The lag near the old delay, if clear, or if two stretches in a row point to it.

        A quarter second of speech seldom makes a clear peak, but one that two stretches agree
        on is no accident: with the delay found a quarter second sooner, less of the sentence's
        start goes uncancelled (bench_echo --jitter-ms).
        """
        peak = self._peak(first, window, lo, hi)
        if peak is None:
            segment.near_peak = None
            return None
        lag, clear = peak
        before, segment.near_peak = segment.near_peak, lag
        agreed = before is not None and abs(lag - before) <= self.settings.delay_tolerance
        return lag if clear or agreed else None

    def _find_delay(self, first: int, window: int, lo: int, hi: int) -> int | None:
        """The lag (lo..hi) of the microphone behind the reference (GCC-PHAT), None if unclear."""
        peak = self._peak(first, window, lo, hi)
        return peak[0] if peak is not None and peak[1] else None

    def _peak(self, first: int, window: int, lo: int, hi: int) -> tuple[int, bool] | None:
        """The best lag (lo..hi) of the microphone behind the reference, and whether it is
        clear; None where there is nothing to compare or the peak is at a narrowed edge."""
        reference = self._reference(first, window)
        if float(reference @ reference) < window * _PLACEABLE:
            return None
        mic = self._history.read(first + lo, window + hi - lo)
        if mic is None or float(mic @ mic) < window * _QUIET:
            return None
        size = 1 << int(np.ceil(np.log2(len(mic) + window)))
        cross = np.fft.rfft(mic, size) * np.conj(np.fft.rfft(reference, size))
        cross /= np.abs(cross) + 1e-12
        correlation = np.fft.irfft(cross, size)[: hi - lo + 1]
        peak = int(np.argmax(correlation))
        if lo > -round(self.settings.max_lead * SAMPLE_RATE) and peak < 32:
            return None  # at the edge of a narrowed search: the true peak may lie beyond it
        if hi < round(self.settings.max_delay * SAMPLE_RATE) and peak > hi - lo - 32:
            return None
        strength = float(correlation[peak])
        # Beside the peak the correlation is noise: the peak must stand well out of it, and
        # above any other (voiced speech repeats itself every pitch period).
        around = np.delete(correlation, range(max(0, peak - 32), peak + 33))
        if not len(around):
            return None
        clear = strength >= 6.0 * float(np.std(around)) + 1e-9 and strength >= 1.2 * float(
            around.max()
        )
        return peak + lo, clear

    def _move_delay(self, delay: int) -> None:
        """Take a new bulk delay, shifting the learned response so it still fits the room."""
        shift = delay - self._delay
        if shift == 0:
            return
        self._delay = delay
        self._w_fg = self._shifted(self._w_fg, shift)
        self._w_bg = self._shifted(self._w_bg, shift)
        self._x_block = -(10**9)

    def _shifted(self, weights: np.ndarray, shift: int) -> np.ndarray:
        n = self._n
        impulse = np.fft.irfft(weights, 2 * n, axis=1)[:, :n].reshape(-1)
        moved = np.zeros_like(impulse)
        if abs(shift) >= len(impulse):
            pass  # the room's response lies wholly outside the new span: learned afresh
        elif shift >= 0:
            moved[: len(impulse) - shift] = impulse[shift:]
        else:
            moved[-shift:] = impulse[: len(impulse) + shift]
        parts = np.zeros((self.settings.partitions, 2 * n))
        parts[:, :n] = moved.reshape(self.settings.partitions, n)
        return np.fft.rfft(parts, axis=1)


class _Ring:
    """The latest microphone samples (as floats), addressed by stream sample."""

    def __init__(self, size: int, start: int = 0) -> None:
        self.data = np.zeros(size)
        self._written = self._start = start

    def write(self, chunk: np.ndarray) -> None:
        size = len(self.data)
        self._written += max(0, len(chunk) - size)
        chunk = chunk[-size:]
        at = self._written % size
        first = min(len(chunk), size - at)
        self.data[at : at + first] = chunk[:first] / 32768.0
        self.data[: len(chunk) - first] = chunk[first:] / 32768.0
        self._written += len(chunk)

    def read(self, first: int, count: int) -> Floats | None:
        """Samples first..first+count, or None if not all of them are still (or yet) here."""
        size = len(self.data)
        if (
            first < max(self._written - size, self._start)
            or first + count > self._written
            or count > size
        ):
            return None
        index = np.arange(first, first + count) % size
        return self.data[index]
