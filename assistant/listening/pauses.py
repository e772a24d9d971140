"""Where, inside one utterance, a short pause may part a last phrase from the words before it."""

from __future__ import annotations

import numpy as np

from assistant.listening.engines import SAMPLE_RATE

_HOP = SAMPLE_RATE // 100  # 10 ms


def pauses_before_a_last_phrase(
    samples: np.ndarray,
    shortest: float,
    longest: float,
    depth_db: float,
    at_most: int,
    first_words: float = 0.2,
    pause: float = 0.12,
) -> list[int]:
    """Sample offsets where a last phrase could begin after a pause, the longest pause first.

    A pause is at least `pause` seconds of sound depth_db below the utterance's loud frames. A
    room's echo fills a short pause between two phrases, so that the segmenter hears one
    utterance, but what is left of it is still quiet for a while; the closure before a "p" or
    a "t" inside a word is quiet for less. The offset is where the pause ends, less 30 ms; what
    follows it lasts from shortest to longest seconds, and at least first_words seconds of
    sound lie before it.
    """
    data = np.asarray(samples, dtype=np.float64)
    frames = len(data) // _HOP
    if frames < 3:
        return []
    power = np.mean(data[: frames * _HOP].reshape(frames, _HOP) ** 2, axis=1)
    level = 10 * np.log10(power + 1.0)
    quiet = level <= float(np.percentile(level, 90)) - depth_db
    lo = max(round(first_words * 100), frames - round(longest * 100))
    hi = frames - round(shortest * 100)
    runs: list[tuple[int, int]] = []  # (length, frame where what follows begins)
    run = 0
    for frame in range(frames):
        if quiet[frame]:
            run += 1
            continue
        begins = max(0, frame - 3)
        if run >= round(pause * 100) and lo <= begins < hi:
            runs.append((run, begins))
        run = 0
    runs.sort(reverse=True)
    return [begins * _HOP for _, begins in runs[:at_most]]
