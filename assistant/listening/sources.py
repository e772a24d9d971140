"""Recordings as audio sources: a sound file delivered in chunks, at recording pace if wanted."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import numpy as np

from assistant.listening.engines import SAMPLE_RATE
from assistant.listening.listener import read_audio


class FileSource:
    """A sound file as 16 kHz int16 chunks; realtime=True paces them as a microphone would."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        realtime: bool = True,
        chunk_seconds: float = 0.02,
    ) -> None:
        self.path = path
        self.samples = read_audio(path)
        self.realtime = realtime
        self.step = max(1, int(chunk_seconds * SAMPLE_RATE))
        self._closed = threading.Event()

    def describe(self) -> str:
        return f"recording {os.fspath(self.path)} ({len(self.samples) / SAMPLE_RATE:.1f} s)"

    def close(self) -> None:
        self._closed.set()

    def chunks(self) -> Iterator[np.ndarray]:
        origin = time.monotonic()
        for offset in range(0, len(self.samples), self.step):
            if self._closed.is_set():
                return
            if self.realtime:
                due = origin + (offset + self.step) / SAMPLE_RATE
                if self._closed.wait(max(0.0, due - time.monotonic())):
                    return
            yield self.samples[offset : offset + self.step]
