"""Turning down held tones (assistant/listening/tones.py): pure numpy, no engines."""

from __future__ import annotations

import numpy as np
import pytest
from recorded import speech_corpus

from assistant.listening.tones import ToneSettings, suppress_held_tones, tonal_share

RATE = 16000


def _db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-12))


def _chord(seconds: float, root: float = 220.0, level: float = 3000.0) -> np.ndarray:
    """A held major chord with a few harmonics, as an organ or a synthesiser pad plays it."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(
        weight * np.sin(2 * np.pi * root * ratio * harmonic * t)
        for ratio in (1.0, 1.26, 1.5)
        for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25))
    )
    return np.round(tone / np.sqrt(np.mean(tone**2)) * level).astype(np.int16)


@pytest.fixture(scope="module")
def corpus():
    return speech_corpus()


def test_a_held_chord_is_turned_down_and_a_voice_alone_hardly_at_all(corpus) -> None:
    chord = _chord(2.0)
    quieted = suppress_held_tones(chord[RATE:], before=chord[:RATE])
    assert len(quieted) == RATE and quieted.dtype == np.int16
    assert _db(chord[RATE:]) - _db(quieted) > 12
    # A voice's harmonics follow its pitch: little of a sentence holds long enough to count.
    for speaker in corpus.SPEAKERS:
        voice = corpus.synthesize("How are you feeling today?", speaker)
        voice = np.round(voice * 8000).astype(np.int16)
        assert _db(voice) - _db(suppress_held_tones(voice)) < 1.5, speaker.name


def test_the_voice_over_a_chord_comes_through(corpus) -> None:
    """What is left after the chord is turned down is the voice, not a hollowed copy of it."""
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    speech = np.round(corpus.synthesize("pause please", speaker) * 8000).astype(np.int16)
    chord = _chord(2.0 + len(speech) / RATE, level=2500)
    at = RATE + RATE // 2
    mixed = chord.astype(np.float64)
    mixed[at : at + len(speech)] += speech
    mixed = np.round(mixed).astype(np.int16)
    quieted = suppress_held_tones(mixed[RATE:], before=mixed[:RATE])
    voice = slice(at - RATE, at - RATE + len(speech))
    error_before = mixed[RATE:][voice].astype(np.float64) - speech
    error_after = quieted[voice].astype(np.float64) - speech
    # The error against the voice alone falls by more than half (in power), and the voice keeps
    # its strength.
    assert _db(error_after) < _db(error_before) - 3
    assert abs(_db(quieted[voice]) - _db(speech)) < 2


def test_only_a_room_playing_music_counts_as_held_tones(corpus) -> None:
    settings = ToneSettings()
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    speech = corpus.synthesize("How are you feeling today?", speaker)
    shares = {}
    for condition in ("clean", "pink_20db", "pink_10db", "music_10db", "reverb"):
        # The room's sound in the second before the speech of a benchmark clip.
        clip, start, _ = corpus.place(speech, condition, seed=7, lead=1.0)
        shares[condition] = tonal_share(clip[: int(start * RATE)], settings)
    assert shares["music_10db"] >= settings.music_share, shares
    for condition in ("clean", "pink_20db", "pink_10db", "reverb"):
        assert shares[condition] < settings.music_share / 2, shares
    assert tonal_share(_chord(1.0, root=100.0)) >= settings.music_share  # a hum
    voice = np.round(speech * 8000).astype(np.int16)
    assert tonal_share(voice) < settings.music_share / 2
    assert tonal_share(np.zeros(RATE, np.int16)) == 0.0
    assert tonal_share(np.zeros(100, np.int16)) == 0.0
