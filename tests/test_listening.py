"""The listener on real engines and generated recordings (benchmarks/corpus.py); no mocks."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from recorded import speech_corpus

from assistant.intents import Intent, Listening
from assistant.listening import (
    VOSK_MODEL_ENV,
    Decision,
    Hypothesis,
    Listener,
    ListenerSettings,
    SpeakingInterval,
    choose_engine,
    find_vosk_model,
    listen_to_file,
    listen_to_samples,
)
from assistant.listening.segmenter import Segmenter, SegmenterSettings
from assistant.vocabulary import load_vocabulary, normalize, starts_with_words

ROOM = 3.0  # seconds of the room's sound a listener hears before the speech in a clip


# Phrases the product owner named; each must work.
NAMED = {
    Intent.NEXT: ("next", "next please", "okay next", "continue"),
    Intent.REPEAT: ("repeat", "say again"),
    Intent.BACK: ("go back", "previous"),
    Intent.PAIN: ("patient in pain", "pain", "it hurts"),
    Intent.STATUS: ("how many left", "where are we"),
    Intent.STOP: ("stop session", "end session"),
}


@pytest.fixture(scope="module")
def corpus():
    return speech_corpus()


@pytest.fixture(scope="module")
def loaded_listener() -> Listener:
    return Listener(vosk_model=None)


@pytest.fixture
def listener(loaded_listener: Listener) -> Listener:
    """The loaded engine, having forgotten the room of earlier tests: each test decides alone."""
    loaded_listener.engine.new_channel()
    return loaded_listener


def _fresh(listener: Listener) -> Listener:
    """A listener sharing the loaded engine but with its own clock and speaking intervals."""
    return Listener(listener.vocabulary, engine=listener.engine, settings=listener.settings)


def _accepted(decisions: list[Decision]) -> list[Intent]:
    return [d.command for d in decisions if d.command is not None]


def test_engine_choice_reports_pocketsphinx_without_vosk_model(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(VOSK_MODEL_ENV, raising=False)
    if find_vosk_model()[0] is not None:
        pytest.skip("a vosk model is installed here")
    choice = choose_engine()
    assert choice.name == "pocketsphinx"
    assert "no vosk model" in choice.reason
    bad = choose_engine(tmp_path)
    assert bad.name == "pocketsphinx" and "not a vosk model" in bad.reason


def test_every_intent_recognised(listener: Listener, corpus) -> None:
    vocabulary = load_vocabulary()
    phrases = {intent: (texts[0],) for intent, texts in vocabulary.commands.items()}
    for intent, named in NAMED.items():
        phrases[intent] = tuple(dict.fromkeys(phrases[intent] + named))
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low")]
    misses = []
    for clip in corpus.command_clips(speakers, ["clean"], phrases):
        decisions = listen_to_samples(clip.audio, _fresh(listener))
        if _accepted(decisions) != [clip.intent]:
            misses.append((clip.name, [(d.text, d.reason) for d in decisions]))
    assert not misses


def test_pain_is_heard_when_it_is_the_first_thing_a_new_listener_hears(corpus) -> None:
    """No earlier speech has tuned the engine: the first "pain" of a session in a noisy room."""
    vocabulary = load_vocabulary()
    pain = {Intent.PAIN: vocabulary.commands[Intent.PAIN]}
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low", "hibari-slow")]
    missed = []
    for clip in corpus.command_clips(speakers, ["clean", "pink_20db"], pain):
        decisions = listen_to_samples(clip.audio, Listener(vocabulary))
        if _accepted(decisions) != [Intent.PAIN]:
            missed.append((clip.name, [(d.text, d.reason) for d in decisions]))
    assert not missed


def test_speech_too_long_for_any_command_is_not_decoded(listener: Listener, corpus) -> None:
    """Decoding it would only keep the engine busy while what follows, pain perhaps, waits."""
    decoded = []

    class Counting:
        def __init__(self, engine) -> None:
            self._engine = engine
            self.name = engine.name

        def finish(self):
            hypothesis = self._engine.finish()
            decoded.append(hypothesis.text)
            return hypothesis

        def __getattr__(self, name: str):
            return getattr(self._engine, name)

    counting = Listener(listener.vocabulary, engine=Counting(listener.engine))  # type: ignore[arg-type]
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    sentence = "Let's stop there for today and book the next appointment."
    (clip,) = corpus.sentence_clips([sentence], "distractor", [speaker])
    assert clip.speech_end - clip.speech_start > 2.0
    decisions = listen_to_samples(clip.audio, counting)
    assert decisions and all(d.reason == "too long to be a command" for d in decisions)
    assert all(d.text == "" for d in decisions if d.end - d.start > 1.6)
    assert len(decoded) == sum(d.end - d.start <= 1.6 for d in decisions)


def test_commands_in_noise_and_music(listener: Listener, corpus) -> None:
    phrases = {intent: (texts[0],) for intent, texts in load_vocabulary().commands.items()}
    speakers = [s for s in corpus.SPEAKERS if s.name == "hibari"]
    # The listener has been hearing the room for a while before each command, as in a session.
    clips = list(corpus.command_clips(speakers, ["pink_20db", "music_10db"], phrases, lead=ROOM))
    hits = sum(_accepted(listen_to_samples(c.audio, _fresh(listener))) == [c.intent] for c in clips)
    assert hits / len(clips) >= 0.8


def test_music_in_the_room_is_turned_down_before_an_utterance_is_decoded(corpus) -> None:
    """Held notes mislead the recogniser: with them turned down these commands are heard in
    music at 10 dB, and without, each is missed (bench_asr: music at 10 dB). Each is the first
    thing a new listener hears after the room, so no earlier test decides it."""
    vocabulary = load_vocabulary()
    heard = {
        "hibari": {Intent.PAUSE: ("hold on",)},
        "hibari-low": {
            Intent.SKIP: ("skip this step",),
            Intent.PAUSE: ("pause",),
            Intent.HELP: ("help",),
        },
    }
    untouched = ListenerSettings(suppress_tones=False)
    for speaker in (s for s in corpus.SPEAKERS if s.name in heard):
        for clip in corpus.command_clips([speaker], ["music_10db"], heard[speaker.name], ROOM):
            plain = Listener(vocabulary, settings=untouched)
            assert _accepted(listen_to_samples(clip.audio, plain)) != [clip.intent], clip.name
            quieted = Listener(vocabulary)
            assert _accepted(listen_to_samples(clip.audio, quieted)) == [clip.intent], clip.name


def test_a_steady_room_lets_a_quieter_voice_open_an_utterance(corpus) -> None:
    """In pink noise at 10 dB these commands never rise far enough above the room to open an
    utterance with the margin music needs; once an utterance has shown the room holds no music,
    they do (bench_asr: pink noise at 10 dB). In music the margin stays. The room is heard as
    it is: denoised, little of the music would be left to tell."""
    vocabulary = load_vocabulary()
    as_it_is = ListenerSettings(denoise_below_db=0)
    music_margin = ListenerSettings(
        segmenter=SegmenterSettings(steady_margin_db=9.0), denoise_below_db=0
    )
    voice = [s for s in corpus.SPEAKERS if s.name == "hibari-low"]
    said = {Intent.PAIN: ("patient is in pain",), Intent.SKIP: ("skip this step",)}
    said[Intent.LOUDER] = ("speak up",)
    first = {Intent.STATUS: ("where are we",)}
    # One listener in a room that turns from noise to music, and back.
    listener = Listener(vocabulary, settings=as_it_is)
    for condition in ("pink_10db", "music_10db", "pink_10db"):
        room = next(corpus.command_clips(voice, [condition], first, lead=ROOM))
        decisions = listen_to_samples(room.audio, listener)
        assert listener._segmenter.room_steady is (condition == "pink_10db"), decisions
    assert _accepted(decisions) == [Intent.STATUS]
    # Over the assistant's voice, whose remains swell like music, utterances open as in music.
    now = listener.stream_time
    listener.assistant_speaking("Knead the trapezius.", now, now + 1.0)
    listener.feed(np.zeros(1600, np.int16))
    assert listener._segmenter.room_steady is False
    listener.feed(np.zeros(32000, np.int16))
    assert listener._segmenter.room_steady is True
    for clip in corpus.command_clips(voice, ["pink_10db"], said, lead=1.0):
        audio = np.concatenate([room.audio, clip.audio])
        before = listen_to_samples(audio, Listener(vocabulary, settings=music_margin))
        assert _accepted(before) == [Intent.STATUS], (clip.name, before)
        after = listen_to_samples(audio, Listener(vocabulary, settings=as_it_is))
        assert _accepted(after) == [Intent.STATUS, clip.intent], (clip.name, after)


def _said_with_a_pause(corpus, speaker: str, first: str, second: str, pause: float) -> np.ndarray:
    """Two parts of a phrase with a pause between them, after the room (clean)."""
    voice = next(s for s in corpus.SPEAKERS if s.name == speaker)

    gap = np.zeros(round(pause * 16000), np.float32)
    parts = (corpus.voiced(corpus.synthesize(text, voice)) for text in (first, second))
    speech = np.concatenate([next(parts), gap, next(parts)])
    return corpus.place(speech, "clean", seed=1, lead=ROOM)[0]


def test_a_phrase_a_pause_splits_is_heard_whole(corpus) -> None:
    """A slow "next ... please" is two utterances: the first followed by more speech, the second
    starting right after other speech; joined, they are the phrase."""
    vocabulary = load_vocabulary()
    unjoined = ListenerSettings(join_split_utterances=False)
    for speaker, first, second in (
        ("hibari", "next", "please"),
        ("hibari-low", "let's", "continue"),
    ):
        audio = _said_with_a_pause(corpus, speaker, first, second, pause=0.2)
        apart = listen_to_samples(audio, Listener(vocabulary, settings=unjoined))
        assert not _accepted(apart) and len(apart) == 2, (speaker, apart)
        joined = listen_to_samples(audio, Listener(vocabulary))
        assert _accepted(joined) == [vocabulary.phrase_table()[f"{first} {second}"]], joined
        assert joined[-1].start == apart[0].start and joined[-1].end == apart[1].end


def test_a_command_obeyed_is_not_heard_again_joined_to_what_follows(corpus) -> None:
    """Once "next" has waited out its quiet and been obeyed, "please" just after it is not
    joined to it: that would obey "next" twice."""
    audio = _said_with_a_pause(corpus, "hibari", "next", "please", pause=0.28)
    decisions = listen_to_samples(audio, Listener(load_vocabulary()))
    assert _accepted(decisions) == [Intent.NEXT], decisions
    assert len(decisions) == 2 and decisions[1].start > decisions[0].end, decisions


def test_speech_over_the_assistants_voice_is_not_joined(corpus) -> None:
    """There the speech just before pain may be the assistant's own: pain is heard alone."""
    audio = _said_with_a_pause(corpus, "hibari", "next", "please", pause=0.2)
    listener = Listener(load_vocabulary())
    talking = SpeakingInterval(ROOM - 0.5, len(audio) / 16000, "Knead the upper trapezius.")
    decisions = listen_to_samples(audio, listener, [talking])
    assert len(decisions) == 2 and decisions[1].start > decisions[0].end, decisions


def test_pain_said_right_after_other_speech_is_heard_alone(corpus) -> None:
    """Joined to the "thanks" just before it, "patient in pain" is lost among the words: it is
    decided alone too, and pain counts right after other speech. Also where the assistant's
    speech, reported a moment late, turns out to overlap it only once it has been joined."""
    audio = _said_with_a_pause(corpus, "hibari", "thanks", "patient in pain", pause=0.25)
    for told_late in (False, True):
        listener = Listener(load_vocabulary())
        decisions: list[Decision] = []
        joined = False
        for at in range(0, len(audio), 320):
            decisions += listener.feed(audio[at : at + 320])
            if listener._joined is not None and not joined:
                joined = True
                if told_late:
                    listener.assistant_speaking("Knead the trapezius.", listener._joined.start)
        decisions += listener.flush()
        assert joined, decisions
        assert _accepted(decisions) == [Intent.PAIN], (told_late, decisions)
        assert decisions[-1].start > decisions[0].end


def test_in_a_steady_room_pain_a_moment_after_other_words_is_an_utterance_of_its_own(
    corpus,
) -> None:
    """A pause of 0.25 s after "thank you" closed no utterance: "thank you, patient in pain" was
    too long to be a command, or heard as "thank you". Once the room is known to be steady a
    shorter pause closes one, and the pain after it is heard."""
    vocabulary = load_vocabulary()
    long_close = ListenerSettings(
        segmenter=SegmenterSettings(steady_end_frames=9), pain_after_a_pause=False
    )
    for speaker, pain in (
        ("hibari", "patient in pain"),
        ("hibari-low", "it hurts"),
        ("espeak-us", "patient in pain"),
    ):
        audio = _said_with_a_pause(corpus, speaker, "thank you", pain, pause=0.25)
        before = listen_to_samples(audio, Listener(vocabulary, settings=long_close))
        assert Intent.PAIN not in _accepted(before), (speaker, before)
        now = listen_to_samples(audio, Listener(vocabulary))
        assert _accepted(now) == [Intent.PAIN], (speaker, now)
        assert now[-1].text == pain and now[-1].start > now[0].end, now


def test_pain_joined_to_the_words_before_it_into_another_command_is_still_pain(corpus) -> None:
    """Joined, "okay ... pain" is "okay next": pain said right after other words is decided
    alone too, and pain comes first."""
    for speaker in ("hibari", "hibari-fast"):
        audio = _said_with_a_pause(corpus, speaker, "okay", "pain", pause=0.25)
        decisions = listen_to_samples(audio, Listener(load_vocabulary()))
        assert _accepted(decisions) == [Intent.PAIN], (speaker, decisions)


def _said_in_a_small_room(corpus, speaker: str, first: str, second: str) -> np.ndarray:
    """ "first", a quarter-second pause and "second", in bench_asr's small reverberant room."""
    voice = next(s for s in corpus.SPEAKERS if s.name == speaker)
    gap = np.zeros(round(0.25 * 16000), np.float32)
    parts = (corpus.voiced(corpus.synthesize(text, voice)) for text in (first, second))
    speech = np.concatenate([next(parts), gap, next(parts)])
    return corpus.place(speech, "reverb", seed=1, lead=ROOM)[0]


def test_pain_after_a_pause_the_rooms_echo_filled_is_found_in_the_utterance(corpus) -> None:
    """In a reverberant room the echo fills the pause after "thank you": one utterance, too long
    to be a command. What follows the quiet stretch left of the pause is decided alone: pain."""
    vocabulary = load_vocabulary()
    unsearched = ListenerSettings(pain_after_a_pause=False)
    for speaker, first, pain in (
        ("hibari", "thank you", "patient in pain"),
        ("hibari-low", "okay", "it hurts"),
        ("espeak-us", "thank you", "stop pain"),
    ):
        audio = _said_in_a_small_room(corpus, speaker, first, pain)
        before = listen_to_samples(audio, Listener(vocabulary, settings=unsearched))
        assert Intent.PAIN not in _accepted(before), (speaker, before)
        now = listen_to_samples(audio, Listener(vocabulary))
        assert _accepted(now) == [Intent.PAIN], (speaker, now)
        (heard,) = [d for d in now if d.accepted]
        # Decided on what followed the pause: it starts about where the pain phrase does.
        assert heard.text == pain and heard.start > ROOM + 0.3, heard


def test_sentences_in_a_reverberant_room_are_not_searched_into_pain(corpus) -> None:
    """What follows a pause inside conversation, or a short reply, is no pain: it must be decoded
    as pain and heard as a pain word by the decoding as ordinary speech too ("if there is any
    pain" is heard as "yes there is in pain", and not decoded as pain)."""
    vocabulary = load_vocabulary()
    for speaker, first, second in (
        ("hibari", "that's", "fine"),
        ("hibari", "try to relax", "your shoulders"),
        ("hibari-low", "okay", "turn over"),
        ("espeak-us", "tell me", "if there is any pain"),
    ):
        audio = _said_in_a_small_room(corpus, speaker, first, second)
        decisions = listen_to_samples(audio, Listener(vocabulary))
        assert Intent.PAIN not in _accepted(decisions), (speaker, first, second, decisions)


def test_a_command_that_more_speech_follows_within_its_quiet_is_not_obeyed(corpus) -> None:
    """The quiet after a command counts to where more speech begins, not to where the segmenter
    has heard enough of it to open an utterance: "speak up ... if anything feels uncomfortable"
    with a pause of 0.39 s is a sentence, and with one of 0.5 s a command and a sentence."""
    vocabulary = load_vocabulary()
    for speaker in ("hibari", "hibari-low"):
        sentence = _said_with_a_pause(
            corpus, speaker, "speak up", "if anything feels uncomfortable", pause=0.39
        )
        decisions = listen_to_samples(sentence, Listener(vocabulary))
        assert not _accepted(decisions), (speaker, decisions)
        assert decisions[0].text == "speak up" and decisions[0].reason == "followed by more speech"
        apart = _said_with_a_pause(
            corpus, speaker, "speak up", "if anything feels uncomfortable", pause=0.5
        )
        assert _accepted(listen_to_samples(apart, Listener(vocabulary))) == [Intent.LOUDER]


def test_faint_voice_where_a_longer_pause_would_not_yet_have_closed_the_command_delays_it(
    corpus, monkeypatch
) -> None:
    """In a steady room "pause the music" closes before a faint "if" that the segmenter would
    once have heard as part of it, and "you want" comes too late to count as more speech. The
    quiet after the command counts from the faint voice instead."""
    espeak = next(s for s in corpus.SPEAKERS if s.name == "espeak-us")
    (clip,) = corpus.sentence_clips(
        ["You can pause the music if you want."], "distractor", [espeak], ["pink_10db"], lead=ROOM
    )
    decisions = listen_to_samples(clip.audio, Listener(load_vocabulary()))
    assert not _accepted(decisions), decisions
    # Decoded as ordinary speech it is more words than "pause please", so the command is refused
    # at once. Without that rule it is held for the quiet after it, which the faint voice ends.
    held = ListenerSettings(more_words_overrule_unsure_commands=False)
    decisions = listen_to_samples(clip.audio, Listener(load_vocabulary(), settings=held))
    assert not _accepted(decisions), decisions
    assert decisions[0].text == "pause please" and decisions[0].reason == "followed by more speech"

    process = Segmenter.process

    def without_faint_voice(self: Segmenter, frame: bytes) -> list:
        events = process(self, frame)
        self.faint_voice = False
        return events

    monkeypatch.setattr(Segmenter, "process", without_faint_voice)
    unheard = listen_to_samples(clip.audio, Listener(load_vocabulary(), settings=held))
    assert _accepted(unheard) == [Intent.PAUSE], unheard


def test_a_command_faint_voice_keeps_following_is_not_held_for_ever(corpus, monkeypatch) -> None:
    """Faint voice after a command keeps its quiet from beginning, as it would have kept its
    utterance going; like that utterance, it grows too long for a command at last."""
    hibari = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    (clip,) = corpus.command_clips([hibari], ["clean"], {Intent.PAUSE: ("pause",)}, lead=ROOM)
    audio = np.concatenate([clip.audio, np.zeros(3 * 16000, np.int16)])
    process = Segmenter.process

    def murmuring_after_the_command(self: Segmenter, frame: bytes) -> list:
        events = process(self, frame)
        self.faint_voice = self.speech_end > 0 and not self.in_speech
        return events

    monkeypatch.setattr(Segmenter, "process", murmuring_after_the_command)
    listener = Listener(load_vocabulary())
    decisions = [d for at in range(0, len(audio), 320) for d in listener.feed(audio[at : at + 320])]
    (decision,) = decisions
    assert decision.text == "pause" and decision.reason == "followed by more speech", decision
    settings = listener.settings
    assert decision.emitted_at - decision.start == pytest.approx(settings.max_duration, abs=0.05)


def test_only_pain_counts_right_after_other_speech(listener: Listener) -> None:
    fresh = _fresh(listener)
    fresh._previous_end = 1.0  # other speech ended there
    pain = fresh.decide(Hypothesis("patient in pain", 0.9), 1.1, 2.0, 2.1)
    assert pain.command is Intent.PAIN
    fragment = fresh.decide(Hypothesis("next please", 0.9), 1.1, 2.0, 2.1)
    assert fragment.command is None and fragment.reason == "part of longer speech"


def test_conversation_rejected(listener: Listener, corpus) -> None:
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "espeak-us")]
    clips = list(
        corpus.sentence_clips(corpus.THERAPIST_SENTENCES, "distractor", speakers, lead=ROOM)
    )
    clips += list(corpus.human_clips(lead=ROOM))
    accepted = {}
    for clip in clips:
        decisions = listen_to_samples(clip.audio, _fresh(listener))
        if _accepted(decisions):
            accepted[clip.name] = [d.text for d in decisions]
    # The sentences that contain command words must never pass.
    for sentence in corpus.THERAPIST_SENTENCES[:3]:
        assert not any(sentence in name for name in accepted), accepted
    # The target is 2 in 100 (README: met overall, not yet by every voice); this holds what is
    # reached.
    assert len(accepted) <= len(clips) * 5 // 100, accepted


def _mix(a: np.ndarray, b: np.ndarray, at: int, gain_db: float) -> np.ndarray:
    out = a.astype(np.float32).copy()
    if len(out) < at + len(b):
        out = np.concatenate([out, np.zeros(at + len(b) - len(out), np.float32)])
    out[at : at + len(b)] += b.astype(np.float32) * 10 ** (gain_db / 20)
    return np.clip(out, -32768, 32767).astype(np.int16)


def test_assistant_announcements_never_obeyed(listener: Listener, corpus) -> None:
    speaker = next(s for s in corpus.SPEAKERS if s.name == "espeak-gb")
    for clip in corpus.sentence_clips(corpus.assistant_announcements(), "announcement", [speaker]):
        interval = SpeakingInterval(clip.speech_start, clip.speech_end, clip.text)
        decisions = listen_to_samples(clip.audio, _fresh(listener), [interval])
        assert not _accepted(decisions), (clip.text, decisions)


def test_echo_of_a_command_word_is_not_obeyed(listener: Listener, corpus) -> None:
    # The assistant says "Next." itself: a perfect command, but its own.
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    clip = next(corpus.command_clips([speaker], ["clean"], {Intent.NEXT: ("next",)}))
    said = SpeakingInterval(clip.speech_start - 0.1, clip.speech_end, "Next. Say next when ready")
    decisions = listen_to_samples(clip.audio, _fresh(listener), [said])
    assert not _accepted(decisions)
    assert all(d.reason for d in decisions)


def test_while_the_assistant_speaks_pain_is_sensitive_and_other_commands_need_certainty(
    listener: Listener,
) -> None:
    from assistant.listening import Hypothesis

    fresh = _fresh(listener)
    fresh.assistant_speaking("Knead the upper trapezius gently.", 0.0, 5.0)
    unsure_next = fresh.decide(Hypothesis("next please", 0.7), 1.0, 1.8, 2.0)
    assert unsure_next.command is None and unsure_next.reason == "the assistant was speaking"
    unsure_pain = fresh.decide(Hypothesis("patient in pain", 0.45), 3.0, 3.9, 4.1)
    assert unsure_pain.command is Intent.PAIN
    # Outside the assistant's speech the same unsure "next please" is obeyed.
    assert fresh.decide(Hypothesis("next please", 0.7), 7.0, 7.8, 8.0).command is Intent.NEXT


def test_pain_over_the_assistant_naming_it_counts_unless_said_as_it_names_it(
    listener: Listener,
) -> None:
    from assistant.listening import Hypothesis

    help_text = (
        "Say next, repeat, go back, skip this, pause, how many left, or stop session. "
        "Say patient in pain at any time."
    )
    fresh = _fresh(listener)
    fresh.assistant_speaking(help_text, 0.0, duration=10.0)
    # Early in the sentence the assistant is naming other commands: this is the therapist.
    assert fresh.decide(Hypothesis("patient in pain", 0.9), 1.0, 2.0, 2.1).command is Intent.PAIN
    # "next" said just as the assistant says "next" is the assistant's own.
    own = fresh.decide(Hypothesis("next", 0.95), 0.2, 0.8, 0.9)
    assert own.command is None and own.reason == "the assistant's own words"
    # Near the end it says "patient in pain" itself.
    late = fresh.decide(Hypothesis("patient in pain", 0.9), 7.8, 8.8, 8.9)
    assert late.command is None and late.reason == "the assistant's own words"


def test_a_bare_pain_heard_before_the_echo_of_a_sentence_is_cancelled_is_not_obeyed(
    listener: Listener,
) -> None:
    """On the virtual devices, what was left of the "Say" that starts the help, before the
    canceller had found where the sentence lay, was heard as "pain"."""
    fresh = _fresh(listener)
    fresh.assistant_speaking("Say next, repeat, or stop session.", 0.0, duration=3.0)
    fresh.echo_unsettled(0.4)  # the canceller finds the sentence's delay 0.4 s into it
    bare = fresh.decide(Hypothesis("pain", 0.9), 0.1, 0.35, 0.6)
    assert bare.command is None and bare.reason == "the start of the assistant's sentence"
    # A phrase of several words outlasts what is left of one word; later, "pain" is heard.
    assert fresh.decide(Hypothesis("patient in pain", 0.9), 0.1, 1.0, 1.2).command is Intent.PAIN
    assert fresh.decide(Hypothesis("pain", 0.9), 1.5, 1.8, 2.0).command is Intent.PAIN


def test_a_clear_command_cuts_in_while_the_assistant_speaks_of_something_else(
    listener: Listener, corpus
) -> None:
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari-low")
    phrases = {Intent.PAIN: ("patient in pain",), Intent.NEXT: ("next please",)}
    for clip in corpus.command_clips([therapist], ["clean"], phrases):
        interval = SpeakingInterval(
            0.0, len(clip.audio) / 16000, "Knead the upper trapezius gently."
        )
        decisions = listen_to_samples(clip.audio, _fresh(listener), [interval])
        assert _accepted(decisions) == [clip.intent], decisions


def test_pain_heard_over_quiet_assistant_echo(listener: Listener, corpus) -> None:
    assistant = next(s for s in corpus.SPEAKERS if s.name == "espeak-gb")
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    text = "Step three: effleurage of the upper back. Say next when ready."
    echo = corpus.synthesize(text, assistant)
    pain = corpus.synthesize("patient in pain", therapist)
    lead = np.zeros(int(0.6 * 16000), np.float32)
    # A loudspeaker across the room reaches the microphone about 20 dB below the therapist.
    echo_track = np.round(np.concatenate([lead, echo, lead]) * 32767 * 0.1).astype(np.int16)
    therapist_at = len(lead) + len(echo) - int(0.8 * 16000)
    mixed = _mix(echo_track, np.round(np.concatenate([pain, lead]) * 32767), therapist_at, 0.0)
    interval = SpeakingInterval(0.6, 0.6 + len(echo) / 16000, text)
    decisions = listen_to_samples(mixed, _fresh(listener), [interval])
    assert Intent.PAIN in _accepted(decisions)
    assert Intent.NEXT not in _accepted(decisions)


def test_level_check_warns_about_a_silent_microphone() -> None:
    from assistant.listening.microphone import LevelCheck

    check = LevelCheck(floor_db=-70, seconds=1.0)
    silent = np.zeros(1600, np.int16)
    warnings = [check.update(silent) for _ in range(12)]
    assert sum(w is not None for w in warnings) == 1
    assert "can't hear the microphone" in next(w for w in warnings if w)
    noisy = (np.random.default_rng(0).standard_normal(1600) * 300).astype(np.int16)
    assert check.update(noisy) is None


def test_decision_times_and_file_helper(listener: Listener, corpus, tmp_path) -> None:
    import soundfile as sf

    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    clip = next(corpus.command_clips([speaker], ["clean"], {Intent.REPEAT: ("repeat",)}))
    path = tmp_path / "repeat-44k-stereo.wav"
    stereo = np.repeat(clip.audio[:, None], 2, axis=1).astype(np.float32) / 32768
    from assistant.listening.listener import _resample

    sf.write(str(path), _resample(stereo[:, 0], 16000, 44100)[:, None].repeat(2, 1), 44100)
    decisions = listen_to_file(path, _fresh(listener))
    assert _accepted(decisions) == [Intent.REPEAT]
    decision = decisions[0]
    assert decision.start <= clip.speech_start + 0.15
    assert decision.end >= clip.speech_end - 0.15
    assert decision.end <= decision.emitted_at <= decision.end + 0.5
    assert decision.reason is None and 0 <= decision.confidence <= 1


def test_vosk_engine(corpus) -> None:
    path, why = find_vosk_model()
    if path is None:
        pytest.skip(f"vosk tests need a vosk English model: {why}")
    listener = Listener(vosk_model=path)
    assert listener.choice.name == "vosk"
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    for clip in corpus.command_clips([speaker], ["clean"], {Intent.PAIN: ("patient in pain",)}):
        assert _accepted(listen_to_samples(clip.audio, _fresh(listener))) == [Intent.PAIN]
    for clip in corpus.sentence_clips(corpus.THERAPIST_SENTENCES[:3], "distractor", [speaker]):
        assert not _accepted(listen_to_samples(clip.audio, _fresh(listener)))


def test_yes_and_no_are_heard_only_while_a_question_waits(listener: Listener, corpus) -> None:
    answers = load_vocabulary().answers
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low")]
    misses, obeyed = [], []
    for clip in corpus.command_clips(speakers, ["clean"], answers):
        asking = _fresh(listener)
        asking.listen_for(Listening.ANSWERS)
        decisions = listen_to_samples(clip.audio, asking)
        if _accepted(decisions) != [clip.intent]:
            misses.append((clip.name, [(d.text, d.reason) for d in decisions]))
        # The same words during the massage (no question waiting) steer nothing. Only pain may
        # come of them: what an answer took is decoded again for pain, on purpose.
        massaging = _fresh(listener)
        massaging.listen_for(Listening.COMMANDS)
        if set(_accepted(listen_to_samples(clip.audio, massaging))) - {Intent.PAIN}:
            obeyed.append(clip.name)
    assert not misses
    assert not obeyed
    # Commands still work while a question waits: stop session, patient in pain.
    asking = _fresh(listener)
    asking.listen_for(Listening.ANSWERS)
    stop = next(corpus.command_clips(speakers[:1], ["clean"], {Intent.STOP: ("stop session",)}))
    assert _accepted(listen_to_samples(stop.audio, asking)) == [Intent.STOP]


def test_pain_scores_are_heard_after_pain_and_never_take_the_place_of_pain(
    listener: Listener, corpus
) -> None:
    vocabulary = load_vocabulary()
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low")]
    levels = {Intent.PAIN_LEVEL: vocabulary.pain_levels}
    wrong = []
    for clip in corpus.command_clips(speakers, ["clean"], levels):
        after_pain = _fresh(listener)
        after_pain.listen_for(Listening.PAIN_LEVEL)
        heard = [(d.command, d.text) for d in listen_to_samples(clip.audio, after_pain)]
        if heard != [(Intent.PAIN_LEVEL, clip.text)]:
            wrong.append((clip.name, heard))
    assert not wrong
    # With the scores in the grammar, a new "patient in pain" is still pain, in noise too.
    pain = {Intent.PAIN: vocabulary.commands[Intent.PAIN]}
    for clip in corpus.command_clips(speakers, ["clean", "pink_10db"], pain):
        after_pain = _fresh(listener)
        after_pain.listen_for(Listening.PAIN_LEVEL)
        heard = _accepted(listen_to_samples(clip.audio, after_pain))
        assert not {Intent.PAIN_LEVEL, Intent.FALSE_ALARM} & set(heard), clip.name
        if clip.condition == "clean":
            assert heard == [Intent.PAIN], clip.name


def test_a_false_alarm_is_heard_after_pain_and_never_taken_for_pain(
    listener: Listener, corpus
) -> None:
    """ "False alarm" withdraws a pain event: it is listened for while one is in hand. During a
    massage that had none it is not, and is never taken for pain (one voice's is taken for
    "pause please": README.md)."""
    false_alarm = {Intent.FALSE_ALARM: load_vocabulary().false_alarm}
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low", "espeak-us")]
    for clip in corpus.command_clips(speakers, ["clean", "pink_20db"], false_alarm):
        after_pain = _fresh(listener)
        after_pain.listen_for(Listening.PAIN_LEVEL)
        heard = [(d.command, d.text) for d in listen_to_samples(clip.audio, after_pain)]
        assert heard == [(Intent.FALSE_ALARM, clip.text)], (clip.name, heard)
        massaging = _fresh(listener)
        massaging.listen_for(Listening.COMMANDS)
        heard_then = _accepted(listen_to_samples(clip.audio, massaging))
        assert Intent.PAIN not in heard_then and Intent.FALSE_ALARM not in heard_then, clip.name


def test_a_patients_short_replies_are_not_obeyed(listener: Listener, corpus) -> None:
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low")]
    listed = load_vocabulary().other_speech_phrases()
    obeyed, recognised = [], 0
    for clip in corpus.sentence_clips(corpus.PATIENT_REPLIES, "reply", speakers, lead=ROOM):
        decisions = listen_to_samples(clip.audio, _fresh(listener))
        if _accepted(decisions):
            obeyed.append((clip.name, _accepted(decisions)))
        recognised += any(d.reason == "other speech, not a command" for d in decisions)
    # Replies the vocabulary lists are decoded as themselves; the others must still not be
    # obeyed often (bench_asr measures them in noise and music as well).
    listed_replies = [r for r in corpus.PATIENT_REPLIES if normalize(r) in listed]
    assert len(listed_replies) >= 10
    assert recognised >= len(listed_replies) * len(speakers) * 0.8
    # Pain may come of a reply that sounds like it (decoded again on purpose); little else may:
    # 2 of these 48, with what the engine heard before (bench_asr measures every voice).
    steering = [(name, heard) for name, heard in obeyed if Intent.PAIN not in heard]
    assert len(steering) <= 2, steering


def test_a_therapists_instructions_to_the_patient_are_room_talk(listener: Listener, corpus) -> None:
    """Breathing, turning and holding cues are what a therapist says most; unlisted, the grammar
    forced them into commands ("breathe in" into "resume", "relax" into "next", "stay still"
    into "status")."""
    vocabulary = load_vocabulary()
    instructions = (
        "Breathe in.",
        "Breathe out.",
        "Relax.",
        "Turn over.",
        "Chin down.",
        "Stay still.",
        "There we go.",
    )
    assert all(normalize(text) in vocabulary.other_speech_phrases() for text in instructions)
    cues = {normalize(text) for text in instructions}
    unlisted = vocabulary.model_copy(
        update={"other_speech": tuple(p for p in vocabulary.other_speech if p not in cues)}
    )
    # Unlisted, the decoding as ordinary speech keeps most of them out too; what the listing
    # does is measured without it.
    unvetoed = ListenerSettings(
        pain_overruled_below=0.0, free_text_may_overrule_sure_commands=False
    )
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low", "espeak-us")]
    clips = list(
        corpus.sentence_clips(instructions, "aside", speakers, ["clean", "pink_10db"], lead=ROOM)
    )
    heard_as_themselves, obeyed_unlisted = 0, 0
    for clip in clips:
        decisions = listen_to_samples(clip.audio, Listener(vocabulary, engine=listener.engine))
        assert not _accepted(decisions), (clip.name, decisions)
        heard_as_themselves += any(
            starts_with_words(normalize(clip.text), d.text) for d in decisions
        )
        before = listen_to_samples(
            clip.audio, Listener(unlisted, engine=listener.engine, settings=unvetoed)
        )
        obeyed_unlisted += bool(_accepted(before))
    assert heard_as_themselves >= 0.8 * len(clips)
    assert obeyed_unlisted >= 4


def test_pain_taken_for_room_talk_is_decoded_again_and_kept(listener: Listener, corpus) -> None:
    """ "Fine" is near "pain": what other speech or an answer took is decoded again for pain."""
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    quiet = np.zeros(int(0.3 * corpus.RATE), np.float32)  # as the segmenter's preroll gives

    def decided_as(text: str, heard: str) -> Decision:
        speech = np.concatenate([quiet, corpus.synthesize(text, speaker), quiet])
        pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes()
        fresh = _fresh(listener)
        # The utterance decoded as the listener does (the phone loop's view of it stands), then
        # the decision as if the grammar had heard room talk in it.
        fresh.engine.start()
        fresh.engine.feed(pcm)
        fresh.engine.finish()
        fresh._audio = [pcm]
        return fresh.decide(Hypothesis(heard, 0.9), 1.0, 1.0 + len(speech) / corpus.RATE, 3.0)

    # "breathe": the grammar search stopped partway into "breathe in".
    for text, absorbed_as in (
        ("pain", "fine"),
        ("it hurts", "good"),
        ("patient in pain", "no"),
        ("pain", "breathe"),
    ):
        decision = decided_as(text, absorbed_as)
        assert (decision.command, decision.text) == (Intent.PAIN, text)
    # Room talk that is not pain stays ignored, even where the commands alone would take it.
    decision = decided_as("Thank you.", "thank you")
    assert decision.command is None and decision.reason == "other speech, not a command"


PAIN_INSTRUCTION = (
    "Stop the technique. Switch to gentle stroking on a neighbouring area, away from the neck. "
    "The rest of the session will be gentle. Say resume or next when the patient is ready."
)


def _decided_over_pain_instruction(
    listener: Listener, listening: Listening, audio: np.ndarray, heard: str
) -> Decision:
    """What the listener makes of audio heard as `heard` while the pain instruction sounds."""
    fresh = _fresh(listener)
    fresh.listen_for(listening)
    fresh.feed(np.zeros(320, np.int16))  # what to listen for applies from the next utterance
    fresh.assistant_speaking(PAIN_INSTRUCTION, 0.0, duration=10.0)
    fresh._audio = [audio.astype("<i2").tobytes()]
    return fresh.decide(Hypothesis(heard, 0.9), 0.1, 0.1 + len(audio) / 16000, 2.0)


def test_once_pain_is_in_hand_its_instruction_is_never_taken_for_pain(
    listener: Listener, corpus
) -> None:
    """Its residue heard as "stop pain" would start the instruction again, and again."""
    assistant = next(s for s in corpus.SPEAKERS if s.name == "espeak-gb")
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    echo = corpus.synthesize(PAIN_INSTRUCTION, assistant)[: int(1.3 * 16000)]
    own = np.round(echo * 32767 * 0.5).astype(np.int16)
    # The first pain is obeyed even if it might be the loudspeaker: missing it is worse.
    first = _decided_over_pain_instruction(listener, Listening.COMMANDS, own, "stop pain")
    assert first.command is Intent.PAIN
    # Once pain is in hand, the assistant's own words explain the sound better.
    again = _decided_over_pain_instruction(listener, Listening.PAIN_LEVEL, own, "stop pain")
    assert again.command is None and again.reason == "the assistant's own words"
    # The therapist saying pain again over the instruction is still heard.
    pain = corpus.synthesize("patient in pain", therapist)
    n = max(len(pain), len(echo))
    mixed = np.zeros(n, np.float32)
    mixed[: len(pain)] += pain
    mixed[: len(echo)] += echo * 0.1
    said = np.round(np.clip(mixed, -1, 1) * 32767).astype(np.int16)
    therapist_again = _decided_over_pain_instruction(
        listener, Listening.PAIN_LEVEL, said, "patient in pain"
    )
    assert therapist_again.command is Intent.PAIN


def test_the_sound_devices_run_on_while_the_assistants_words_are_weighed(
    listener: Listener, corpus
) -> None:
    """The decoders hold Python's lock while they work, and the loudspeaker's and microphone's
    callbacks need it: no decoding the listener asks for over the assistant's voice may hold it
    long (weighing the pain instruction's words once held it 3 s: the voice stalled and the
    microphone lost its sound)."""
    assistant = next(s for s in corpus.SPEAKERS if s.name == "espeak-gb")
    echo = corpus.synthesize(PAIN_INSTRUCTION, assistant)[: int(2.5 * 16000)]
    pcm = np.round(echo * 32767 * 0.5).astype("<i2").tobytes()
    engine = listener.engine
    longest = 0.0
    running = threading.Event()
    running.set()

    def callback_thread() -> None:
        nonlocal longest
        last = time.monotonic()
        while running.is_set():
            time.sleep(0.001)
            now = time.monotonic()
            longest, last = max(longest, now - last), now

    thread = threading.Thread(target=callback_thread)
    thread.start()
    try:
        engine.start()
        engine.feed(pcm)
        engine.finish()
        engine.free_text(pcm)
        engine.decode_again(pcm, listener.vocabulary.commands[Intent.PAIN])
        preferred = engine.prefers_phrase(pcm, "stop pain", PAIN_INSTRUCTION.split())
    finally:
        running.clear()
        thread.join()
    assert not preferred  # it was the assistant's own voice
    assert longest < 0.3, f"the decoders held Python's lock for {longest:.2f} s"


def test_a_reply_forced_into_a_command_is_heard_as_other_words(listener: Listener, corpus) -> None:
    """The grammar makes "not at all" into "help"; decoded as ordinary speech it is not that."""
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low")]
    replies = ["Not at all.", "It's okay."]
    reasons = []
    for clip in corpus.sentence_clips(replies, "reply", speakers, lead=ROOM):
        # A new engine: what earlier tests made it hear must not decide this one.
        decisions = listen_to_samples(clip.audio, Listener(listener.vocabulary))
        assert not set(_accepted(decisions)) - {Intent.PAIN}, (clip.name, decisions)
        reasons += [d.reason for d in decisions]
    assert "heard as other words" in reasons, reasons


def test_the_engine_decodes_an_utterance_as_ordinary_speech(listener: Listener, corpus) -> None:
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    heard = {}
    for clip in corpus.sentence_clips(["next please", "Thank you."], "x", [speaker]):
        pcm = clip.audio[int(0.3 * corpus.RATE) : int((clip.speech_end + 0.3) * corpus.RATE)]
        engine = listener.engine
        engine.start()
        engine.feed(pcm.astype("<i2").tobytes())
        engine.finish()
        heard[clip.text] = engine.free_text(pcm.astype("<i2").tobytes())
    assert heard == {"next please": "next please", "Thank you.": "thank you"}


def test_background_words_come_from_the_language_pack(tmp_path) -> None:
    from assistant.datafile import DataFileError
    from assistant.vocabulary import load_background_words

    words = load_background_words()
    assert len(words) >= 1000 and "the" in words and all(w == normalize(w) for w in words)
    assert load_background_words(path=tmp_path / "none.yaml") == ()
    bad = tmp_path / "background.yaml"
    bad.write_text("language: en\nwords: [the, to]\nextra: 1\n", encoding="utf-8")
    with pytest.raises(DataFileError) as error:
        load_background_words(path=bad)
    assert "background.yaml:3" in str(error.value) and "extra" in str(error.value)


def test_room_talk_both_decoders_heard_is_not_decoded_again_for_pain(
    listener: Listener, corpus
) -> None:
    """ "That's fine" heard as itself by the grammar and as ordinary speech is not taken for pain."""
    speaker = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    quiet = np.zeros(int(0.3 * corpus.RATE), np.float32)
    speech = np.concatenate([quiet, corpus.synthesize("That's fine.", speaker), quiet])
    pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes()
    fresh = Listener(listener.vocabulary)
    fresh.engine.start()
    fresh.engine.feed(pcm)
    fresh.engine.finish()
    commands = fresh.vocabulary.phrase_table()
    # Among the commands alone it is pain: without the rule it would be obeyed as pain.
    assert commands.get(fresh.engine.decode_again(pcm, commands).text) is Intent.PAIN
    assert fresh.engine.free_text(pcm) == "that's fine"
    fresh._audio = [pcm]
    decision = fresh.decide(Hypothesis("that's fine", 0.8), 1.0, 2.0, 3.0)
    assert decision.command is None and decision.reason == "other speech, not a command"


def _decided_with_free_text(
    listener: Listener, heard: Hypothesis, end: float, free_text: str
) -> Decision:
    """The verdict on an utterance from 1.0 s to end, as if decoded as ordinary speech so."""
    fresh = _fresh(listener)
    fresh._audio = [np.zeros(8000, np.int16).tobytes()]
    fresh._free_decoded, fresh._free = True, free_text
    return fresh.decide(heard, 1.0, end, end + 0.5)


def test_words_that_sound_like_the_command_do_not_overrule_it(listener: Listener) -> None:
    """In noise the decoding as ordinary speech hears "hell" for "help": that is no veto."""
    engine = listener.engine
    assert engine.sound_distance("hell", "help") <= 0.5 < engine.sound_distance("national", "help")
    help_heard = Hypothesis("help", 0.6)
    assert _decided_with_free_text(listener, help_heard, 1.5, "hell").command is Intent.HELP
    vetoed = _decided_with_free_text(listener, help_heard, 1.5, "national")
    assert vetoed.reason == "heard as other words"


def test_a_sure_command_heard_as_more_words_than_it_has_is_other_words(
    listener: Listener,
) -> None:
    """ "Slowly now" is heard as "slow down" the phone loop confirms well; as ordinary speech it
    is "slow we now", more words than the phrase has."""
    slow_down = Hypothesis("slow down", 0.75)
    assert slow_down.confidence >= listener.settings.free_text_overrules_below
    vetoed = _decided_with_free_text(listener, slow_down, 1.6, "slow we now")
    assert vetoed.command is None and vetoed.reason == "heard as other words"
    # As many words, or only one more that is not the phrase's: a phrase said in noise.
    for heard in ("slow down", "slow out", "slow down please"):
        kept = _decided_with_free_text(listener, slow_down, 1.6, heard)
        assert kept.command is Intent.SLOWER, (heard, kept)


def test_an_unsure_command_heard_as_more_words_than_it_has_is_other_words(
    listener: Listener,
) -> None:
    """ "Take a slow breath" is heard as "take a note" the phone loop doubts; as ordinary speech
    it is itself. Words in common ("take a") do not keep a command that more words than it has,
    two of them not its own, overrule where the phone loop is sure."""
    take_a_note = Hypothesis("take a note", 0.55)
    assert take_a_note.confidence < listener.settings.free_text_overrules_below
    vetoed = _decided_with_free_text(listener, take_a_note, 1.6, "take a slow breath")
    assert vetoed.command is None and vetoed.reason == "heard as other words"
    # As many words, or one more before the phrase: a phrase said in noise.
    for heard in ("take a note", "take the note", "okay take a note", "take a"):
        kept = _decided_with_free_text(listener, take_a_note, 1.6, heard)
        assert kept.command is Intent.NOTE, (heard, kept)
    # The phrase and then a word is a sentence that opens with it (the test after this one).
    assert not _decided_with_free_text(listener, take_a_note, 1.6, "take a note please").accepted
    before = _fresh(listener)
    before.settings = ListenerSettings(more_words_overrule_unsure_commands=False)
    assert _decided_with_free_text(before, take_a_note, 1.6, "take a slow breath").accepted


def test_an_unsure_command_heard_whole_and_then_more_words_is_other_words(
    listener: Listener,
) -> None:
    """ "Repeat that at home" is heard as "repeat that" the phone loop doubts; as ordinary speech
    it is "repeat that home": the phrase opens a sentence, however few words follow it. The phone
    loop sure of the phrase keeps it ("slower eight" for "slower" in music)."""
    repeat_that = Hypothesis("repeat that", 0.56)
    assert repeat_that.confidence < listener.settings.free_text_overrules_below
    vetoed = _decided_with_free_text(listener, repeat_that, 1.9, "repeat that home")
    assert vetoed.command is None and vetoed.reason == "heard as other words"
    # The phrase alone, the phrase with a word before it, or its words in another order stand.
    for heard in ("repeat that", "okay repeat that", "that repeat"):
        kept = _decided_with_free_text(listener, repeat_that, 1.9, heard)
        assert kept.command is Intent.REPEAT, (heard, kept)
    slower = Hypothesis("slower", 0.75)
    assert slower.confidence >= listener.settings.free_text_overrules_below
    assert _decided_with_free_text(listener, slower, 1.6, "slower eight").command is Intent.SLOWER
    lenient = _fresh(listener)
    lenient.settings = ListenerSettings(phrase_then_more_words_overrule_unsure_commands=False)
    assert _decided_with_free_text(lenient, repeat_that, 1.9, "repeat that home").accepted


def _obeyed_only_without_the_rule(
    corpus,
    text: str,
    rooms: tuple[tuple[str, str], ...],
    without: ListenerSettings,
    intent: Intent,
    phrase: str,
) -> None:
    """Through the real decoders, text by each (voice, condition) is obeyed as intent with the
    settings without a rule, and refused as other words (the grammar having heard phrase) with
    the rule."""
    for voice, condition in rooms:
        speaker = [s for s in corpus.SPEAKERS if s.name == voice]
        (clip,) = corpus.sentence_clips([text], "aside", speaker, [condition], lead=ROOM)
        kept = listen_to_samples(clip.audio, Listener(load_vocabulary(), settings=without))
        assert _accepted(kept) == [intent], (voice, condition, kept)
        decisions = listen_to_samples(clip.audio, Listener(load_vocabulary()))
        refused = [(d.text, d.reason) for d in decisions]
        assert refused == [(phrase, "heard as other words")], (voice, condition, decisions)


def test_take_a_slow_breath_is_not_taken_for_a_note(corpus) -> None:
    """The grammar hears "take a note" and the phone loop doubts it; as ordinary speech it is
    more words than the phrase has."""
    rooms = (("hibari-fast", "clean"), ("espeak-us", "clean"), ("hibari", "reverb"))
    without = ListenerSettings(more_words_overrule_unsure_commands=False)
    _obeyed_only_without_the_rule(
        corpus, "Take a slow breath.", rooms, without, Intent.NOTE, "take a note"
    )


def test_repeat_that_at_home_is_not_taken_for_repeat(corpus) -> None:
    """The grammar hears "repeat that" and the phone loop doubts it; as ordinary speech it is the
    phrase and then more."""
    rooms = (("hibari", "clean"), ("hibari-low", "clean"), ("hibari", "music_10db"))
    without = ListenerSettings(phrase_then_more_words_overrule_unsure_commands=False)
    _obeyed_only_without_the_rule(
        corpus, "Repeat that at home.", rooms, without, Intent.REPEAT, "repeat that"
    )


def test_a_command_heard_as_words_more_than_two_apart_from_it_is_other_words(
    listener: Listener,
) -> None:
    """ "What time is it?" is squeezed into "what can i say", "turn your palm up" into "take a
    note" the phone loop is sure of; as ordinary speech each is itself, three words apart from
    the phrase, however many words it shares or has."""
    cases = (
        (Hypothesis("what can i say", 0.6), "what time is it"),
        (Hypothesis("take a note", 0.75), "turn your common"),
    )
    for heard, free_text in cases:
        vetoed = _decided_with_free_text(listener, heard, 1.6, free_text)
        assert vetoed.command is None and vetoed.reason == "heard as other words", free_text
        lenient = _fresh(listener)
        lenient.settings = ListenerSettings(free_text_overrules_beyond_word_edits=3)
        assert _decided_with_free_text(lenient, heard, 1.6, free_text).accepted, free_text
    # Two words apart stand: "hold on" in music was heard as "told nine".
    hold_on = Hypothesis("hold on", 0.6)
    assert _decided_with_free_text(listener, hold_on, 1.4, "told nine").command is Intent.PAUSE


def test_what_time_is_it_is_not_taken_for_help(corpus) -> None:
    """The grammar hears "what can i say"; as ordinary speech it is itself, three words apart
    from the phrase."""
    rooms = (("hibari", "music_10db"), ("espeak-us", "reverb"))
    without = ListenerSettings(free_text_overrules_beyond_word_edits=3)
    _obeyed_only_without_the_rule(
        corpus, "What time is it?", rooms, without, Intent.HELP, "what can i say"
    )


def test_a_command_that_opens_with_room_talk_needs_its_own_words_heard(listener: Listener) -> None:
    """ "Okay then" is heard as "okay next"; as ordinary speech it is "okay" and another word."""
    okay_next = Hypothesis("okay next", 0.75)
    for heard in ("okay then", "okay that"):
        vetoed = _decided_with_free_text(listener, okay_next, 1.6, heard)
        assert vetoed.command is None and vetoed.reason == "heard as other words", heard
    for heard in ("okay next", "okay next please", "next", "there okay next"):
        kept = _decided_with_free_text(listener, okay_next, 1.6, heard)
        assert kept.command is Intent.NEXT, (heard, kept)


def test_weak_pain_heard_as_a_few_other_words_is_not_pain(listener: Listener) -> None:
    """ "Is that alright?" came out of the grammar as "it hurts", the phone loop agreeing poorly;
    decoded as ordinary speech it is three words, none of pain's."""
    weak = Hypothesis("it hurts", 0.5)
    assert weak.confidence < listener.settings.pain_overruled_below
    vetoed = _decided_with_free_text(listener, weak, 1.7, "is that alright")
    assert vetoed.command is None and vetoed.reason == "heard as other words"
    # Two words are not enough where the grammar heard pain itself; pain's own words, or the
    # phrase's, keep it ("thank you it hurts": pain said after other words).
    for heard in ("that's nice", "thank you it hurts", "it go test", "higher", ""):
        kept = _decided_with_free_text(listener, weak, 1.7, heard)
        assert kept.command is Intent.PAIN, (heard, kept)
    # The phone loop agreeing well, other words do not overrule pain (a question does: below).
    sure = Hypothesis("it hurts", listener.settings.pain_overruled_below)
    other_words = _decided_with_free_text(listener, weak, 1.7, "that's very nice")
    assert other_words.reason == "heard as other words"
    assert _decided_with_free_text(listener, sure, 1.7, "that's very nice").command is Intent.PAIN


def test_pain_in_a_question_is_the_therapist_asking_after_it(listener: Listener) -> None:
    """ "Does it hurt?" came out of the grammar as "it hurts", the phone loop agreeing well; as
    ordinary speech it opens with "does". Pain's own reports never open so."""
    sure = Hypothesis("it hurts", 0.75)
    asking = ("does it hurts", "any pain", "tell me if it hurts", "is that it hurts")
    # "Is that painful?" and "is the pain better?", as heard in noise.
    for heard in (*asking, "is not pain full", "is stop pain better"):
        asked = _decided_with_free_text(listener, sure, 1.7, heard)
        assert asked.command is None and asked.reason == "a question about pain", heard
    # "Is" opens "patient is in pain" cut short too: "is in" goes on as pain, "is" alone may.
    for heard in ("it hurts", "thank you it hurts", "is in pain", "patient is in pain", "", "is"):
        kept = _decided_with_free_text(listener, sure, 1.7, heard)
        assert kept.command is Intent.PAIN, (heard, kept)
    unasked = _fresh(listener)
    unasked.settings = ListenerSettings(questions_about_pain_rejected=False)
    unasked._audio = [np.zeros(8000, np.int16).tobytes()]
    unasked._free_decoded, unasked._free = True, "does it hurts"
    assert unasked.decide(sure, 1.0, 1.7, 2.2).command is Intent.PAIN


def test_a_therapists_question_about_pain_is_not_taken_for_pain(corpus) -> None:
    """The recording, through the real decoders: without the rule it was pain."""
    hibari = [s for s in corpus.SPEAKERS if s.name == "hibari"]
    (clip,) = corpus.sentence_clips(["Does it hurt?"], "aside", hibari, lead=ROOM)
    unasked = ListenerSettings(questions_about_pain_rejected=False)
    before = listen_to_samples(clip.audio, Listener(load_vocabulary(), settings=unasked))
    assert _accepted(before) == [Intent.PAIN], before
    decisions = listen_to_samples(clip.audio, Listener(load_vocabulary()))
    assert not _accepted(decisions), decisions
    assert [d.reason for d in decisions] == ["a question about pain"], decisions


def test_a_question_opening_with_is_is_not_taken_for_pain(corpus) -> None:
    """ "Is that painful?" came out of the grammar as "stop pain", and as ordinary speech as
    "is back pain fall": a question, through the real decoders."""
    hibari = [s for s in corpus.SPEAKERS if s.name == "hibari"]
    (clip,) = corpus.sentence_clips(["Is that painful?"], "aside", hibari, lead=ROOM)
    vocabulary = load_vocabulary()
    without_is = vocabulary.model_copy(
        update={"question_openings": tuple(o for o in vocabulary.question_openings if o != "is")}
    )
    before = listen_to_samples(clip.audio, Listener(without_is))
    assert _accepted(before) == [Intent.PAIN], before
    decisions = listen_to_samples(clip.audio, Listener(vocabulary))
    assert [(d.command, d.reason) for d in decisions] == [(None, "a question about pain")]


def test_the_words_of_question_openings_are_heard_as_ordinary_speech() -> None:
    """An opening whose word the frequent words lack still joins the decoding's vocabulary."""
    vocabulary = load_vocabulary()
    asking = vocabulary.model_copy(update={"question_openings": ("whereabouts",)})
    unknown = Listener(vocabulary).engine.sound_distance("whereabouts", "where are we")
    known = Listener(asking).engine.sound_distance("whereabouts", "where are we")
    assert unknown is not None and known is not None
    assert unknown >= 1.0 > known


def test_a_question_opening_may_not_open_with_a_pain_phrase(tmp_path) -> None:
    """ "In pain" would take "patient in pain" cut short for a question: the file is refused."""
    from assistant.datafile import DataFileError
    from assistant.resources import voices_dir

    text = (voices_dir() / "en" / "commands.yaml").read_text()
    assert "question_openings: [does," in text
    path = tmp_path / "commands.yaml"
    path.write_text(text.replace("question_openings: [does,", "question_openings: [in pain, does,"))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "[in pain, does," in t)
    with pytest.raises(DataFileError) as caught:
        load_vocabulary(path=path)
    assert str(caught.value) == (
        f"{path}:{line}: question_openings: these open with a pain phrase or its end: in pain"
    )


def test_false_alarm_needs_a_phrase_of_its_own(tmp_path) -> None:
    from assistant.datafile import DataFileError
    from assistant.resources import voices_dir

    text = (voices_dir() / "en" / "commands.yaml").read_text()
    assert "false_alarm: [false alarm]" in text
    path = tmp_path / "commands.yaml"
    for given, problem in (
        ("[]", "false_alarm: needs at least one phrase"),
        ("[pause]", "the phrase 'pause' is given for both pause and false alarm"),
    ):
        path.write_text(text.replace("false_alarm: [false alarm]", f"false_alarm: {given}"))
        with pytest.raises(DataFileError) as caught:
            load_vocabulary(path=path)
        assert str(caught.value).endswith(problem), caught.value
    vocabulary = load_vocabulary()
    assert vocabulary.match("False alarm.") is Intent.FALSE_ALARM  # typed
    assert vocabulary.table_for(Listening.PAIN_LEVEL)["false alarm"] is Intent.FALSE_ALARM
    assert "false alarm" not in vocabulary.table_for(Listening.COMMANDS)


def test_an_opening_is_a_question_only_where_it_does_not_go_on_as_pain() -> None:
    vocabulary = load_vocabulary()
    assert "is" in vocabulary.question_opening_phrases()
    for heard in ("is that painful", "is not hurts", "Does it hurt?", "any pain"):
        assert vocabulary.opens_as_question(heard), heard
    for heard in ("is in pain", "is", "patient is in pain", "it hurts", "this is it", ""):
        assert not vocabulary.opens_as_question(heard), heard


def test_a_patients_reply_the_commands_alone_take_for_pain_is_not_pain(corpus) -> None:
    """ "Bit sore" and "a bit tight" the grammar hears as room talk, the commands alone as "it
    hurts"; decoded as ordinary speech they are two other words ("good slower", "that's nice")."""
    speakers = [s for s in corpus.SPEAKERS if s.name in ("hibari", "hibari-low")]
    clips = list(corpus.sentence_clips(["Bit sore."], "reply", speakers, lead=ROOM))
    clips += corpus.sentence_clips(["A bit tight."], "reply", speakers[:1], lead=ROOM)
    unvetoed = ListenerSettings(pain_overruled_below=0.0)
    for clip in clips:
        # New engines: what earlier utterances made one hear must not decide these.
        before = listen_to_samples(clip.audio, Listener(load_vocabulary(), settings=unvetoed))
        assert _accepted(before) == [Intent.PAIN], (clip.name, before)
        decisions = listen_to_samples(clip.audio, Listener(load_vocabulary()))
        assert not _accepted(decisions), (clip.name, decisions)
        assert "heard as other words" in [d.reason for d in decisions], (clip.name, decisions)


def test_a_phrase_heard_alone_as_ordinary_speech_may_run_long_in_noise(listener: Listener) -> None:
    """In loud noise an utterance ends late; "go back" heard so by both decoders still counts."""
    end = 1.1 + listener.settings.phrase_time_limit("go back")
    go_back = Hypothesis("go back", 0.6)
    assert _decided_with_free_text(listener, go_back, end, "go back").command is Intent.BACK
    too_long = _decided_with_free_text(listener, go_back, end, "go back for")
    assert too_long.reason == "too long for the phrase"


def test_pain_the_grammar_cannot_finish_in_noise_is_heard_whole_as_ordinary_speech(
    corpus,
) -> None:
    """At 10 dB the grammar stops at "patient in"; the decoding among words hears it all."""
    speakers = [s for s in corpus.SPEAKERS if s.name == "hibari-fast"]
    pain = {Intent.PAIN: ("patient in pain", "patient is in pain")}
    for clip in corpus.command_clips(speakers, ["pink_10db"], pain, lead=ROOM):
        heard = Listener(load_vocabulary())
        decisions = listen_to_samples(clip.audio, heard)
        assert _accepted(decisions) == [Intent.PAIN], (clip.name, decisions)
        # What made it hard: the grammar stops short of the phrase; given the phrase alone, the
        # engine returns it whole, judged by the phone loop.
        engine, utterance = Listener(heard.vocabulary).engine, b"".join(heard._audio)
        engine.start()
        engine.feed(utterance)
        phrase = normalize(clip.text)
        assert phrase.startswith(engine.finish().text + " "), clip.name
        alone = engine.decode_again(utterance, [phrase])
        assert alone.text == phrase and alone.confidence >= heard.settings.threshold(Intent.PAIN)


def test_pain_the_grammar_stops_short_of_is_decoded_again_whole(corpus) -> None:
    """In pink noise at 10 dB a new listener's grammar search stopped at "patient" and nothing
    rescued it (bench_asr: pain as the first command)."""
    vocabulary = load_vocabulary()
    uncut = ListenerSettings(pain_cut_short=False)
    said = {"hibari-fast": {Intent.PAIN: ("patient in pain",)}}
    for speaker in (s for s in corpus.SPEAKERS if s.name in said):
        for clip in corpus.command_clips([speaker], ["pink_10db"], said[speaker.name]):
            without = listen_to_samples(clip.audio, Listener(vocabulary, settings=uncut))
            assert _accepted(without) != [Intent.PAIN], clip.name
            assert any(d.text.startswith("patient") for d in without), (clip.name, without)
            heard = listen_to_samples(clip.audio, Listener(vocabulary))
            assert _accepted(heard) == [Intent.PAIN], (clip.name, heard)


class _CutShort:
    """The real engine, but its grammar search stops short of "patient is in pain" in every
    utterance, and given that phrase alone returns it whole: what loud noise did to it."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.name = engine.name
        self.asked: list[list[str]] = []

    def finish(self) -> Hypothesis:
        self._engine.finish()
        return Hypothesis("patient is", 0.0)

    def decode_again(self, pcm: bytes, phrases) -> Hypothesis:
        self.asked.append(list(phrases))
        return (
            Hypothesis("patient is in pain", 0.9)
            if self.asked[-1] == ["patient is in pain"]
            else Hypothesis("", 0.0)
        )

    def __getattr__(self, name: str):
        return getattr(self._engine, name)


def test_only_pain_phrases_cut_short_by_half_or_less_are_decoded_again(listener) -> None:
    """A bare "it" is all of "it's okay" as much as the start of "it hurts"; "stop" may start
    "stop session" as well as "stop pain", even while only pain is listened for (a voice note)."""
    engine = _CutShort(listener.engine)
    cutting = Listener(listener.vocabulary, engine=engine)  # type: ignore[arg-type]
    for text in ("it", "stop"):
        decision = cutting.decide(Hypothesis(text, 0.9), 1.0, 1.5, 1.6)
        assert decision.command is None and decision.reason == "not a command"
    assert not engine.asked
    whole = cutting.decide(Hypothesis("patient is", 0.0), 1.0, 1.5, 1.6)
    assert whole.command is Intent.PAIN and whole.text == "patient is in pain"
    assert engine.asked == [["patient is in pain"]]
    cutting.listen_for(Listening.NOTE)
    cutting.feed(np.zeros(480, np.int16))  # the next utterance is heard as a voice note's
    assert cutting.decide(Hypothesis("stop", 0.9), 2.0, 2.5, 2.6).command is None
    assert engine.asked == [["patient is in pain"]]


def test_the_assistant_saying_the_patient_is_is_not_taken_for_pain_cut_short(
    listener, corpus
) -> None:
    """Its own "the patient is lying ..." begins a pain phrase too: over its voice a phrase cut
    short is not decoded again (nor would the time that takes be free: the sound devices wait)."""
    assistant = next(s for s in corpus.SPEAKERS if s.name == "espeak-gb")
    (clip,) = corpus.sentence_clips(["The patient is lying"], "announcement", [assistant])
    said = "Position: the patient is lying on his stomach, arms along the body."
    interval = SpeakingInterval(clip.speech_start - 0.2, clip.speech_end + 1.5, said)
    for speaking, obeyed in (([], [Intent.PAIN]), ([interval], [])):
        listener.engine.new_channel()
        engine = _CutShort(listener.engine)
        cutting = Listener(listener.vocabulary, engine=engine)  # type: ignore[arg-type]
        assert _accepted(listen_to_samples(clip.audio, cutting, speaking)) == obeyed
        assert bool(engine.asked) == bool(obeyed)
