"""The private PulseAudio server for the audio tests, and what they measure in recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.speech.audio import read_wav, sound_span
from assistant.speech.private_pulse import PrivatePulseAudio, PulseAudioError, missing_tools

# Frame RMS above this counts as sound; espeak-ng speech sits around 0.05..0.1 and a null
# sink records exact zeros when nothing plays.
SOUND_THRESHOLD = 0.005


def start_private_pulse_or_skip() -> PrivatePulseAudio:
    """A running, activated private server, or a skipped test saying what is missing."""
    missing = missing_tools()
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed (sudo apt-get install pulseaudio pulseaudio-utils)"
        )
    server = PrivatePulseAudio()
    try:
        server.start()
        server.activate()
    except PulseAudioError as error:
        server.stop()
        pytest.skip(f"private PulseAudio server unavailable: {error}")
    return server


def recorded_sound(path: Path) -> tuple[float, float] | None:
    """(start, end) seconds of the sound in a recording, None if it is silent."""
    return sound_span(read_wav(path), SOUND_THRESHOLD)
