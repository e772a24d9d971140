from __future__ import annotations

from collections.abc import Iterator

import pytest
from pulse import start_private_pulse_or_skip

from assistant.speech.private_pulse import PrivatePulseAudio


@pytest.fixture(scope="session")
def pulse_audio() -> Iterator[PrivatePulseAudio]:
    """A private PulseAudio server (speaker "spk", microphone "mic") for this test session."""
    server = start_private_pulse_or_skip()
    try:
        yield server
    finally:
        server.stop()
