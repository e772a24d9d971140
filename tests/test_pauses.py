"""Finding the pause before a last phrase inside one utterance."""

from __future__ import annotations

import numpy as np

from assistant.listening.pauses import pauses_before_a_last_phrase

RATE = 16000


def _words(seconds: float, seed: int) -> np.ndarray:
    """Speech-like sound: noise with a syllable rhythm, about -20 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    rhythm = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return rng.standard_normal(len(t)) * rhythm * 3000


def _echo_filled_pause(seconds: float, level: float) -> np.ndarray:
    """What a room leaves of a pause: the voice's echo decaying from level."""
    n = round(seconds * RATE)
    decay = np.exp(-np.arange(n) / (0.05 * RATE))
    return np.random.default_rng(9).standard_normal(n) * level * decay + 30.0


def _find(samples: np.ndarray, at_most: int = 2) -> list[int]:
    return pauses_before_a_last_phrase(
        samples, shortest=0.3, longest=1.6, depth_db=15.0, at_most=at_most, first_words=0.5
    )


def test_the_pause_between_two_phrases_is_found_where_the_echo_has_died_down() -> None:
    first, pause, last = _words(0.7, 1), _echo_filled_pause(0.25, 3000), _words(0.9, 2)
    (offset,) = _find(np.concatenate([first, pause, last]))
    # Just before the last phrase begins: what is decoded from there holds all of it.
    ends = len(first) + len(pause)
    assert ends - 0.05 * RATE <= offset <= ends


def test_no_pause_is_found_in_unbroken_speech_nor_before_more_than_a_phrase() -> None:
    assert _find(_words(2.0, 3)) == []
    # A closure inside a word (the "p" of "any pain") is quiet too, but not for long enough.
    closure = np.full(round(0.08 * RATE), 30.0)
    assert _find(np.concatenate([_words(1.0, 8), closure, _words(0.5, 9)])) == []
    first, pause = _words(1.2, 4), _echo_filled_pause(0.25, 3000)
    assert _find(np.concatenate([first, pause, _words(1.8, 5)])) == []  # longer than any phrase
    # Too soon after the start: half a second of sound at least lies before a pause.
    assert _find(np.concatenate([_words(0.2, 6), pause, _words(0.9, 7)])) == []
