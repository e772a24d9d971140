"""The segmenter's running median: the same floor as numpy's median over the same window."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from assistant.listening.segmenter import RunningMedian


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_the_running_median_is_numpys_median_of_the_last_values(size: int) -> None:
    rng = np.random.default_rng(size)
    median, window = RunningMedian(size), deque(maxlen=size)
    # Levels repeat (a silent stretch is -120 dB frame after frame), so ties are common.
    values = np.where(rng.random(2000) < 0.2, -120.0, np.round(rng.normal(-40, 10, 2000), 1))
    for value in values.tolist():
        median.add(value)
        window.append(value)
        assert len(median) == len(window)
        assert median.median == float(np.median(window))
