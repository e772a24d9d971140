"""RNNoise over the 16 kHz stream: speech kept, a noisy room's hiss and music turned down.

RNNoise (Xiph's recurrent network noise suppressor) works on 10 ms frames at 48 kHz. The
`pyrnnoise` wheel carries it built; it is loaded directly, so that nothing else of that
package is imported. Where it is missing, or will not load, the listener hears the room as it
is.

The stream is raised to 48 kHz and brought back with the same windowed-sinc low-pass, so what
comes out matches what goes in sample for sample, `delay` samples later.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt

from assistant.listening.engines import SAMPLE_RATE
from assistant.listening.segmenter import RunningMedian, level_db

Samples = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float64]

_RATIO = 3  # RNNoise's 48 kHz over the stream's 16 kHz
_FRAME = 480  # RNNoise's frame at 48 kHz
_NETWORK_DELAY = 960  # at 48 kHz: the frame it waits for and the one it looks ahead
_HALF_TAPS = 30  # a multiple of _RATIO, so the whole delay is a whole number of stream samples
_LATEST = 1024  # more than the denoiser ever holds
_BLOCK = 480  # 30 ms at 16 kHz, over which the room's level is taken
_LIBRARY_NAMES = ("librnnoise.so", "rnnoise.dll")


@functools.cache
def library_path() -> Path | None:
    """Where the pyrnnoise wheel put RNNoise's shared library, if it is installed."""
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for name in _LIBRARY_NAMES:
            if (Path(folder) / name).is_file():
                return Path(folder) / name
    return None


class _LowPass:
    """A streaming low-pass at 48 kHz: flat to 6.5 kHz, 6 dB down at 7.6 kHz, 46 dB down at
    9 kHz; it keeps the last samples of one call for the next."""

    def __init__(self) -> None:
        n = np.arange(-_HALF_TAPS, _HALF_TAPS + 1)
        cutoff = 7600 / (SAMPLE_RATE * _RATIO)  # cycles per 48 kHz sample
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), 6.0)
        self._taps = taps / taps.sum()
        self._history = np.zeros(len(taps) - 1)

    def __call__(self, signal: Floats) -> Floats:
        joined = np.concatenate([self._history, signal])
        self._history = joined[len(joined) - len(self._history) :]
        return np.convolve(joined, self._taps, mode="valid")


@functools.cache
def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.restype = None
    pointer = ctypes.POINTER(ctypes.c_float)
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, pointer, pointer]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    if lib.rnnoise_get_frame_size() != _FRAME:
        raise OSError(f"{path}: RNNoise frames of {lib.rnnoise_get_frame_size()} samples")
    return lib


class _Network:
    """One RNNoise state, through ctypes."""

    def __init__(self, path: Path) -> None:
        self._lib = _load(path)
        self._state = self._lib.rnnoise_create(None)
        pointer = ctypes.POINTER(ctypes.c_float)
        # Made once: made for every frame, they cost about 2% of what the network itself does.
        self._in = np.zeros(_FRAME, dtype=np.float32)
        self._out = np.zeros(_FRAME, dtype=np.float32)
        self._in_pointer = self._in.ctypes.data_as(pointer)
        self._out_pointer = self._out.ctypes.data_as(pointer)

    def process(self, frame: Floats) -> npt.NDArray[np.float32]:
        """Denoise one 480-sample frame, in int16 scale."""
        self._in[:] = frame
        self._lib.rnnoise_process_frame(self._state, self._out_pointer, self._in_pointer)
        return self._out.copy()

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.rnnoise_destroy(state)


class Denoiser:
    """Noise suppression over a stream of int16 16 kHz samples.

    Sample k of all that comes out is sample k - delay of all that went in, denoised (the first
    delay samples are silence). RNNoise takes whole 10 ms frames, so up to one more frame's
    worth may wait inside.
    """

    delay = (2 * _HALF_TAPS + _NETWORK_DELAY) // _RATIO

    def __init__(self, path: Path) -> None:
        self._network = _Network(path)
        self._raise = _LowPass()  # takes out the images of raising the rate
        self._lower = _LowPass()  # takes out what would fold back on lowering it
        self._to_denoise = np.zeros(0)  # raised samples short of a whole frame

    def process(self, samples: Samples) -> Samples:
        given = np.asarray(samples, dtype=np.float64)
        raised = np.zeros(len(given) * _RATIO)
        raised[::_RATIO] = given * _RATIO
        pending = np.concatenate([self._to_denoise, self._raise(raised)])
        whole = len(pending) // _FRAME * _FRAME
        self._to_denoise = pending[whole:]
        if not whole:
            return np.zeros(0, dtype=np.int16)
        frames = [self._network.process(pending[i : i + _FRAME]) for i in range(0, whole, _FRAME)]
        # Whole frames are a multiple of _RATIO samples, so every call keeps the same phase.
        out = self._lower(np.concatenate(frames))[::_RATIO]
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class DenoisingInput:
    """The stream as it comes, or denoised while the room is noisy: switched between chunks
    without losing or repeating a sample.

    While denoising, what comes out lags what goes in by `lag` samples. Switched on, the network
    first hears the room just before, so that it knows the noise from the first word.
    """

    def __init__(self, path: Path, floor_seconds: float = 3.0) -> None:
        self._path = path
        self._denoiser: Denoiser | None = None
        self._block = np.zeros(0, dtype=np.int16)
        self._levels = RunningMedian(round(floor_seconds * SAMPLE_RATE / _BLOCK))
        # Told by the listener: a conversation must not raise the room's level.
        self.between_utterances = True
        self._first_new = 0  # where what came in after the room comes out of the denoiser
        self._out = 0  # what came out of the denoiser, the room's part included
        self._lag = 0
        self._owed = np.zeros(0, dtype=np.int16)  # came in, not gone out, as it came
        self._latest = np.zeros(_LATEST, dtype=np.int16)  # the last samples in

    @property
    def denoising(self) -> bool:
        return self._denoiser is not None

    @property
    def floor_db(self) -> float:
        """The room's level as it comes in: the median of its 30 ms levels over the last
        seconds of it heard between utterances."""
        return self._levels.median if len(self._levels) else -120.0

    @property
    def lag(self) -> int:
        """Samples that came in and have not gone out yet."""
        return self._lag

    def start(self, room: Samples) -> None:
        """Denoise from now on, the network having heard room (what came in last) first.

        Only once all that came in has gone out: nothing would say where the rest goes.
        """
        if self._denoiser is not None or self._lag:
            return
        self._denoiser = Denoiser(self._path)
        self._out = len(self._denoiser.process(np.asarray(room, dtype=np.int16)))
        self._first_new = len(room) + Denoiser.delay

    def stop(self) -> None:
        """Pass the stream on as it comes, from where the denoised one stands."""
        if self._denoiser is None:
            return
        self._owed = self._latest[len(self._latest) - self._lag :].copy()
        self._denoiser = None

    def process(self, samples: Samples) -> Samples:
        given = np.asarray(samples, dtype=np.int16)
        self._latest = np.concatenate([self._latest, given])[-_LATEST:]
        self._block = np.concatenate([self._block, given])
        whole = len(self._block) // _BLOCK * _BLOCK
        if self.between_utterances:
            for i in range(0, whole, _BLOCK):
                self._levels.add(level_db(self._block[i : i + _BLOCK]))
        self._block = self._block[whole:]
        if self._denoiser is None:
            out, self._owed = np.concatenate([self._owed, given]), self._owed[:0]
        else:
            denoised = self._denoiser.process(given)
            before, self._out = self._out, self._out + len(denoised)
            out = denoised[max(0, self._first_new - before) :]
        self._lag += len(given) - len(out)
        return out


def denoising_input() -> DenoisingInput | None:
    """A switchable denoiser for a stream, or None where RNNoise is not installed or will not
    load here."""
    path = library_path()
    if path is None:
        return None
    try:
        _load(path)
    except OSError:
        return None
    return DenoisingInput(path)
