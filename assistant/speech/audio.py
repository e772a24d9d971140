"""Mono float32 audio buffers and the small helpers shared by the speech modules."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

_PCM_DTYPES: dict[int, type[np.signedinteger] | type[np.unsignedinteger]] = {
    1: np.uint8,
    2: np.int16,
    4: np.int32,
}


# eq=False: comparing numpy arrays element-wise has no single truth value.
@dataclass(frozen=True, eq=False)
class Audio:
    """Mono audio: float32 samples in [-1, 1] at `sample_rate` Hz."""

    samples: Samples
    sample_rate: int

    def __post_init__(self) -> None:
        samples = np.ascontiguousarray(self.samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {samples.shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {self.sample_rate}")
        # Callers share buffers across threads (worker, audio callback); make them read-only.
        samples.flags.writeable = False
        object.__setattr__(self, "samples", samples)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    @classmethod
    def silence(cls, seconds: float, sample_rate: int) -> Audio:
        return cls(np.zeros(round(seconds * sample_rate), dtype=np.float32), sample_rate)


def rms(samples: Samples) -> float:
    """Root mean square level (0 for an empty buffer)."""
    if len(samples) == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def scale(audio: Audio, gain: float) -> Audio:
    """Multiply every sample by `gain`, clipping to [-1, 1]."""
    return Audio(np.clip(audio.samples * np.float32(gain), -1.0, 1.0), audio.sample_rate)


def resample(audio: Audio, sample_rate: int) -> Audio:
    """Linear-interpolation resampling; good enough for speech prompts, not for music."""
    if audio.sample_rate == sample_rate or len(audio.samples) == 0:
        return Audio(audio.samples, sample_rate)
    count = max(1, round(len(audio.samples) * sample_rate / audio.sample_rate))
    source_times = np.arange(len(audio.samples)) / audio.sample_rate
    target_times = np.arange(count) / sample_rate
    return Audio(
        np.interp(target_times, source_times, audio.samples).astype(np.float32), sample_rate
    )


def read_wav(path: Path | str) -> Audio:
    """Read an uncompressed PCM WAV file (8/16/32-bit, any channel count) as mono."""
    with wave.open(str(path), "rb") as wav:
        width = wav.getsampwidth()
        channels = wav.getnchannels()
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    if width not in _PCM_DTYPES:
        raise ValueError(f"{path}: unsupported sample width of {width} bytes")
    data = np.frombuffer(frames, dtype=_PCM_DTYPES[width]).astype(np.float32)
    if width == 1:
        data = (data - 128.0) / 128.0
    else:
        data /= float(2 ** (8 * width - 1))
    if channels > 1:
        data = data[: len(data) - len(data) % channels].reshape(-1, channels).mean(axis=1)
    return Audio(data, rate)


def write_wav(path: Path | str, audio: Audio) -> None:
    """Write 16-bit mono PCM."""
    pcm = np.round(np.clip(audio.samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(audio.sample_rate)
        wav.writeframes(pcm.tobytes())


def frame_rms(audio: Audio, frame_seconds: float = 0.01) -> Samples:
    """RMS level of consecutive frames of `frame_seconds` (the last partial frame is dropped)."""
    size = max(1, round(frame_seconds * audio.sample_rate))
    count = len(audio.samples) // size
    frames = audio.samples[: count * size].reshape(count, size).astype(np.float64)
    return np.sqrt(np.mean(np.square(frames), axis=1)).astype(np.float32)


def sound_span(
    audio: Audio, threshold: float, frame_seconds: float = 0.01
) -> tuple[float, float] | None:
    """Start and end (seconds) of the part louder than `threshold`, or None if all quiet."""
    levels = frame_rms(audio, frame_seconds)
    loud = np.flatnonzero(levels > threshold)
    if len(loud) == 0:
        return None
    size = max(1, round(frame_seconds * audio.sample_rate)) / audio.sample_rate
    return float(loud[0] * size), float((loud[-1] + 1) * size)
