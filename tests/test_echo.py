"""Echo cancellation: the assistant's own voice taken out of what the microphone hears."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from recorded import speech_corpus

from assistant.intents import Intent
from assistant.listening import Decision, Listener
from assistant.listening.echo import EchoCanceller, EchoSettings
from assistant.listening.engines import SAMPLE_RATE
from assistant.speech.audio import Audio, resample
from assistant.speech.worker import SpeechEvent
from assistant.voice_input import Heard, VoiceEvent, VoiceInput

CHUNK = 320
# The help for the contraindication questions: long, full of command words, and no pain phrase
# (the listener refuses a pain phrase the assistant is saying itself at that moment).
ANNOUNCEMENT = (
    "Answer yes or no. Say go back to change the last answer, repeat to hear the question "
    "again, or stop session."
)


@pytest.fixture(scope="module")
def corpus():
    return speech_corpus()


@pytest.fixture(scope="module")
def announcement(corpus) -> np.ndarray:
    """The assistant's voice (espeak-ng, as the product speaks), float 16 kHz."""
    voice = next(s for s in corpus.SPEAKERS if s.name == "espeak-us")
    return corpus.synthesize(ANNOUNCEMENT, voice).astype(np.float64)


def room_response(seed: int = 1, rt60: float = 0.3) -> np.ndarray:
    """A small room: the direct sound, a few reflections and a decaying diffuse tail."""
    rng = np.random.default_rng(seed)
    n = round(0.3 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    response = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.25
    response[0] = 1.0
    for _ in range(4):
        response[int(rng.integers(40, 400))] += float(rng.uniform(-0.6, 0.6))
    return response


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def heard_in_room(
    played: np.ndarray,
    delays: tuple[float, ...],
    lead: float = 0.5,
    gap: float = 1.0,
    level_dbfs: float = -22.0,
    rt60: float = 0.3,
    stall: tuple[int, float, float] | None = None,
) -> tuple[np.ndarray, list[float], list[tuple[int, int]]]:
    """The microphone's int16 signal as the loudspeaker says played once per delay, through
    the room, with faint noise; when each was announced to start (s) and where its echo lies.

    stall: (sentence, at, seconds): the loudspeaker runs dry that long, that far into it.
    """
    response = room_response(rt60=rt60)
    echo = np.convolve(played, response)
    gain = 10 ** (level_dbfs / 20) / _rms(echo)
    echoes = [echo * gain] * len(delays)
    if stall is not None:
        sentence, at, seconds = stall
        cut = round(at * SAMPLE_RATE)
        stalled = np.concatenate(
            [played[:cut], np.zeros(round(seconds * SAMPLE_RATE)), played[cut:]]
        )
        echoes[sentence] = np.convolve(stalled, response) * gain
    starts = [lead + i * (len(played) / SAMPLE_RATE + gap) for i in range(len(delays))]
    spans = [
        (round((s + d) * SAMPLE_RATE), round((s + d) * SAMPLE_RATE) + len(e))
        for s, d, e in zip(starts, delays, echoes, strict=True)
    ]
    mic = np.zeros(max(last for _, last in spans) + SAMPLE_RATE)
    for (first, last), sounded in zip(spans, echoes, strict=True):
        mic[first:last] += sounded
    mic += np.random.default_rng(2).standard_normal(len(mic)) * 10 ** (-65 / 20)
    return np.round(mic * 32767).astype(np.int16), starts, spans


def cancel(canceller: EchoCanceller, mic: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [canceller.process(mic[i : i + CHUNK]) for i in range(0, len(mic), CHUNK)]
    )


def erle_db(before: np.ndarray, after: np.ndarray) -> float:
    """Echo return loss enhancement: how much quieter the echo is after the canceller."""
    b, a = before.astype(np.float64), after.astype(np.float64)
    return float(10 * np.log10((b @ b) / max(a @ a, 1.0)))


def erle_of(mic: np.ndarray, out: np.ndarray, span: tuple[int, int], skip: float = 0.0) -> float:
    first, last = span
    first += round(skip * SAMPLE_RATE)
    return erle_db(mic[first:last], out[first:last])


def test_a_spoken_echo_through_a_room_is_taken_out(announcement: np.ndarray) -> None:
    """The same announcement twice: the first time the canceller learns the room from nothing."""
    mic, starts, spans = heard_in_room(announcement, (0.05, 0.05))
    # Measured 2026-11-29 (whole first time, first time after 1.4 s, whole second time):
    # 8.9, 21.4 and 50.6 dB; the adaptive filter alone, without the residual turned down,
    # 8.8, 19.7 and 35.2 dB.
    for settings, cold, settling, learned in (
        (EchoSettings(), 6.0, 15.0, 40.0),
        (EchoSettings(residual_floor=1.0), 6.0, 14.0, 28.0),
    ):
        canceller = EchoCanceller(settings)
        for start in starts:
            canceller.add_reference(announcement, start)
        out = cancel(canceller, mic)
        assert erle_of(mic, out, spans[0]) >= cold
        assert erle_of(mic, out, spans[0], skip=1.4) >= settling
        assert erle_of(mic, out, spans[1]) >= learned


def test_the_canceller_tells_how_much_of_the_voice_it_leaves(announcement: np.ndarray) -> None:
    """Unknown while it learns the room or places a sentence; then far below the echo, and
    nothing where none sounds."""
    mic, starts, spans = heard_in_room(announcement, (0.05, 0.05))
    canceller = EchoCanceller()
    for start in starts:
        canceller.add_reference(announcement, start)
    residues: list[float | None] = []
    for i in range(0, len(mic), CHUNK):
        canceller.process(mic[i : i + CHUNK])
        residues.append(canceller.residue)
    assert residues[0] == 0.0  # nothing sounds yet
    (first, _), (second, last) = spans
    assert residues[first // CHUNK + 1] is None  # the room not learned yet
    assert residues[second // CHUNK + 2] is None  # the sentence not placed yet
    # Placed within a second (test_the_canceller_tells_while_a_sentence_sounds_...).
    placed = second + SAMPLE_RATE
    echo = mic[placed:last] / 32768.0
    left = residues[placed // CHUNK : last // CHUNK]
    assert all(r is not None for r in left)
    # The second time through, about what the filter leaves: well below the echo, not nothing.
    mean_left = float(np.mean([r for r in left if r is not None]))
    assert 0.0 < mean_left < float(np.mean(echo**2)) / 100
    assert residues[-1] == 0.0  # all said


def test_without_a_sounding_reference_the_input_passes_unchanged(announcement: np.ndarray) -> None:
    mic, _starts, ((first, last),) = heard_in_room(announcement, (0.05,), lead=1.0)
    canceller = EchoCanceller()
    quiet = np.random.default_rng(5).normal(0, 300, 3 * SAMPLE_RATE).astype(np.int16)
    # Odd chunk sizes: blocks and chunks do not line up.
    before = [canceller.process(quiet[i : i + 333]) for i in range(0, len(quiet), 333)]
    assert np.array_equal(np.concatenate(before), quiet)
    canceller.add_reference(announcement, canceller.stream_time + 1.0)
    out = cancel(canceller, mic)
    settings = EchoSettings()
    lead = round(1.0 * SAMPLE_RATE) - settings.block - settings.pre_delay  # before its block
    assert np.array_equal(out[:lead], mic[:lead])
    assert erle_db(mic[first:last], out[first:last]) > 3.0
    # Past the echo's reach the canceller is out of the way again, to the last bit.
    after = np.random.default_rng(6).normal(0, 300, 2 * SAMPLE_RATE).astype(np.int16)
    assert np.array_equal(cancel(canceller, after), after)


@pytest.mark.parametrize("delays", [(0.05, -0.06), (0.05, 0.12), (0.05, 0.2), (0.35, 0.35)])
def test_the_delay_of_the_loudspeaker_is_found_for_each_utterance(
    announcement: np.ndarray, delays: tuple[float, float]
) -> None:
    """Sounding earlier or later than announced, and changing between utterances (device
    buffers); 0.35 s is beyond what the filter itself spans."""
    mic, starts, spans = heard_in_room(announcement, delays)
    canceller = EchoCanceller()
    for start in starts:
        canceller.add_reference(announcement, start)
    out = cancel(canceller, mic)
    assert np.allclose(canceller.delay_estimates, delays, atol=0.002)
    # Measured 2026-11-29: 41 to 50 dB.
    assert erle_of(mic, out, spans[1], skip=1.4) >= 35.0


def test_a_delay_that_moves_a_little_between_sentences_is_found_within_the_sentence(
    announcement: np.ndarray,
) -> None:
    """A device's buffering varies by a millisecond or two from one sentence to the next: in a
    bare room a quarter second of speech seldom makes a clear peak, and until the new delay is
    found, what the filter subtracts is off."""
    delays = (0.05, 0.05, 0.0515, 0.0485)
    mic, starts, spans = heard_in_room(announcement, delays, rt60=0.6)
    canceller = EchoCanceller()
    for start in starts:
        canceller.add_reference(announcement, start)
    out = cancel(canceller, mic)
    assert np.allclose(canceller.delay_estimates, delays, atol=0.0002)
    # Measured 2026-12-02, one second in: 31.4 and 32.4 dB; 9.1 and 9.6 dB before two looks in
    # a row could agree on it (it took a whole second of speech to find).
    for span in spans[2:]:
        assert erle_of(mic, out, span, skip=1.0) >= 25.0


def test_the_echo_is_found_again_after_the_loudspeaker_ran_dry(announcement: np.ndarray) -> None:
    """A busy machine may starve the loudspeaker: it plays silence for a moment and the rest of
    the sentence later, far beyond the delay followed. Found again within the sentence, and the
    next sentence, announced as it sounds, is placed at the usual delay."""
    delays = (0.05, 0.05, 0.05)
    for seconds in (0.3, 0.67):
        mic, starts, spans = heard_in_room(announcement, delays, gap=3.0, stall=(1, 2.0, seconds))
        canceller = EchoCanceller()
        for start in starts:
            canceller.add_reference(announcement, start)
        out = cancel(canceller, mic)
        first, last = spans[1]
        # Measured 2026-12-06, from 3 s after the stall to the end: 42.6 and 28.2 dB, and the next
        # sentence 50.2 and 49.4 dB; before the delay was looked for further when lost, 0.0 dB
        # (nothing taken out) and 15.5 and 15.8 dB (learned afresh).
        recovered = (first + round((2.0 + seconds + 3.0) * SAMPLE_RATE), last)
        assert erle_of(mic, out, recovered) >= 20.0
        assert np.allclose(canceller.delay_estimates, delays, atol=0.002)
        assert erle_of(mic, out, spans[2], skip=1.0) >= 25.0
        assert canceller.delay == pytest.approx(0.05, abs=0.002)


def test_the_canceller_tells_while_a_sentence_sounds_that_it_has_not_placed_yet(
    announcement: np.ndarray,
) -> None:
    mic, starts, spans = heard_in_room(announcement, (0.05, 0.052))
    canceller = EchoCanceller()
    for start in starts:
        canceller.add_reference(announcement, start)
    settling = []
    for i in range(0, len(mic), CHUNK):
        canceller.process(mic[i : i + CHUNK])
        settling.append(canceller.settling)
    assert not settling[round(0.3 * SAMPLE_RATE) // CHUNK]  # nothing sounds yet
    # The first delay is searched for over the whole range; the next one near it, sooner.
    for (first, _last), found_within in zip(spans, (2.0, 1.0), strict=True):
        assert settling[first // CHUNK + 2]
        assert not settling[(first + round(found_within * SAMPLE_RATE)) // CHUNK]
    assert not settling[-1]  # all said


class RoomMicrophone:
    """A microphone in the room: yields its signal in 20 ms chunks, and reports to the voice
    input, at the moments the loudspeaker starts and stops, what it plays (as the speech worker
    does)."""

    def __init__(
        self, mic: np.ndarray, played: Audio, starts: Sequence[float], text: str = ANNOUNCEMENT
    ) -> None:
        self.mic = mic
        self.played = played
        self.text = text
        self.untold = sorted(
            [(start, "started") for start in starts]
            + [(start + played.duration, "finished") for start in starts]
        )
        self.voice: VoiceInput | None = None

    def describe(self) -> str:
        return "a simulated room"

    def chunks(self) -> Iterator[np.ndarray]:
        for i in range(0, len(self.mic), CHUNK):
            while self.untold and i >= self.untold[0][0] * SAMPLE_RATE and self.voice:
                start, kind = self.untold.pop(0)
                listener = self.voice.listener
                now = time.monotonic()
                at = now - listener.to_stream_time(now) + start
                self.voice.on_speech(
                    SpeechEvent(
                        kind,
                        1,
                        self.text,
                        at,
                        duration=self.played.duration,
                        audio=self.played if kind == "started" else None,
                        output_latency=0.0,
                    )
                )
            yield self.mic[i : i + CHUNK]

    def close(self) -> None:
        pass


def _decisions(
    mic: np.ndarray,
    played: Audio,
    starts: Sequence[float],
    echo: bool,
    text: str = ANNOUNCEMENT,
) -> list[Decision]:
    source = RoomMicrophone(mic, played, starts, text)
    events: list[VoiceEvent] = []
    done = threading.Event()

    def post(event: VoiceEvent) -> None:
        events.append(event)
        if not isinstance(event, Heard):
            done.set()

    voice = VoiceInput(source, Listener(), post, echo=EchoCanceller() if echo else None)
    source.voice = voice
    voice.start()
    assert done.wait(120)
    voice.stop()
    return [e.decision for e in events if isinstance(e, Heard)]


def test_pain_over_the_assistants_loud_voice_is_heard_only_with_the_echo_taken_out(
    corpus, announcement: np.ndarray
) -> None:
    """The therapist says "patient is in pain" in the middle of the help, as loud as its echo."""
    mic, _starts, ((first, _last),) = heard_in_room(announcement, (0.04,), lead=1.0)
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    pain = corpus.synthesize("patient is in pain", therapist).astype(np.float64)
    pain *= 10 ** (-22 / 20) / _rms(pain)
    at = first + round(2.5 * SAMPLE_RATE)
    mixed = mic.astype(np.float64)
    mixed[at : at + len(pain)] += pain * 32767
    mixed = np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
    # The device plays at its own rate: the voice input brings it to the microphone's.
    played = resample(Audio(announcement.astype(np.float32), SAMPLE_RATE), 22050)
    with_canceller = _decisions(mixed, played, [1.0], echo=True)
    assert [d.command for d in with_canceller if d.accepted] == [Intent.PAIN]
    (heard,) = [d for d in with_canceller if d.accepted]
    assert abs(heard.start - at / SAMPLE_RATE) < 0.5
    without = _decisions(mixed, played, [1.0], echo=False)
    assert not [d for d in without if d.command is Intent.PAIN]
    # Its own words alone are never obeyed, cancelled or not.
    for echo in (True, False):
        assert not [d for d in _decisions(mic, played, [1.0], echo) if d.accepted]


def test_pain_over_the_assistant_saying_it_is_heard_where_it_is_far_louder_than_the_echo_left(
    corpus,
) -> None:
    """The therapist says "patient in pain" just as the assistant's help says it: with the echo
    taken out the therapist's voice stands far above what is left of the assistant's, so it is
    obeyed; without, the listener cannot tell them apart and takes it for the assistant's."""
    text = (
        "Say resume to continue, how many left, or stop session. Patient in pain works at any time."
    )
    voice = next(s for s in corpus.SPEAKERS if s.name == "espeak-us")
    said = corpus.synthesize(text, voice).astype(np.float64)
    # Heard once before, so that the canceller has learned the room, as in a session.
    mic, starts, spans = heard_in_room(said, (0.04, 0.04), lead=1.0)
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    pain = corpus.synthesize("patient in pain", therapist).astype(np.float64)
    pain *= 10 ** (-22 / 20) / _rms(pain)
    # Where the second sentence says "Patient in pain", by its place among the letters.
    first, last = spans[1]
    at = first + round((last - first) * text.index("Patient") / len(text))
    mixed = mic.astype(np.float64)
    mixed[at : at + len(pain)] += pain * 32767
    mixed = np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
    played = resample(Audio(said.astype(np.float32), SAMPLE_RATE), 22050)

    def heard(mic: np.ndarray, echo: bool) -> list[Decision]:
        return _decisions(mic, played, starts, echo, text)

    with_canceller = heard(mixed, True)
    assert [d.command for d in with_canceller if d.accepted] == [Intent.PAIN]
    without = heard(mixed, False)
    assert not [d for d in without if d.accepted]
    # Its own words alone are never obeyed, cancelled or not.
    for echo in (True, False):
        assert not [d for d in heard(mic, echo) if d.accepted]
