"""Playing Audio on a sound device with start/end times and a fast stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from assistant.speech.audio import Audio, resample

StartCallback = Callable[[float], None]
"""Called with the time.monotonic() at which the first block was handed to the device."""

EndCallback = Callable[[float, bool], None]
"""Called with (time.monotonic() estimate of the last sound leaving the device, completed)."""

_log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 22050
DEFAULT_BLOCKSIZE = 256
# Callbacks still arriving this long after the first one mean the device consumes audio
# (the initial burst of callbacks only fills its buffer).
_READY_AFTER = 0.05


class OutputUnavailable(Exception):
    """No usable audio output; str() is one line that says the fix."""


class AudioOutput(Protocol):
    """What the speech worker needs from a player: SoundDevicePlayer or WavTimelineSink."""

    def play(
        self,
        audio: Audio,
        on_start: StartCallback | None = None,
        on_end: EndCallback | None = None,
    ) -> None: ...

    def stop(self) -> None: ...

    @property
    def is_playing(self) -> bool: ...

    def close(self) -> None: ...


@dataclass
class _Playback:
    samples: np.ndarray
    on_start: StartCallback | None
    on_end: EndCallback | None
    position: int = 0
    started: bool = False
    ended: bool = field(default=False)


def _import_sounddevice() -> Any:
    try:
        import sounddevice
    except OSError:
        raise OutputUnavailable(
            "PortAudio is not installed: sudo apt-get install libportaudio2"
        ) from None
    except ImportError:
        raise OutputUnavailable("sounddevice is not installed: pip install sounddevice") from None
    return sounddevice


_NO_DEVICE_FIX = (
    "start PulseAudio (pulseaudio --start) or connect speakers, "
    "or write the speech to a file with --speak-to FILE.wav"
)


def find_output_device(device: str | int | None) -> int:
    """PortAudio index of an output device given by (part of) its name or index; None = default."""
    sd = _import_sounddevice()
    try:
        info = sd.query_devices(device, kind="output")
    except sd.PortAudioError:
        raise OutputUnavailable(f"no audio output device found: {_NO_DEVICE_FIX}") from None
    except ValueError as error:
        names = [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]
        listed = ", ".join(repr(name) for name in names) or "none"
        raise OutputUnavailable(f"{error} (output devices here: {listed})") from None
    if int(info["max_output_channels"]) < 1:
        raise OutputUnavailable(f"audio device {info['name']!r} has no outputs")
    return int(info["index"])


def _guarded(callback: Callable[..., None], *args: object) -> None:
    # An exception escaping into the audio callback would abort the stream for good.
    try:
        callback(*args)
    except Exception:
        _log.exception("playback listener failed")


class SoundDevicePlayer:
    """Plays one Audio at a time through a PortAudio output stream that stays open.

    Keeping the stream running (silent when idle) means a new utterance reaches the device at
    the next block instead of after opening a stream, and stop() only has to wait for the next
    block. Callbacks run on the audio thread and must return quickly.
    """

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        blocksize: int = DEFAULT_BLOCKSIZE,
        latency: float | str = "low",
        ready_timeout: float = 3.0,
    ) -> None:
        self._sd = _import_sounddevice()
        self._device = find_output_device(device)
        self._lock = threading.Lock()
        self._current: _Playback | None = None
        self._pending: _Playback | None = None
        self._stop_requested = False
        self._closed = False
        self._first_callback_at: float | None = None
        self._ready = threading.Event()
        self._stream = self._open_stream(sample_rate, blocksize, latency)
        self.sample_rate = int(self._stream.samplerate)
        self.channels = int(self._stream.channels)
        self.output_latency = float(self._stream.latency)
        self.device_name = str(self._sd.query_devices(self._device)["name"])
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the device is pacing the stream, so the next play() starts promptly.

        PortAudio fills the device buffer right after the stream starts; some servers (e.g. a
        PulseAudio null sink) only begin consuming it up to seconds later.
        """
        return self._ready.wait(timeout)

    def _open_stream(self, sample_rate: int, blocksize: int, latency: float | str) -> Any:
        sd = self._sd
        info = sd.query_devices(self._device)
        # Devices without a sound server in front may only take their own rate or stereo.
        attempts = [(sample_rate, 1), (sample_rate, 2)]
        default_rate = int(info["default_samplerate"])
        if default_rate != sample_rate:
            attempts += [(default_rate, 1), (default_rate, 2)]
        last_error: Exception | None = None
        for rate, channels in attempts:
            if channels > int(info["max_output_channels"]):
                continue
            try:
                stream = sd.OutputStream(
                    device=self._device,
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=blocksize,
                    latency=latency,
                    callback=self._callback,
                    finished_callback=self._on_stream_finished,
                )
                stream.start()
                return stream
            except sd.PortAudioError as error:
                last_error = error
        raise OutputUnavailable(
            f"cannot open audio output {info['name']!r} ({last_error}): {_NO_DEVICE_FIX}"
        )

    @property
    def is_playing(self) -> bool:
        """True from play() until that audio has ended or been stopped."""
        with self._lock:
            return self._pending is not None or self._current is not None

    def play(
        self,
        audio: Audio,
        on_start: StartCallback | None = None,
        on_end: EndCallback | None = None,
    ) -> None:
        """Start playing `audio` at the next block, replacing whatever is playing; returns at once."""
        if self._closed:
            raise OutputUnavailable("the audio output is closed")
        if not self._stream.active:
            raise OutputUnavailable(f"the audio output {self.device_name!r} stopped working")
        samples = resample(audio, self.sample_rate).samples
        playback = _Playback(samples, on_start, on_end)
        with self._lock:
            dropped = self._pending
            self._pending = playback
            if self._current is not None:
                self._stop_requested = True
        if dropped is not None:
            self._finish(dropped, time.monotonic(), completed=False)

    def stop(self) -> None:
        """Silence the output from the next block (a few ms); on_end reports when."""
        with self._lock:
            dropped = self._pending
            self._pending = None
            if self._current is not None:
                self._stop_requested = True
            stream_alive = self._stream.active
            orphan = None
            if not stream_alive:
                # No callback will come to confirm, so end it here.
                orphan, self._current = self._current, None
        now = time.monotonic()
        if dropped is not None:
            self._finish(dropped, now, completed=False)
        if orphan is not None:
            self._finish(orphan, now, completed=False)

    def close(self) -> None:
        """Stop playback and release the device."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        self._stream.abort()
        self._stream.close()

    def __enter__(self) -> SoundDevicePlayer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @staticmethod
    def _finish(playback: _Playback, at: float, completed: bool) -> None:
        if playback.ended:
            return
        playback.ended = True
        if playback.on_end is not None:
            _guarded(playback.on_end, at, completed)

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        now = time.monotonic()
        if self._first_callback_at is None:
            self._first_callback_at = now
        elif now - self._first_callback_at >= _READY_AFTER:
            self._ready.set()
        ended: list[tuple[_Playback, float, bool]] = []
        started: _Playback | None = None
        with self._lock:
            if self._stop_requested:
                self._stop_requested = False
                if self._current is not None:
                    # Silence starts with this block, which the device plays after its buffer.
                    ended.append((self._current, now + self.output_latency, False))
                    self._current = None
            if self._current is None and self._pending is not None:
                self._current, self._pending = self._pending, None
            current = self._current
            if current is None:
                outdata.fill(0.0)
            else:
                chunk = current.samples[current.position : current.position + frames]
                count = len(chunk)
                outdata[:count] = chunk[:, np.newaxis]
                outdata[count:] = 0.0
                current.position += count
                if not current.started:
                    current.started = True
                    started = current
                if current.position >= len(current.samples):
                    ended_at = now + self.output_latency + count / self.sample_rate
                    ended.append((current, ended_at, True))
                    self._current = None
        if started is not None and started.on_start is not None:
            _guarded(started.on_start, now)
        for playback, at, completed in ended:
            self._finish(playback, at, completed)

    def _on_stream_finished(self) -> None:
        with self._lock:
            leftovers = [p for p in (self._current, self._pending) if p is not None]
            self._current = self._pending = None
        now = time.monotonic()
        for playback in leftovers:
            self._finish(playback, now, completed=False)
