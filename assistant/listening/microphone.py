"""The microphone as a 16 kHz mono int16 source, and a check that it hears anything at all."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.listening.engines import SAMPLE_RATE
from assistant.listening.segmenter import level_db


class InputLost(Exception):
    """The audio input stopped delivering sound; str() says what happened."""


@dataclass
class LevelCheck:
    """Says "I can't hear the microphone" when the level stays below floor_db for seconds."""

    floor_db: float = -70.0
    seconds: float = 5.0
    _quiet_for: float = 0.0
    _warned: bool = False

    def update(self, chunk: np.ndarray) -> str | None:
        """Feed int16 samples; returns a warning once when the microphone seems dead."""
        if level_db(chunk) < self.floor_db:
            self._quiet_for += len(chunk) / SAMPLE_RATE
        else:
            self._quiet_for = 0.0
            self._warned = False
        if self._quiet_for >= self.seconds and not self._warned:
            self._warned = True
            return (
                f"I can't hear the microphone: its level stayed below {self.floor_db:.0f} dB "
                f"for {self.seconds:.0f} seconds. Check that it is connected and not muted."
            )
        return None


def _input_device(device: int | str | None) -> int | str | None:
    """A device number given as text becomes an index; names and None pass through."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device)
    return device


class Microphone:
    """A 16 kHz mono int16 InputStream whose chunks() stop with InputLost if the device goes.

    chunks() may be called again after InputLost: it reopens the device.
    """

    def __init__(
        self,
        device: int | str | None = None,
        chunk_seconds: float = 0.03,
        level_check: LevelCheck | None = None,
        on_warning: Callable[[str], None] | None = None,
        lost_after_seconds: float = 2.0,
    ) -> None:
        self.device = _input_device(device)
        self.blocksize = int(chunk_seconds * SAMPLE_RATE)
        self.level_check = level_check or LevelCheck()
        self.on_warning = on_warning
        self.lost_after_seconds = lost_after_seconds
        self.overflows = 0
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=500)
        self._stream: Any = None
        self._closed = False

    def describe(self) -> str:
        import sounddevice

        try:
            info = sounddevice.query_devices(self.device, "input")
        except (ValueError, sounddevice.PortAudioError) as error:
            raise InputLost(f"no microphone {self.device!r}: {error}") from None
        return str(info["name"])

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status and status.input_overflow:
            self.overflows += 1
        chunk = indata[:, 0].copy()
        warning = self.level_check.update(chunk)
        if warning and self.on_warning:
            self.on_warning(warning)
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            self.overflows += 1

    def open(self) -> None:
        """Open and start the input stream; raises InputLost with the reason if it cannot."""
        try:
            import sounddevice
        except OSError:
            raise InputLost(
                "PortAudio is not installed: sudo apt-get install libportaudio2"
            ) from None
        self.close_stream()
        try:
            self._stream = sounddevice.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=self.blocksize,
                device=self.device,
                callback=self._callback,
            )
            self._stream.start()
        except (ValueError, sounddevice.PortAudioError) as error:
            self._stream = None
            raise InputLost(f"cannot open the microphone ({error})") from None

    def close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # a vanished device may fail to close; nothing to keep
                pass

    def close(self) -> None:
        self._closed = True
        self.close_stream()

    def chunks(self) -> Iterator[np.ndarray]:
        """Recorded chunks until close(); raises InputLost when the device stops delivering."""
        if self._stream is None:
            self.open()
        last = time.monotonic()
        while not self._closed:
            try:
                chunk = self._queue.get(timeout=0.25)
            except queue.Empty:
                stream = self._stream
                silent_for = time.monotonic() - last
                if stream is None or not stream.active or silent_for > self.lost_after_seconds:
                    self.close_stream()
                    raise InputLost(
                        f"the microphone stopped sending sound ({silent_for:.1f} s without audio)"
                    ) from None
                continue
            last = time.monotonic()
            yield chunk
