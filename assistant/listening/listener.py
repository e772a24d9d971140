"""Turning a 16 kHz audio stream into one accept-or-reject decision per utterance."""

from __future__ import annotations

import dataclasses
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.intents import ANSWER_INTENTS, Intent, Listening
from assistant.listening.denoise import DenoisingInput, denoising_input
from assistant.listening.engines import (
    SAMPLE_RATE,
    Engine,
    EngineChoice,
    Hypothesis,
    choose_engine,
    create_engine,
)
from assistant.listening.pauses import pauses_before_a_last_phrase
from assistant.listening.segmenter import Segmenter, SegmenterSettings, SegmentEvent, level_db
from assistant.listening.tones import ToneSettings, suppress_held_tones, tonal_share
from assistant.vocabulary import (
    CommandVocabulary,
    edit_distance,
    load_background_words,
    load_vocabulary,
    normalize,
    starts_with_words,
)

TOO_LONG = "too long to be a command"
# Enough of the stream to join a split utterance: the longest command and a pause, with room.
_RECENT_SECONDS = 3.0


@dataclass(frozen=True)
class Decision:
    """The verdict on one utterance; times are seconds of stream time from the first sample."""

    command: Intent | None
    text: str
    start: float
    end: float
    emitted_at: float
    confidence: float
    reason: str | None = None  # why it was rejected; None when accepted

    @property
    def accepted(self) -> bool:
        return self.command is not None


@dataclass
class SpeakingInterval:
    """The assistant speaking text from start to end (stream time); end None while ongoing.

    duration, when known, is how long the whole text takes to say: it tells when each of its
    words sounds.
    """

    start: float
    end: float | None
    text: str
    duration: float | None = None

    def says_during(self, phrase: str, start: float, end: float, slack: float) -> bool:
        """Whether the assistant says the phrase's words, in a row, around start..end.

        Where each word falls is estimated from its place in the text; without a duration any
        occurrence counts.
        """
        words, target = normalize(self.text).split(), phrase.split()
        n = len(target)
        spans = [i for i in range(len(words) - n + 1) if words[i : i + n] == target]
        length = self.duration if self.duration is not None else None
        if length is None and self.end is not None:
            length = self.end - self.start
        if not spans or length is None:
            return bool(spans)
        total = max(1, len(" ".join(words)))
        for i in spans:
            said_from = self.start + length * len(" ".join(words[:i])) / total
            said_to = self.start + length * len(" ".join(words[: i + n])) / total
            if start < said_to + slack and end > said_from - slack:
                return True
        return False


@dataclass(frozen=True)
class _Finished:
    """An utterance decided already, as the next one needs it to be joined to it."""

    start: float
    end: float
    previous_end: float  # where the speech before it ended
    before: bytes  # the room as it began


@dataclass(frozen=True)
class _Joined:
    """The utterance that had the one before it joined to it, as it was alone."""

    start: float
    previous_end: float
    before: bytes
    offset: int = 0  # where its sound begins in the joined sound, in bytes


@dataclass(frozen=True)
class ListenerSettings:
    """Thresholds of the decision; the defaults come from benchmarks/bench_asr.py."""

    # Confidence is the engine's: for PocketSphinx 0.5 means as many phone errors as the phrase
    # has phones (see PocketSphinxEngine).
    min_confidence: float = 0.5
    pain_min_confidence: float = 0.4
    # A non-pain command during assistant speech must be this sure (above 1: never) and not an echo.
    barge_in_min_confidence: float = 0.75
    min_duration: float = 0.2
    # A command is a whole utterance: one that starts right after other speech, or that more
    # speech follows within quiet_after of its end, is a fragment of a sentence.
    min_pause_before: float = 0.3
    quiet_after: float = 0.4
    # Pain is obeyed as soon as its utterance ends: a moment sooner matters more than the rare
    # sentence that begins with a pain phrase.
    pain_quiet_after: float = 0.0
    max_duration: float = 1.4
    pain_max_duration: float = 1.6
    # Beyond the longest, a phrase may last this plus this much per letter (not for pain): a
    # sentence the grammar squeezed into "where are we" takes far longer than the phrase.
    phrase_base_seconds: float = 0.45
    phrase_seconds_per_letter: float = 0.09
    # Room echo and output buffering let the assistant's voice reach the microphone a bit late.
    echo_tail: float = 0.4
    # How far a word may sound from where its place in the sentence puts it (speech is uneven).
    echo_word_slack: float = 1.0
    # Pain in the very words the assistant says at about that time is still the therapist's
    # where it is this much louder than what the echo canceller leaves of the assistant's voice,
    # all of which had its delay found (bench_echo: pain over the help, which names it; on the
    # virtual devices what was left of the assistant's own voice came out up to 11.8 dB louder).
    pain_over_echo_db: float = 15.0
    # Decode the vocabulary's other_speech phrases too, so that a patient's "thank you" is heard
    # as itself instead of being forced into the nearest command (bench_asr: replies).
    other_speech_in_grammar: bool = True
    # A command the phone loop confirms this well stands against other words the decoding among
    # frequent words heard (bench_asr: a quiet room keeps its accuracy) ...
    free_text_overrules_below: float = 0.7
    # ... unless it heard more words than the phrase has, two of them not the phrase's
    # (bench_asr: "slowly now" heard as "slow down", "bit more" as "resume"; no command was
    # heard so), or, for a phrase that opens with room talk, the room talk without the rest
    # ("okay then" heard as "okay next"; one "okay next" of 30 was heard as "okay lead") ...
    free_text_may_overrule_sure_commands: bool = True
    # ... and below it, what would overrule a sure command overrules it too ("take a slow breath"
    # heard as itself and by the grammar as "take a note"), but nothing else where what it heard
    # is within this many phone edits per phone of the phrase: in noise it hears "hell" for
    # "help", "after" for "faster" (bench_asr).
    more_words_overrule_unsure_commands: bool = True
    # ... and so does the whole phrase heard followed by more words: a sentence that opens with
    # the command ("repeat that at home" heard as "repeat that home", "continue reading"), as the
    # therapist tells the patient. A phrase really said was heard so where the phone loop was
    # sure of it ("slower eight", "resume on"), and only twice where it was not (bench_asr:
    # "repeat is" in pink noise at 10 dB, "slower it" in reverb; 11 things said in passing were
    # taken for commands so).
    phrase_then_more_words_overrule_unsure_commands: bool = True
    # Words that are more than this many words apart from the phrase (each inserted, dropped or
    # changed word counts one) overrule it, however sure the phone loop is: "what time is it"
    # squeezed into "what can i say", "turn your palm up" into "take a note". Home Assistant's
    # speech-to-phrase rejects beyond a cost of 2 likewise (bench_asr: no command really said was
    # heard more than two words apart; two "hold on" in music were heard two apart).
    free_text_overrules_beyond_word_edits: int = 2
    free_text_sounds_alike_within: float = 0.5
    # Pain the phone loop agrees with less than this is overruled where the decoding as ordinary
    # speech heard other words, none of pain's: at least pain_overruled_by_words of them where
    # the grammar first heard no pain ("that's nice", "bit sorry" for "a bit tight", "bit sore",
    # which the commands alone took for "it hurts"), one more where it heard pain itself ("is
    # that alright"). Never over the assistant's voice, where nothing is decoded so (bench_asr:
    # replies and words said in passing taken for pain, against pain as the first command; a
    # real "it hurts" in noise came out as "higher", "good" or "deep good").
    pain_overruled_below: float = 0.6
    pain_overruled_by_words: int = 2
    # Pain in an utterance that the decoding as ordinary speech hears open as a question (the
    # vocabulary's question_openings: "does it hurts", "is not pain full" for "is that painful?"),
    # and not go on as a pain phrase ("is in pain"), is the therapist asking after it, however
    # sure the phone loop is. Never over the assistant's voice, where nothing is decoded so.
    questions_about_pain_rejected: bool = True
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    # While the room between utterances is mostly held tones (music), they are turned down in
    # each utterance before it is decoded; this much of the room is kept to tell (bench_asr:
    # music at 10 dB).
    suppress_tones: bool = True
    room_seconds: float = 1.0
    # Where the loud tenth of the last utterances (the median of three) stands less than this
    # above the room's level between utterances, the stream is heard through RNNoise, where it
    # is installed: then the segmenter and the engine hear the room's noise and music turned
    # down (bench_asr: the speech stands 8 to 16 dB above the room in pink noise at 10 dB, 6 to
    # 20 dB in music, 16 to 26 dB at 20 dB; heard through RNNoise, clean speech lost commands).
    # Zero or less: never.
    denoise_below_db: float = 18.0
    # ... and meanwhile the segmenter's floor stays no more than this below the room as it came
    # in: what is left of the noise kept utterances open (bench_asr, two voices: at 0 dB music
    # lost commands, at 10 dB the p95 latency in music grew from 525 to 651 ms).
    denoised_floor_below_db: float = 6.0
    tones: ToneSettings = field(default_factory=ToneSettings)
    # A pain phrase the grammar search stopped partway into ("patient is in") is decoded again
    # whole, where the words heard hold at least half its letters (bench_asr: pain as the first
    # command in noise).
    pain_cut_short: bool = True
    # An utterance that starts within min_pause_before of the last one's end (the segmenter
    # places a start about 0.15 s before the voice: a silence of up to about 0.45 s) is heard
    # again joined to it, where neither overlaps the assistant's voice: a pause inside a phrase
    # ("next ... please") splits it in two, each part a fragment (bench_asr: slow speech in
    # noise). Where the joined utterance is no command, its second part is decided alone too,
    # and kept if it is pain.
    join_split_utterances: bool = True
    # Pain said right after other words, with a pause that a room's echo filled (the segmenter
    # then hears one utterance): where an utterance is no command, what follows its longest
    # quiet stretches (0.12 s at least, pause_depth_db below its loud sound) is decided alone,
    # and kept if it is pain (bench_asr: pain after speech, in reverb). Only where the sound
    # before the pause lasts words_before_pause (the segmenter's lead-in included) and that after
    # it words_after_pause, and decoding as ordinary speech hears a word only pain phrases have
    # in what follows: in noise, the ends of short phrases ("that's fine", "pause please", "it's
    # okay") were taken for pain.
    pain_after_a_pause: bool = True
    pause_depth_db: float = 15.0
    pause_tries: int = 2
    words_before_pause: float = 0.5
    words_after_pause: float = 0.3
    per_intent: dict[Intent, float] = field(default_factory=dict)

    def phrase_time_limit(self, phrase: str) -> float:
        letters = sum(c.isalpha() for c in phrase)
        return self.phrase_base_seconds + self.phrase_seconds_per_letter * letters

    def threshold(self, intent: Intent) -> float:
        if intent in self.per_intent:
            return self.per_intent[intent]
        return self.pain_min_confidence if intent is Intent.PAIN else self.min_confidence


class Listener:
    """Streaming command recogniser: feed() audio, get Decisions for finished utterances.

    Thread-safe: a microphone thread may call feed() while the session thread reports assistant
    speech with assistant_speaking().
    """

    def __init__(
        self,
        vocabulary: CommandVocabulary | None = None,
        *,
        vosk_model: str | os.PathLike[str] | None = None,
        engine: Engine | None = None,
        settings: ListenerSettings | None = None,
    ) -> None:
        self.vocabulary = vocabulary or load_vocabulary()
        self._table = self.vocabulary.phrase_table()
        every_phrase = [*self.vocabulary.every_phrase(), *self.vocabulary.other_speech_phrases()]
        self._question_openings = self.vocabulary.question_opening_phrases()
        if engine is None:
            # The questions' openings must be words the decoding as ordinary speech can hear.
            background = [
                *load_background_words(self.vocabulary.language),
                *(w for o in self._question_openings for w in o.split()),
            ]
            self.engine, self.choice = create_engine(
                choose_engine(vosk_model), every_phrase, background
            )
        else:
            self.choice = EngineChoice(engine.name, "engine given by the caller")
            self.engine = engine
        self.settings = settings or ListenerSettings()
        self._restrict_engine()
        self._spoken_words = {w for p in self.vocabulary.every_phrase() for w in p.split()}
        self._pain_words = self._words_only_pain_has()
        self._openings = self._room_talk_openings()
        self._wanted: Listening | None = None  # applied when an utterance starts
        self._listening = Listening.COMMANDS
        self._segmenter = Segmenter(self.settings.segmenter)
        self._frame_bytes = self._segmenter.frame_bytes
        self._pending = b""
        self._samples = 0  # samples fed so far: the stream clock
        self._in_utterance = False
        self._utterance_start = 0.0
        self._previous_end = -1e9
        self._audio: list[bytes] = []  # the open utterance, kept to check it against echoes
        self._room: deque[bytes] = deque(  # the latest sound between utterances
            maxlen=max(1, round(self.settings.room_seconds / self._segmenter.frame_seconds))
        )
        self._before = b""  # the room as the open utterance began
        self._room_steady = False  # the room was last heard to play no music
        self._judged_room: tuple[bytes, float] | None = None  # a room and its tonal share
        self._recent: deque[tuple[float, bytes]] = deque(  # (stream time, frame) just heard
            maxlen=round(_RECENT_SECONDS / self._segmenter.frame_seconds)
        )
        self._last: _Finished | None = None  # the utterance before, while it may be joined
        self._joined: _Joined | None = None  # the open utterance alone, when joined
        self._free_decoded = False  # the open utterance decoded as ordinary speech: _free
        self._free: str | None = None
        self._intervals: list[SpeakingInterval] = []
        self._unsettled: list[list[float]] = []  # [start, end] of echo not yet cancelled
        # (start, end, mean square) of the assistant's voice left after cancelling; None: unknown
        self._residues: deque[tuple[float, float, float | None]] = deque()
        self._monotonic_origin: float | None = None
        self._segment_offset = 0.0  # stream time at which the current segmenter began
        self._held: Decision | None = None  # an accepted command waiting for quiet after it
        self._held_until = 0.0
        self._held_voice_end = 0.0  # where the voice of the held command, or faint more, ended
        self._input = denoising_input() if self.settings.denoise_below_db > 0 else None
        self._room_floor_db = -120.0  # the room's level as it came in, as the utterance began
        self._clearances: deque[float] = deque(maxlen=3)  # how far utterances stood above it
        self._lock = threading.RLock()

    def _words_only_pain_has(self) -> frozenset[str]:
        """Words of the pain phrases that no other phrase has ("pain", "hurts", "patient")."""
        every = self.vocabulary.every_phrase()
        pain = {w for p, i in every.items() if i is Intent.PAIN for w in p.split()}
        others = {
            *(
                w
                for p, i in every.items()
                if i not in (Intent.PAIN, Intent.PAIN_LEVEL)
                for w in p.split()
            ),
            *(w for p in self.vocabulary.other_speech_phrases() for w in p.split()),
        }
        return frozenset(pain - others)

    def _room_talk_openings(self) -> dict[str, str]:
        """Command phrases that open with a phrase of room talk ("okay" of "okay next"), to it."""
        # Only commands are looked up; the vocabulary keeps room talk and commands apart.
        talk = self.vocabulary.other_speech_phrases()
        return {
            phrase: opening
            for phrase in self.vocabulary.phrase_table()
            for opening in talk
            if starts_with_words(phrase, opening)
        }

    # -- clocks and assistant speech ----------------------------------------------------------

    @property
    def stream_time(self) -> float:
        """Seconds of audio fed so far."""
        return self._samples / SAMPLE_RATE

    @property
    def denoises_noisy_rooms(self) -> bool:
        """Whether the stream is heard through RNNoise while the room is noisy."""
        return self._input is not None

    def to_stream_time(self, monotonic: float) -> float:
        """Convert a time.monotonic() value to stream time (the stream starts at the first feed)."""
        with self._lock:
            origin = self._monotonic_origin
        if origin is None:
            return 0.0
        return monotonic - origin

    def assistant_speaking(
        self,
        text: str,
        start: float,
        end: float | None = None,
        *,
        duration: float | None = None,
        monotonic: bool = False,
    ) -> SpeakingInterval:
        """Record that the assistant says text from start to end (None: until speaking_ended)."""
        if monotonic:
            start = self.to_stream_time(start)
            end = None if end is None else self.to_stream_time(end)
        interval = SpeakingInterval(start, end, text, duration)
        with self._lock:
            self._intervals.append(interval)
            # Old intervals can no longer overlap any utterance still to come.
            horizon = self.stream_time - 30.0
            self._intervals = [i for i in self._intervals if i.end is None or i.end > horizon]
        return interval

    def speaking_ended(self, end: float, *, monotonic: bool = False) -> None:
        """Close the open speaking intervals at end."""
        if monotonic:
            end = self.to_stream_time(end)
        with self._lock:
            for interval in self._intervals:
                if interval.end is None:
                    interval.end = end

    def _next_fed_time(self) -> float:
        """Where the next sample fed will be heard: after what waits for a whole frame, and
        what the denoiser holds."""
        held = len(self._pending) // 2 + (0 if self._input is None else self._input.lag)
        return self.stream_time + held / SAMPLE_RATE

    def echo_unsettled(self, seconds: float) -> None:
        """The next seconds of audio to be fed hold the start of an assistant sentence that
        the echo canceller has not found the delay of yet: its voice in them is not taken out."""
        with self._lock:
            start = self._next_fed_time()
            if self._unsettled and abs(self._unsettled[-1][1] - start) < 1e-6:
                self._unsettled[-1][1] = start + seconds
            else:
                self._unsettled.append([start, start + seconds])
            horizon = self.stream_time - 30.0
            self._unsettled = [span for span in self._unsettled if span[1] > horizon]

    def echo_residue(self, seconds: float, mean_square: float | None) -> None:
        """The next seconds of audio to be fed hold so much of the assistant's voice left after
        cancelling its echo (mean square, full scale 1); None where the canceller cannot tell."""
        with self._lock:
            start = self._next_fed_time()
            self._residues.append((start, start + seconds, mean_square))
            while self._residues and self._residues[0][1] < self.stream_time - 30.0:
                self._residues.popleft()

    def _heard_over_echo(self, start: float, end: float) -> bool:
        """Whether the open utterance is clearly louder than what the canceller left of the
        assistant's voice over start..end, all of which it could tell."""
        with self._lock:
            spans = [r for r in self._residues if r[0] < end and r[1] > start]
        covered = sum(min(end, b) - max(start, a) for a, b, _ in spans)
        if not spans or covered < 0.99 * (end - start) or any(r is None for *_, r in spans):
            return False
        residue = sum((min(end, b) - max(start, a)) * r for a, b, r in spans) / covered
        samples = np.frombuffer(b"".join(self._audio), dtype="<i2") / 32768.0
        if not len(samples):
            return False
        heard = float(np.mean(samples**2))
        return heard > residue * 10 ** (self.settings.pain_over_echo_db / 10)

    def _mostly_uncancelled(self, start: float, end: float) -> bool:
        """Whether most of start..end was heard before the canceller found the echo's delay."""
        with self._lock:
            spans = list(self._unsettled)
        covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)
        return covered >= 0.5 * (end - start)

    def _overlapping(self, start: float, end: float) -> list[SpeakingInterval]:
        tail = self.settings.echo_tail
        with self._lock:
            return [
                i
                for i in self._intervals
                if i.start < end and (i.end is None or i.end + tail > start)
            ]

    # -- audio ---------------------------------------------------------------------------------

    def feed(self, chunk: np.ndarray | bytes) -> list[Decision]:
        """Add int16 16 kHz mono samples; return decisions on utterances that ended in them."""
        data = chunk if isinstance(chunk, bytes) else np.asarray(chunk, dtype="<i2").tobytes()
        with self._lock:
            if self._monotonic_origin is None:
                self._monotonic_origin = time.monotonic() - len(data) / 2 / SAMPLE_RATE
        if self._input is None:
            return self._hear(data)
        between = not self._in_utterance and not self._segmenter.opening
        self._input.between_utterances = between
        if between:
            self._switch_denoising(self._input)
        heard = self._input.process(np.frombuffer(data, dtype="<i2")).tobytes()
        return self._as_emitted(self._hear(heard))

    def _as_emitted(self, decisions: list[Decision]) -> list[Decision]:
        """Decisions timed by what came in: the denoised stream lags it."""
        lag = 0 if self._input is None else self._input.lag
        return (
            [dataclasses.replace(d, emitted_at=d.emitted_at + lag / SAMPLE_RATE) for d in decisions]
            if lag
            else decisions
        )

    def _switch_denoising(self, source: DenoisingInput) -> None:
        """Between utterances, hear the stream through RNNoise while the room is noisy."""
        noisy = bool(self._clearances) and (
            statistics.median(self._clearances) < self.settings.denoise_below_db
        )
        if noisy and not source.denoising:
            source.start(np.frombuffer(b"".join(self._room), dtype="<i2"))
        elif source.denoising and not noisy:
            source.stop()

    def _hear(self, data: bytes) -> list[Decision]:
        """The stream as the listener hears it: decisions on utterances that ended in data."""
        if not self._in_utterance:
            self._apply_wanted_listening()
        decisions: list[Decision] = []
        self._pending += data
        size = self._frame_bytes
        while len(self._pending) >= size:
            frame, self._pending = self._pending[:size], self._pending[size:]
            self._recent.append((self.stream_time, frame))
            # What is left of the assistant's voice swells like music: over it, utterances open
            # only as in music (on the virtual devices, more utterances over the help held up
            # the sound devices, and pain said over it went unheard).
            now = self.stream_time
            self._segmenter.room_steady = self._room_steady and not self._overlapping(now, now)
            self._segmenter.floor_at_least_db = (
                self._input.floor_db - self.settings.denoised_floor_below_db
                if self._input is not None and self._input.denoising
                else -120.0
            )
            self._samples += size // 2
            for event in self._segmenter.process(frame):
                decisions += self._event(event)
            if (
                self._held is not None
                and self._segmenter.faint_voice
                # The segmenter's clock counts frames, this one samples: they round apart.
                and self.stream_time - self._held_voice_end
                <= self._segmenter.full_close_seconds + 1e-6
            ):
                # Where the room is steady a shorter pause closes an utterance, so that pain
                # right after other words is heard alone. For any other command the quiet after
                # it counts from faint voice that would have kept its utterance going ("pause
                # the music ... if you want"; bench_asr: false accepts), and as that utterance
                # would have, it grows too long at last.
                self._held_voice_end = self.stream_time
                self._held_until = self.stream_time + self.settings.quiet_after
                if self.stream_time - self._held.start > self.settings.max_duration:
                    decisions.append(self._followed_by_more_speech())
            if not self._in_utterance:
                self._room.append(frame)
            # Speech that began before the quiet was over and opens an utterance only a few
            # frames later still follows the command too soon.
            if (
                self._held is not None
                and self.stream_time >= self._held_until
                and not self._segmenter.opening
            ):
                decisions.append(dataclasses.replace(self._held, emitted_at=self.stream_time))
                self._held = None
                self._last = None  # obeyed: it is not heard again as part of what follows
        return decisions

    def resume_after_gap(self) -> None:
        """The input was lost for a while: drop the open utterance and move the stream clock to now."""
        with self._lock:
            origin = self._monotonic_origin
        gap = 0.0 if origin is None else time.monotonic() - origin - self.stream_time
        self._samples += max(0, round(gap * SAMPLE_RATE))
        self._pending = b""
        self._in_utterance = False
        self._held = None  # whatever followed it was not heard: it cannot be confirmed
        self._room.clear()
        self._recent.clear()
        self._last = None
        self._joined = None
        self._segmenter = Segmenter(self.settings.segmenter)
        self._room_steady = False  # the room is not known again yet
        self._segment_offset = self.stream_time
        self.engine.new_channel()
        if self._input is not None:
            self._input = denoising_input()
            self._clearances.clear()

    def flush(self) -> list[Decision]:
        """End of stream: decide on an utterance still open, and release a held command."""
        decisions: list[Decision | None] = []
        if self._input is not None and self._input.lag:
            self._input.stop()  # what the denoiser held goes through as it came
            decisions += self._hear(self._input.process(np.zeros(0, dtype=np.int16)).tobytes())
        self._samples += len(self._pending) // 2
        self._pending = b""
        finished = [self._finish(self.stream_time)] if self._in_utterance else []
        if self._held is not None:
            decisions.append(dataclasses.replace(self._held, emitted_at=self.stream_time))
            self._held = None
        return [d for d in decisions + finished if d is not None]

    def listen_for(self, listening: Listening) -> None:
        """Hear the commands, or yes/no while a question waits, or pain scores after pain.

        Takes effect from the next utterance: one being decoded keeps its grammar. The engine
        is switched by the thread that feeds it.
        """
        with self._lock:
            self._wanted = listening

    def _apply_wanted_listening(self) -> None:
        with self._lock:
            wanted, self._wanted = self._wanted, None
        if wanted is not None:
            self._listening = wanted
            self._table = self.vocabulary.table_for(wanted)
            self._restrict_engine()

    @property
    def _pain_in_hand(self) -> bool:
        """A pain event is being dealt with, or the massage is over: a pain score is awaited."""
        return self._listening is Listening.PAIN_LEVEL

    def _restrict_engine(self) -> None:
        # The answers stay in the grammar when they are not wanted, to be rejected: otherwise a
        # patient's "yes" or "no" during the massage is forced into the nearest command ("next").
        phrases = [
            *self._table,
            *(p for p in self.vocabulary.answer_table() if p not in self._table),
        ]
        if self.settings.other_speech_in_grammar:
            phrases += self.vocabulary.other_speech_phrases()
        self.engine.restrict(phrases)

    def _event(self, event: SegmentEvent) -> list[Decision]:
        if event.kind == "start":
            self._apply_wanted_listening()
            decisions = []
            if self._held is not None:
                decisions.append(self._followed_by_more_speech())
            self._in_utterance = True
            self._utterance_start = self._segment_offset + event.time
            self.engine.start()
            self._audio = []
            self._free_decoded = False
            self._before = b"".join(self._room)
            if self._input is not None:
                self._room_floor_db = self._input.floor_db
            self._joined = None
            self._join_last()
            return decisions
        if event.kind == "audio" and self._in_utterance and self._joined and not self._audio:
            # The utterance before, the pause and this one's start, as one stretch of sound.
            frames = [(at, f) for at, f in self._recent if at >= self._utterance_start - 1e-6]
            own = self._joined.start - 1e-6
            offset = sum(len(frame) for at, frame in frames if at < own)
            self._joined = dataclasses.replace(self._joined, offset=offset)
            joined = b"".join(frame for _, frame in frames)
            self.engine.feed(joined)
            self._audio.append(joined)
        elif event.kind == "audio" and self._in_utterance:
            if not self._audio:
                # The utterance opens with the frames before the one that started it, which the
                # room heard already.
                overlap = len(event.pcm) - self._frame_bytes
                self._before = self._before[: max(0, len(self._before) - overlap)]
                # The room is judged as the utterance opens too, so that how it closes suits
                # the room already (the segmenter's steady close), from the first utterance on.
                self._room_plays_music()
            self.engine.feed(event.pcm)
            self._audio.append(event.pcm)
        elif event.kind == "end" and self._in_utterance:
            decision = self._finish(self._segment_offset + event.time)
            return [] if decision is None else [decision]
        return []

    def _followed_by_more_speech(self) -> Decision:
        """More speech followed too soon: the held "command" was the start of a sentence."""
        held, self._held = self._held, None
        assert held is not None
        return dataclasses.replace(
            held, command=None, emitted_at=self.stream_time, reason="followed by more speech"
        )

    def _join_last(self) -> None:
        """Join the one before to the utterance just begun, where it is to be heard so.

        Not over the assistant's voice: there the speech just before pain may be its own, and
        pain must be heard alone (decide).
        """
        last, start = self._last, self._utterance_start
        if (
            not self.settings.join_split_utterances
            or last is None
            or start - last.end >= self.settings.min_pause_before
            or self._recent[0][0] > last.start + 1e-6
            or self._overlapping(last.start, self.stream_time)
        ):
            return
        self._joined = _Joined(start, self._previous_end, self._before)
        self._utterance_start, self._before = last.start, last.before
        self._previous_end = last.previous_end

    def _take_apart(self, joined: _Joined) -> None:
        """Make the open utterance what it was before the one before it was joined to it."""
        alone = b"".join(self._audio)[joined.offset :]
        self._audio = [alone]
        self._utterance_start, self._before = joined.start, joined.before
        self._previous_end = joined.previous_end
        self._free_decoded = False
        self.engine.start()
        self.engine.feed(alone)

    def _finish(self, end: float) -> Decision | None:
        """The verdict on the utterance that ended at end; None while a command waits for quiet."""
        self._in_utterance = False
        if self._input is not None:
            self._clearances.append(self._loudest_tenth_db() - self._room_floor_db)
        joined, self._joined = self._joined, None
        finished = _Finished(self._utterance_start, end, self._previous_end, self._before)
        decision = self._verdict(end)
        if joined is not None and decision.command is not Intent.PAIN:
            # Joined, a phrase may be lost among the words before it ("thanks, patient in
            # pain"), or make another command with them ("okay ... pain" as "okay next"): pain
            # said right after other speech counts alone too. So does pain over the assistant's
            # voice, which is reported a moment late and so may overlap only now.
            self._take_apart(joined)
            alone = self._verdict(end)
            if alone.command is Intent.PAIN:
                decision = alone
        if not decision.accepted:
            after = self._pain_after_a_pause(end)
            if after is not None:
                decision = after
        # Joined to more speech, an utterance too long already stays too long.
        self._last = None if decision.reason == TOO_LONG else finished
        self._previous_end = end
        quiet_needed = (
            self.settings.pain_quiet_after
            if decision.command is Intent.PAIN
            else self.settings.quiet_after
        )
        if decision.accepted and end + quiet_needed > self.stream_time:
            self._held = decision
            self._held_until = end + quiet_needed
            self._held_voice_end = end
            return None
        if decision.accepted:
            self._last = None  # obeyed: it is not heard again as part of what follows
        return decision

    def _loudest_tenth_db(self) -> float:
        """The open utterance's level in 30 ms frames, that of its loud tenth (its voice)."""
        audio = np.frombuffer(b"".join(self._audio), dtype="<i2")
        size = self._frame_bytes // 2
        levels = [level_db(audio[i : i + size]) for i in range(0, len(audio) - size + 1, size)]
        return float(np.percentile(levels, 90)) if levels else -120.0

    def _pain_after_a_pause(self, end: float) -> Decision | None:
        """Pain at the end of the open utterance, after a pause the room's echo filled.

        Not over the assistant's voice: it pauses between its own words, and pain there is
        heard alone (decide).
        """
        settings, start = self.settings, self._utterance_start
        if (
            not settings.pain_after_a_pause
            or Intent.PAIN not in self._table.values()
            or self._overlapping(start, end)
        ):
            return None
        audio = b"".join(self._audio)
        offsets = pauses_before_a_last_phrase(
            np.frombuffer(audio, dtype="<i2"),
            shortest=settings.words_after_pause,
            longest=settings.pain_max_duration,
            depth_db=settings.pause_depth_db,
            at_most=settings.pause_tries,
            first_words=settings.words_before_pause,
        )
        for offset in offsets:
            tail = audio[2 * offset :]
            self._audio, self._free_decoded = [tail], False
            hypothesis = self.engine.decode_part(tail)
            at = start + (len(audio) - len(tail)) / 2 / SAMPLE_RATE
            decision = self.decide(hypothesis, at, end, self.stream_time)
            if decision.command is Intent.PAIN and self._pain_words & set(
                (self._free_text() or "").split()
            ):
                return decision
        return None

    def _verdict(self, end: float) -> Decision:
        """The open utterance, from _utterance_start to end, decoded and decided."""
        start, settings = self._utterance_start, self.settings
        music = self._room_plays_music()
        if end - start > max(settings.max_duration, settings.pain_max_duration):
            # No command lasts this long: decoding it would only keep the engine (and Python's
            # lock) busy while what follows, pain perhaps, waits.
            self.engine.start()  # drops what it was given
            decision = Decision(None, "", start, end, self.stream_time, 0.0, TOO_LONG)
        else:
            if music and settings.suppress_tones:
                self._quiet_music()
            hypothesis = self.engine.finish()
            decision = self.decide(hypothesis, start, end, self.stream_time)
        return decision

    def _room_plays_music(self) -> bool:
        """Whether the room as the open utterance began was mostly held tones (music, a hum).

        The segmenter is told too: in a steady room it lets a quieter voice open speech. Only a
        room heard for half the time kept of it at least, and clearly one or the other: music
        holds fewer tones between its notes (down to 0.2 of its power in bench_asr's music), noise
        and speech hardly any (0.11 at most).
        """
        tones = self.settings.tones
        if len(self._before) // 2 < tones.fft:
            return False  # too little to tell, or to turn anything down with
        room = np.frombuffer(self._before, dtype="<i2")
        # Judged as the utterance opens and again as it ends, mostly on the very same room.
        judged = self._judged_room
        if judged is not None and judged[0] is self._before:
            share = judged[1]
        else:
            share = tonal_share(room, tones)
            self._judged_room = (self._before, share)
        if len(room) >= self.settings.room_seconds / 2 * SAMPLE_RATE:
            if share >= tones.music_share:
                self._room_steady = False
            elif share < tones.steady_share:
                self._room_steady = True
        return share >= tones.music_share

    def _quiet_music(self) -> None:
        """The open utterance with the room's held tones turned down, given to the engine afresh
        and kept for the checks that decode it again."""
        tones = self.settings.tones
        room = np.frombuffer(self._before, dtype="<i2")
        utterance = np.frombuffer(b"".join(self._audio), dtype="<i2")
        quieted = suppress_held_tones(utterance, before=room, settings=tones).tobytes()
        self._audio = [quieted]
        self.engine.start()
        self.engine.feed(quieted)

    # -- the decision ----------------------------------------------------------------------------

    def _absorbed(self, text: str) -> bool:
        """Heard as room talk or as an answer no question asked for, or as the start of room
        talk that the grammar search stopped partway into ("breathe" of "breathe in")."""
        vocabulary = self.vocabulary
        return text in vocabulary.answer_table() or any(
            starts_with_words(phrase, text) for phrase in vocabulary.other_speech_phrases()
        )

    def decide(self, hypothesis: Hypothesis, start: float, end: float, now: float) -> Decision:
        """Accept the hypothesis as a command or say why not."""
        text, confidence = hypothesis.text, hypothesis.confidence
        settings = self.settings

        def reject(reason: str) -> Decision:
            return Decision(None, text, start, end, now, confidence, reason)

        overlapping = self._overlapping(start, end)
        assistant_words = " ".join(i.text for i in overlapping).split()
        if overlapping:
            # Over the assistant's voice a command must be sure and beat its words anyway, so
            # hearing it as ordinary speech would decide nothing, and its cost would hold up the
            # sound devices (on the virtual devices, pain over the help went unheard).
            self._free_decoded, self._free = True, None
        intent = self._table.get(text) if text else None
        if (
            intent is None
            and self._absorbed(text)
            and Intent.PAIN in self._table.values()
            and not (len(text.split()) > 1 and self._heard_alike(text))
        ):
            # "Fine" is near "pain", "good" near "it hurts": what the room talk took is decoded
            # again among the commands alone, and kept if it is pain. A missed pain command is
            # worse than a reply taken for one (bench_asr: pain and replies, with and without).
            # Not a reply of several words that the decoding as ordinary speech heard whole too
            # ("that's fine"): one word ("good") it mishears for pain as the grammar does.
            audio = b"".join(self._audio)
            again = self.engine.decode_again(audio, self._table)
            # Over the assistant's voice, only if pain explains the sound better than its words.
            if self._table.get(again.text) is Intent.PAIN and (
                not overlapping or self.engine.prefers_phrase(audio, again.text, assistant_words)
            ):
                text, confidence, intent = again.text, again.confidence, Intent.PAIN
        if intent is None:
            freely = self._freely_heard_phrase()
            if freely is not None:
                text, confidence, intent = freely.text, freely.confidence, self._table[freely.text]
        if intent is None and self.settings.pain_cut_short and not overlapping:
            cut_short = self._pain_cut_short(text)
            if cut_short is not None:
                text, confidence, intent = cut_short.text, cut_short.confidence, Intent.PAIN
        if intent is None:
            if text in self.vocabulary.answer_table():
                return reject("an answer, and no question is waiting")
            if text in self.vocabulary.other_speech_phrases():
                return reject("other speech, not a command")
            return reject("not a command")
        duration = end - start
        if duration < settings.min_duration:
            return reject("too short to be a command")
        limit = settings.pain_max_duration if intent is Intent.PAIN else settings.max_duration
        if duration > limit:
            return reject(TOO_LONG)
        # Pain counts even right after other speech: over the assistant's voice that may be its
        # own, and elsewhere a missed pain command is worse than the rare sentence ending in one.
        if start - self._previous_end < settings.min_pause_before and intent is not Intent.PAIN:
            return reject("part of longer speech")
        if (
            intent is not Intent.PAIN
            and duration > settings.phrase_time_limit(text)
            and not self._heard_alike(text)
        ):
            # Heard as just the phrase by the decoding as ordinary speech too, the extra time
            # was the room's sound, not words (in loud noise an utterance ends late).
            return reject("too long for the phrase")
        if confidence < settings.threshold(intent) and not self._heard_alike(text):
            # The phone loop is a rough judge ("help" came out of it as "OW DH"): a decoding as
            # ordinary speech that hears the very phrase confirms it all the same.
            return reject("not sure enough it was a command")
        if self._heard_as_other_words(
            intent, text, confidence, pain_first=self._table.get(hypothesis.text) is Intent.PAIN
        ):
            return reject("heard as other words")
        if intent is Intent.PAIN and self._asked_about_pain():
            return reject("a question about pain")
        if (
            overlapping
            and intent is not Intent.PAIN
            and confidence < settings.barge_in_min_confidence
        ):
            return reject("the assistant was speaking")
        # The phrase is the assistant's own only if it says those words at about that time (its
        # help names every command; a therapist's "patient in pain" over it must still count).
        slack = settings.echo_tail + settings.echo_word_slack
        if any(i.says_during(text, start, end, slack) for i in overlapping) and not (
            intent is Intent.PAIN and self._heard_over_echo(start, end)
        ):
            return reject("the assistant's own words")
        # What is left of the assistant's voice, before the canceller has found where a new
        # sentence lies, most easily passes for one syllable: on the virtual devices the "Say"
        # that starts the help was heard as "pain" (a phrase of several words outlasts it).
        if (
            intent is Intent.PAIN
            and len(text.split()) == 1
            and self._mostly_uncancelled(start, end)
        ):
            return reject("the start of the assistant's sentence")
        # The assistant's words compete with the phrase: if they explain the sound better, it was
        # the loudspeaker, however command-like it looked. Not for a first pain: a missed pain
        # command is worse than obeying an echo of one. Once pain is in hand the technique has
        # stopped already, and what is left of the assistant's own pain instruction ("Stop the
        # technique ...") heard as pain would start it again, and again.
        if (
            overlapping
            and (intent is not Intent.PAIN or self._pain_in_hand)
            and not self.engine.prefers_phrase(b"".join(self._audio), text, assistant_words)
        ):
            return reject("the assistant's own words")
        return Decision(intent, text, start, end, now, confidence)

    def _free_text(self) -> str | None:
        """The open utterance decoded as ordinary speech (once: decide may ask several times)."""
        if not self._free_decoded:
            self._free = self.engine.free_text(b"".join(self._audio)) if self._audio else None
            self._free_decoded = True
        return self._free

    def _heard_alike(self, text: str) -> bool:
        """Whether the decoding as ordinary speech (run now if not yet) heard exactly text."""
        return bool(text) and self._free_text() == text

    def _freely_heard_phrase(self) -> Hypothesis | None:
        """A phrase that decoding as ordinary speech heard exactly, where the grammar heard none.

        In noise the grammar misses phrases (a "pause" heard as room talk, "fine") that a
        decoding among ordinary words still gets whole; the phrase is then decoded alone, and
        it counts only if the phone loop agrees with it as well as a command's threshold asks,
        so that two judges of the three agree (bench_asr: accuracy in noise).
        """
        free = self._free_text()
        if free is None or free not in self._table:
            return None
        again = self.engine.decode_again(b"".join(self._audio), [free])
        sure = again.confidence >= self.settings.threshold(self._table[free])
        return again if again.text == free and sure else None

    def _pain_cut_short(self, text: str) -> Hypothesis | None:
        """Pain whose phrase the grammar search stopped partway into ("patient is in").

        In loud noise, and most of all in the first utterance a listener hears, the search may
        not reach the end of "patient is in pain". Where what it heard begins pain phrases and
        no other phrase of the language ("stop" begins "stop session" too, even while only pain
        is listened for), each is decoded alone, and the phone loop judges the whole phrase.
        Not where the words heard are less than half the phrase ("it" of "it hurts"):
        conversation is full of those. Never over the assistant's voice (decide): it says "the
        patient is ..." itself, and decoding more there holds up the sound devices.
        """
        started = [p for p in self.vocabulary.every_phrase() if starts_with_words(p, text)]
        if not started or any(self._table.get(p) is not Intent.PAIN for p in started):
            return None
        letters = sum(c.isalpha() for c in text)
        started = [p for p in started if 2 * letters >= sum(c.isalpha() for c in p)]
        if not started:
            return None
        audio = b"".join(self._audio)
        best = max(
            (self.engine.decode_again(audio, [phrase]) for phrase in started),
            key=lambda hypothesis: hypothesis.confidence,
        )
        sure = best.confidence >= self.settings.threshold(Intent.PAIN)
        return best if best.text in started and sure else None

    def _heard_as_other_words(
        self, intent: Intent, text: str, confidence: float, pain_first: bool
    ) -> bool:
        """Whether a decoding among the language's frequent words heard something else.

        The grammar forces any speech into some phrase ("a bit lower" into "take a note"); a
        decoding that may choose ordinary words tells them apart. It overrules a command only when
        it shares no word with the phrase, or hears two or more words that no phrase has ("how are
        feeling today" for "how many left"), and the phone loop agreed poorly. In noise it mishears
        words too, so a word in common stands ("stop student" for "stop session"), and so do words
        that sound like the phrase ("hell" for "help"). A command the phone loop agreed with well is
        overruled only where more words than the phrase has were heard, two of them at least not the
        phrase's ("slow we now" for "slow down"): a phrase really said is heard as itself, or as as
        many words. Such words overrule a command the phone loop agreed with poorly too, whatever
        they share with it, and so does the whole phrase heard followed by more words ("repeat that
        home" for "repeat that": a sentence that opens with the command). Words more than two
        apart from the phrase's ("what time is it" for "what can i say") overrule it, and a phrase
        that opens with room talk ("okay next") needs the rest of its words heard, however sure
        the phone loop was. Not pain, by these rules: "it hurts" comes out as "higher" or "good"
        too often (bench_asr); pain has a stricter rule of its own (_pain_heard_as_other_words;
        pain_first: the grammar heard the pain phrase itself). Nor answers and pain scores, which
        the assistant says back.
        """
        if intent is Intent.PAIN:
            return self._pain_heard_as_other_words(text, confidence, pain_first)
        if intent in ANSWER_INTENTS or intent is Intent.PAIN_LEVEL:
            return False
        confident = confidence >= self.settings.free_text_overrules_below
        if confident and not self.settings.free_text_may_overrule_sure_commands:
            return False
        free_text = self._free_text()
        if free_text is None:
            return False
        words = text.split()
        heard, phrase = free_text.split(), set(words)
        opening = self._openings.get(text)
        if (
            opening is not None
            and starts_with_words(free_text, opening)
            and not (phrase - set(opening.split())) & set(heard)
        ):
            return True  # room talk that begins the same ("okay then" as "okay next")
        if edit_distance(heard, words) > self.settings.free_text_overrules_beyond_word_edits:
            return True
        more_words = len(heard) > len(words) and sum(w not in phrase for w in heard) >= 2
        if confident:
            return more_words
        if more_words and self.settings.more_words_overrule_unsure_commands:
            return True
        if (
            len(heard) > len(words)
            and starts_with_words(free_text, text)
            and self.settings.phrase_then_more_words_overrule_unsure_commands
        ):
            return True
        foreign = sum(w not in self._spoken_words for w in heard)
        if phrase & set(heard) and foreign < 2:
            return False
        distance = self.engine.sound_distance(free_text, text)
        return distance is None or distance > self.settings.free_text_sounds_alike_within

    def _asked_about_pain(self) -> bool:
        """Whether the decoding as ordinary speech heard the utterance open as a question."""
        if not self.settings.questions_about_pain_rejected or not self._question_openings:
            return False
        heard = self._free_text()
        return bool(heard) and self.vocabulary.opens_as_question(heard)

    def _pain_heard_as_other_words(self, text: str, confidence: float, pain_first: bool) -> bool:
        """Whether weakly heard pain was heard as ordinary speech as a few words, none of pain's.

        Words that only pain phrases have, or those of the phrase heard, keep it: said after
        other words, pain is heard so ("thank you it hurts"). Where the grammar heard the pain
        phrase itself (pain_first), rather than room talk that was decoded again among the
        commands, it takes one word more.
        """
        settings = self.settings
        if confidence >= settings.pain_overruled_below:
            return False
        free_text = self._free_text()
        if not free_text:
            return False
        heard = free_text.split()
        needed = settings.pain_overruled_by_words + (1 if pain_first else 0)
        return len(heard) >= needed and not (self._pain_words | set(text.split())) & set(heard)


# -- files ---------------------------------------------------------------------------------------


def read_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """A sound file as int16 16 kHz mono samples, mixed down and resampled when needed."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return to_stream_format(data, rate)


def to_stream_format(data: np.ndarray, rate: int) -> np.ndarray:
    """Float audio (frames x channels, or frames) at rate as int16 16 kHz mono."""
    mono = data.mean(axis=1) if data.ndim == 2 else data
    if rate != SAMPLE_RATE and len(mono):
        mono = _resample(mono, rate, SAMPLE_RATE)
    return np.clip(np.round(mono * 32767), -32768, 32767).astype(np.int16)


def _resample(signal: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling via the FFT; fine for whole files, not meant for live chunks."""
    n_out = round(len(signal) * target / rate)
    spectrum = np.fft.rfft(signal)
    keep = min(len(spectrum), n_out // 2 + 1)
    resized = np.zeros(n_out // 2 + 1, dtype=complex)
    resized[:keep] = spectrum[:keep]
    return np.fft.irfft(resized, n_out) * (n_out / len(signal))


def listen_to_file(
    path: str | os.PathLike[str] | Path,
    listener: Listener | None = None,
    speaking: Sequence[SpeakingInterval] = (),
    chunk_seconds: float = 0.02,
) -> list[Decision]:
    """Run a listener over a whole sound file as if it were streamed, returning every decision."""
    return listen_to_samples(read_audio(path), listener, speaking, chunk_seconds)


def listen_to_samples(
    samples: np.ndarray,
    listener: Listener | None = None,
    speaking: Iterable[SpeakingInterval] = (),
    chunk_seconds: float = 0.02,
) -> list[Decision]:
    listener = listener or Listener()
    for interval in speaking:
        listener.assistant_speaking(interval.text, interval.start, interval.end)
    step = max(1, int(chunk_seconds * SAMPLE_RATE))
    decisions: list[Decision] = []
    for offset in range(0, len(samples), step):
        decisions += listener.feed(samples[offset : offset + step])
    decisions += listener.flush()
    return decisions
