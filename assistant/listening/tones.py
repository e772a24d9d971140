"""Turning down sustained tones (background music) in an utterance before it is decoded.

The notes of music hold one frequency for a good part of a second; speech glides from sound to
sound and its harmonics follow its pitch. So, per frequency, the least power over the stretch
just before or just after a moment is what held there whatever was said. Where that stands out
as a peak above the broad level of the frequencies around it, a tone rather than the hiss of
noise (which PocketSphinx's own noise removal takes care of), it is subtracted three times over,
since a note starts louder than it holds, down to a floor.

Long vowels hold their harmonics too, so the suppressor is used only while the room's sound
between utterances is mostly such tones: music, or a hum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.listening.engines import SAMPLE_RATE

Floats = npt.NDArray[np.float64]
Samples = npt.NDArray[np.int16]


@dataclass(frozen=True)
class ToneSettings:
    """The suppressor's shape; frames are 32 ms with a 16 ms hop at 16 kHz."""

    fft: int = 512
    hop: int = 256
    hold_s: float = 0.2  # how long a tone must hold, before or after a moment, to count
    # How far a held tone must stand above the broad level around it: the lower fifth of the
    # bins (31 Hz each) this many to each side, so that the partials of a chord, close
    # together, do not raise the level they are measured against.
    peak_db: float = 6.0
    neighbourhood: int = 12
    around_percentile: float = 20.0
    over_subtraction: float = 3.0
    floor_db: float = -20.0
    # The room counts as playing music when at least this share of its power is held tones.
    music_share: float = 0.3
    # ... and as steady (noise, a quiet room, speech) below this share.
    steady_share: float = 0.15


def _frames(samples: Samples, settings: ToneSettings) -> tuple[Floats, npt.NDArray[np.complex128]]:
    """The sqrt-Hann window and the spectra of the audio's frames (the audio padded at both ends)."""
    n, hop = settings.fft, settings.hop
    padded = np.concatenate([np.zeros(n), samples.astype(np.float64), np.zeros(n + hop)])
    window = np.sqrt(np.hanning(n + 1)[:n])  # periodic: squared, its halves overlap-add to one
    frames = np.lib.stride_tricks.sliding_window_view(padded, n)[::hop]
    return window, np.fft.rfft(frames * window, axis=1)


def held_tones(power: Floats, settings: ToneSettings) -> Floats:
    """Per frame and bin, the power of the tones that hold through the stretch before or after.

    Either side will do: a note that has just begun holds through what follows, one about to end
    through what went before. The least power over a side is what held all through it.
    """
    span = max(2, round(settings.hold_s * SAMPLE_RATE / settings.hop))
    edge = np.pad(power, ((span - 1, span - 1), (0, 0)), mode="edge")
    least = np.lib.stride_tricks.sliding_window_view(edge, span, axis=0).min(axis=2)
    held = np.maximum(least[: len(power)], least[span - 1 :])
    k = settings.neighbourhood
    spread = np.pad(held, ((0, 0), (k, k)), mode="edge")
    neighbours = np.lib.stride_tricks.sliding_window_view(spread, 2 * k + 1, axis=1)
    around = np.percentile(neighbours, settings.around_percentile, axis=2)
    return np.where(held > around * 10 ** (settings.peak_db / 10), held, 0.0)


def tonal_share(samples: Samples, settings: ToneSettings | None = None) -> float:
    """The share of the audio's power that is held tones (0 for silence)."""
    settings = settings or ToneSettings()
    if len(samples) < settings.fft:
        return 0.0
    _, spectra = _frames(samples, settings)
    power = np.abs(spectra) ** 2
    total = float(power.sum())
    return float(held_tones(power, settings).sum()) / total if total > 0 else 0.0


def suppress_held_tones(
    samples: Samples, before: Samples | None = None, settings: ToneSettings | None = None
) -> Samples:
    """The audio with its held tones turned down; before, the room just before it, tells what
    held as the audio began."""
    settings = settings or ToneSettings()
    lead = np.zeros(0, dtype=np.int16) if before is None else before
    audio = np.concatenate([lead, samples])
    if len(audio) < settings.fft:
        return samples
    n, hop = settings.fft, settings.hop
    window, spectra = _frames(audio, settings)
    power = np.abs(spectra) ** 2
    floor = 10 ** (settings.floor_db / 10)
    ratio = held_tones(power, settings) / np.maximum(power, 1e-12)
    gain = np.maximum(floor, 1.0 - settings.over_subtraction * ratio)
    cleaned = np.fft.irfft(spectra * np.sqrt(gain), n, axis=1) * window
    out = np.zeros(len(audio) + 2 * n + hop)
    for i, frame in enumerate(cleaned):
        out[i * hop : i * hop + n] += frame
    result = out[n + len(lead) : n + len(audio)]
    return np.clip(np.round(result), -32768, 32767).astype(np.int16)
