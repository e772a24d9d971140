"""RNNoise in front of the listener: the real library, generated speech and noise; no mocks."""

from __future__ import annotations

import numpy as np
import pytest
from recorded import speech_corpus

from assistant.intents import Intent
from assistant.listening import Decision, Listener, ListenerSettings
from assistant.listening.denoise import Denoiser, DenoisingInput, denoising_input, library_path
from assistant.listening.segmenter import level_db
from assistant.vocabulary import load_vocabulary

RATE = 16000
CHUNK = 333  # not a whole number of RNNoise's frames, as a sound card's chunks need not be


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A therapist's "patient in pain", as int16."""
    corpus = speech_corpus()
    voice = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    said = corpus.voiced(corpus.synthesize("patient in pain", voice))
    return np.round(said * 32767 * 0.5).astype(np.int16)


def _noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * level


def _chunked(process, signal: np.ndarray) -> np.ndarray:
    return np.concatenate([process(signal[i : i + CHUNK]) for i in range(0, len(signal), CHUNK)])


def test_rnnoise_is_installed_with_the_package() -> None:
    assert library_path() is not None
    assert denoising_input() is not None


def test_the_denoiser_keeps_speech_in_place_and_turns_noise_down(speech: np.ndarray) -> None:
    room, after = _noise(2.0, 600), _noise(1.0, 600, seed=1)
    clean = np.concatenate([np.zeros(len(room)), speech, np.zeros(len(after))])
    noisy = clean + np.concatenate([room, _noise(len(speech) / RATE, 600, seed=2), after])
    heard = _chunked(Denoiser(library_path()).process, noisy.astype(np.int16)).astype(float)
    assert len(noisy) - len(heard) < 160  # what waits inside is less than one 10 ms frame
    shifts = range(0, 800)
    fit = [np.dot(heard[k:], clean[: len(heard) - k]) for k in shifts]
    assert int(np.argmax(fit)) == Denoiser.delay
    aligned = heard[Denoiser.delay :]
    speech_part = slice(len(room), len(room) + len(speech))
    assert abs(level_db(aligned[speech_part]) - level_db(speech)) < 3.0
    noise_part = slice(len(room) + len(speech) + RATE // 4, len(aligned))
    assert level_db(aligned[noise_part]) < level_db(noisy[noise_part]) - 15.0


def test_switching_the_denoiser_on_and_off_loses_and_repeats_no_sample(
    speech: np.ndarray,
) -> None:
    said = np.concatenate([np.zeros(RATE // 2), speech, np.zeros(RATE // 2)])
    stream = (np.tile(said, 3) + _noise(3 * len(said) / RATE, 300)).astype(np.int16)
    source = DenoisingInput(library_path())  # type: ignore[arg-type]
    pieces, on_at, off_at = [], 40, 130
    for k, i in enumerate(range(0, len(stream), CHUNK)):
        if k == on_at:
            source.start(stream[i - RATE : i])
        if k == off_at:
            source.stop()
        pieces.append(source.process(stream[i : i + CHUNK]))
        assert source.denoising is (on_at <= k < off_at)
        assert source.lag == min(i + CHUNK, len(stream)) - sum(len(p) for p in pieces)
    heard = np.concatenate(pieces)
    assert len(heard) == len(stream) and source.lag == 0
    on, off = on_at * CHUNK, off_at * CHUNK
    assert np.array_equal(heard[:on], stream[:on])
    assert np.array_equal(heard[off + 2 * CHUNK :], stream[off + 2 * CHUNK :])
    # The denoised stretch lines up with what came in: no sample was lost or repeated there.
    part = slice(on + RATE // 4, off - RATE // 4)

    def fit(shift: int) -> float:
        a, b = heard[part].astype(float), np.roll(stream, shift)[part].astype(float)
        return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))

    assert fit(0) > 0.9 and fit(0) > max(fit(-3), fit(3)) + 0.05


def _heard(listener: Listener, audio: np.ndarray) -> tuple[list[Decision], bool]:
    """What the listener decided on audio, and whether it was denoising as the audio ended."""
    decisions = [d for i in range(0, len(audio), 320) for d in listener.feed(audio[i : i + 320])]
    denoising = listener._input is not None and listener._input.denoising
    return decisions + listener.flush(), denoising


def _commands(decisions: list[Decision]) -> list[Intent]:
    return [d.command for d in decisions if d.command is not None]


def test_a_noisy_room_is_heard_through_rnnoise_and_a_quiet_one_as_it_is() -> None:
    """Once an utterance has shown how little speech stands above the room (music at 10 dB), the
    listener hears the stream through RNNoise. These commands it then hears; heard as the room
    is, each is missed (bench_asr: music at 10 dB). A quiet room it hears as it is."""
    corpus = speech_corpus()
    vocabulary = load_vocabulary()
    as_it_is = ListenerSettings(denoise_below_db=0)
    voice = [s for s in corpus.SPEAKERS if s.name == "hibari"]
    first = {Intent.STATUS: ("where are we",)}
    said = {
        Intent.NEXT: ("okay next",),
        Intent.REPEAT: ("repeat",),
        Intent.HELP: ("what can I say",),
        Intent.LOUDER: ("speak up",),
    }
    room = next(corpus.command_clips(voice, ["music_10db"], first, lead=3.0))
    for clip in corpus.command_clips(voice, ["music_10db"], said, lead=1.0):
        audio = np.concatenate([room.audio, clip.audio])
        plain, _ = _heard(Listener(vocabulary, settings=as_it_is), audio)
        assert _commands(plain) == [Intent.STATUS], (clip.name, plain)
        listener = Listener(vocabulary)
        denoised, denoising = _heard(listener, audio)
        assert denoising and _commands(denoised) == [Intent.STATUS, clip.intent], clip.name
        # Timed by the stream as it came in, which the denoised one lags.
        command = denoised[-1]
        waited = command.emitted_at - command.end
        assert waited >= listener.settings.quiet_after + Denoiser.delay / RATE - 1e-6
    quiet = next(corpus.command_clips(voice, ["clean"], first, lead=3.0))
    for clip in corpus.command_clips(voice, ["clean"], said, lead=1.0):
        audio = np.concatenate([quiet.audio, clip.audio])
        plain, _ = _heard(Listener(vocabulary, settings=as_it_is), audio)
        heard, denoising = _heard(Listener(vocabulary), audio)
        assert not denoising and heard == plain, clip.name
