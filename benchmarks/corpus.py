"""Generated recordings for measuring and testing command recognition.

Commands are synthesised with hibari-tts (several speakers made by speed and pitch changes) and
two espeak-ng voices, then placed in clips under several acoustic conditions. Distractors are
therapist-to-patient sentences (many containing command words), the assistant's own
announcements, and real human recordings from the pocketsphinx-testdata Debian package.

Everything is cached under MASSAGE_ASSISTANT_CORPUS_DIR or the user cache directory, never in
the repository. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from platformdirs import user_cache_dir

from assistant.intents import Intent
from assistant.vocabulary import load_vocabulary

RATE = 16000
LEAD_S = 0.6
TAIL_S = 1.0
TESTDATA_DIR = Path("/usr/share/pocketsphinx/test/data")


@dataclass(frozen=True)
class Speaker:
    name: str
    engine: str  # "hibari" or "espeak"
    speed: float = 1.0
    pitch_cents: int = 0
    voice: str = ""


SPEAKERS: tuple[Speaker, ...] = (
    Speaker("hibari", "hibari"),
    Speaker("hibari-low", "hibari", speed=0.92, pitch_cents=-400),
    Speaker("hibari-fast", "hibari", speed=1.1, pitch_cents=120),
    Speaker("hibari-slow", "hibari", speed=0.8, pitch_cents=-150),
    Speaker("espeak-us", "espeak", speed=1.0, voice="en-us"),
    Speaker("espeak-gb", "espeak", speed=0.9, voice="en-gb-x-rp+m3"),
)

CONDITIONS: tuple[str, ...] = ("clean", "pink_20db", "pink_10db", "music_10db", "reverb")

# What a therapist says to a patient during a session: none of it is a command.
THERAPIST_SENTENCES: tuple[str, ...] = (
    "Next week we'll work on the lower back.",
    "Repeat these stretches at home.",
    "Tell me if there is any pain.",
    "Let me know if the pressure is too much.",
    "Take a deep breath in and slowly out.",
    "Can you turn onto your side for me?",
    "We can go back to the shoulders later.",
    "Does that hurt when I press here?",
    "I'll continue with the neck after this.",
    "Try to relax your shoulders.",
    "How are you feeling today?",
    "Your hamstrings are quite tight.",
    "Let's stop there for today and book the next appointment.",
    "Is the room warm enough for you?",
    "I'm going to use a little more oil.",
    "Drink plenty of water this evening.",
    "Just let your arm hang loose.",
    "If it starts to hurt, say so straight away.",
    "We skipped the calves last time.",
    "You can pause the music if you want.",
    "Say again, which side was sore?",
    "Where are we going for lunch?",
    "The help desk opens at nine.",
    "Slow down your breathing a little.",
    "Speak up if anything feels uncomfortable.",
    "The next client arrives at four.",
)


# What a patient answers during a session: short, and so the hardest to tell from a command.
PATIENT_REPLIES: tuple[str, ...] = (
    "Yes.",
    "No.",
    "Okay.",
    "Yeah.",
    "Sure.",
    "Mm-hmm.",
    "Thank you.",
    "That's fine.",
    "That's better.",
    "Much better.",
    "A little.",
    "A bit lower.",
    "A bit higher.",
    "Right there.",
    "Just there.",
    "Not really.",
    "Not at all.",
    "I'm fine.",
    "It's okay.",
    "Yes, that's good.",
    "No, it's fine.",
    "That feels nice.",
    "Lovely.",
    "Bit sore.",
)


# Words said in passing, to the patient or to no one: the shortest speech, and so the most
# easily forced into a command. None was a phrase of the vocabulary when they were written, on
# purpose: they measure how well rejection does on speech it was never shown. The instructions
# to the patient among them and the words that mark a step ("one moment", "here we go") are now
# listed in other_speech, all but those that took commands (voices/en/commands.yaml says which),
# and scored apart.
ASIDES: tuple[str, ...] = (
    "Please.",
    "Now.",
    "Then.",
    "So.",
    "And.",
    "Well.",
    "Um.",
    "Hmm.",
    "Oh.",
    "Right then.",
    "Okay then.",
    "Relax.",
    "Breathe in.",
    "Breathe out.",
    "Turn over.",
    "Just here.",
    "One moment.",
    "Almost done.",
    "Good job.",
    "Other side.",
    "Left side.",
    "Chin down.",
    "Here we go.",
    "Nearly there.",
)

# More words said in passing, written as the patient instructions among ASIDES were listed in
# the vocabulary's other_speech and before any run on them. Most of those that are words were
# listed in turn on 2026-12-05, and are scored apart; none was tuned on otherwise.
LATER_ASIDES: tuple[str, ...] = (
    "Nice and slow.",
    "Let it go.",
    "Stay still.",
    "Nearly done.",
    "Lift your head.",
    "Arms by your side.",
    "Gently.",
    "There we go.",
    "Mm-hm.",
    "Ah.",
    "Uh-huh.",
    "Bit more.",
    "One more time.",
    "Hold still.",
    "Shoulders down.",
    "Head to the left.",
    "Roll onto your back.",
    "All good?",
)

# Still more, written on 2026-12-05 when the therapist's instructions among ASIDES and
# LATER_ASIDES were listed in other_speech, and before any run on them: none is listed. The
# rules that let the decoding as ordinary speech overrule sure commands and doubtful pain were
# chosen on them among the others, so they are no longer held out. Some sound like commands or
# hold their words ("slowly now", "hold it there"), as a therapist's do.
UNSEEN_ASIDES: tuple[str, ...] = (
    "Take a deep breath.",
    "Keep breathing.",
    "Nice and easy.",
    "Easy does it.",
    "That's it.",
    "Good, that's it.",
    "Just a moment.",
    "Bear with me.",
    "Not long now.",
    "You're doing well.",
    "Let your arms hang.",
    "Tuck your chin in.",
    "Drop your shoulders.",
    "Turn your head.",
    "Face down, please.",
    "Stay relaxed.",
    "Little bit more.",
    "Slowly now.",
    "Hold it there.",
    "How's that?",
    "Is that alright?",
    "Let me know.",
    "Feels good.",
    "Much easier.",
    "A bit tight.",
    "Oh, that's nice.",
)

# And more again, written on the evening of 2026-12-05 before those rules were tried: none is
# listed. The rules for pain and for sure commands were settled before any run on them; the one
# for "okay next" came after a run of the code before them had taken "okay, good" for it.
# Some sound much like pain phrases ("it helps") or hold command words.
NEW_ASIDES: tuple[str, ...] = (
    "Are you warm enough?",
    "Is the pressure okay?",
    "Let me get more oil.",
    "Your neck feels stiff.",
    "A little to the right.",
    "That's the spot.",
    "Can you feel that?",
    "Try to let go.",
    "Just breathe.",
    "Comfortable?",
    "We're halfway.",
    "Keep still for me.",
    "Head straight.",
    "Okay, good.",
    "Right, lovely.",
    "I can feel the knot.",
    "Almost finished.",
    "Shall we move on?",
    "Lie on your side.",
    "Not too hard?",
    "A bit harder.",
    "Sounds good.",
    "It's tense here.",
    "It helps.",
    "Feels tight.",
    "My neck.",
    "Perfect, thanks.",
    "Stretch your arms.",
    "It's nice.",
    "Hands on your tummy.",
)


# Held out at first: written late on 2026-12-05, after the listener's rules were settled, and
# committed before any run on them; none is listed. Some ask after pain ("any pain?", "does it
# hurt?") or hold a command's words ("carry on breathing"), as a therapist's questions do. Listing
# the questions about pain was tried on them and not kept (README.md says why); the vocabulary's
# question_openings were then chosen on them, so they are held out no longer: the set after them
# is.
HELD_OUT_ASIDES: tuple[str, ...] = (
    "Does it hurt?",
    "Any pain?",
    "Hang on.",
    "How does that feel?",
    "Wiggle your toes.",
    "Is that too much?",
    "Mind the edge.",
    "Sorry, cold hands.",
    "Let me move the pillow.",
    "Arms up.",
    "Breathe normally.",
    "There you go.",
    "Does that help?",
    "Better now?",
    "Quite knotted.",
    "Good, good.",
    "Yes, please.",
    "I'm okay.",
    "That tickles.",
    "Ooh.",
    "Feels lovely.",
    "Move up a little.",
    "Turn your palm up.",
    "Keep your eyes closed.",
    "Lovely and warm.",
    "What time is it?",
    "The phone's ringing.",
    "Carry on breathing.",
    "Ready?",
    "Nearly.",
)

# A second held-out set, written on the night of 2026-12-05 and committed before any run on it,
# when the first held-out set above was about to be tuned on (how the therapist's questions about
# pain are told from pain itself). None is listed. A third of them ask after pain or name it, as
# a therapist does all through a session. On 2026-12-06 the rules for questions about pain were
# chosen on them as well, so they are held out no longer: the set after them is.
LAST_HELD_OUT_ASIDES: tuple[str, ...] = (
    "Is that painful?",
    "Is it sore?",
    "Did that hurt?",
    "Where does it hurt?",
    "Any discomfort?",
    "Does this hurt?",
    "Still painful?",
    "Tell me if it hurts.",
    "Too much pressure?",
    "Is the pain better?",
    "Keep going.",
    "Let your jaw relax.",
    "Lift your chin.",
    "Nearly finished now.",
    "Well done.",
    "Scoot down a bit.",
    "Is the pillow alright?",
    "Warm enough?",
    "Let me wipe my hands.",
    "Heavy arms.",
    "Quite stiff here.",
    "Shall I go deeper?",
    "Let me check the time.",
    "Give me a second.",
    "You can relax now.",
    "Over we go.",
    "Nice and loose.",
    "Deep breath in.",
    "Hands by your sides.",
    "Good stuff.",
)


# A third held-out set, written on the morning of 2026-12-06 and committed before any run on it,
# when the second was about to be tuned on. None is listed. As in a session, a third of them ask
# after pain or discomfort. What it was taken for was seen before the rule that a command heard
# with more words is overruled however unsure (listener.py) was tried, so it is held out no
# longer: the set after it is.
THIRD_HELD_OUT_ASIDES: tuple[str, ...] = (
    "How is the pressure?",
    "Any tingling in your hands?",
    "Does that feel tender?",
    "Is this spot sore?",
    "Let me know if it's too much.",
    "Are you comfortable?",
    "Turn your head to the right.",
    "Relax your shoulders for me.",
    "We'll finish with some stroking.",
    "Take a slow breath.",
    "Any numbness?",
    "Does it hurt when I press here?",
    "That's a tight spot.",
    "I'm moving to the other side.",
    "Easy now.",
    "Is that better now?",
    "Still sore there?",
    "Let your head sink.",
    "Drop your chin a little.",
    "I'll work a bit deeper here.",
    "Shall I ease off?",
    "How's your neck today?",
    "Keep breathing slowly.",
    "Almost there.",
    "You're doing great.",
    "Hurting anywhere else?",
    "Chin towards your chest.",
    "Is the room warm enough?",
    "Tell me when it eases.",
    "Feels a bit knotted.",
)


# A fourth held-out set, written later that morning and committed before any run on it, when the
# third was about to inform a rule. None is listed. What it was taken for has been seen since, but
# no rule was chosen on it.
FOURTH_HELD_OUT_ASIDES: tuple[str, ...] = (
    "Let's do the other shoulder.",
    "How did you sleep?",
    "Any headaches this week?",
    "Can you lift your arm?",
    "Lean forward a little.",
    "That's where it's tight.",
    "Just a little longer.",
    "Try not to hold your breath.",
    "Is the music too loud?",
    "Your shoulders are up again.",
    "Does this side feel different?",
    "I'm going to press a bit firmer.",
    "Tell me if you feel dizzy.",
    "Put your arms down.",
    "We'll stretch your neck now.",
    "Feels warmer already.",
    "Nice deep breaths.",
    "Sit up slowly.",
    "Are you cold?",
    "Hold this position.",
    "It aches a bit.",
    "That's lovely.",
    "Where is it stiffest?",
    "Keep your head still.",
    "A bit more to the left.",
    "Sorry, was that sore?",
    "Move closer to me.",
    "Thanks, that's much better.",
    "Can you feel it in your arm?",
    "Lift your shoulders to your ears.",
)


# A fifth held-out set, written at 06:40 on 2026-12-06 and committed before any run on it, when
# the fourth was about to be seen. None is listed. A third ask after pain, ache or stiffness; some
# hold a command's words ("repeat that", "go back", "continue").
FIFTH_HELD_OUT_ASIDES: tuple[str, ...] = (
    "Any pain when I do this?",
    "Hurts a little, doesn't it?",
    "Is it tender here?",
    "Did you feel that?",
    "Pain in the neck again?",
    "How bad is it today?",
    "Any stiffness this morning?",
    "Sore after last time?",
    "Does the left side ache?",
    "Let me know when it's too firm.",
    "Roll your shoulders back.",
    "Nod your head slowly.",
    "Let your arms hang.",
    "We're halfway through.",
    "Next time we'll do your back.",
    "Repeat that at home.",
    "Go back to sleep if you like.",
    "Stop me if you need to.",
    "Continue breathing.",
    "Mmm, lovely.",
    "Is the towel okay?",
    "Loosen your jaw.",
    "Okay, turning over now.",
    "Put your forehead here.",
    "Rest your hands.",
    "Slightly warmer oil.",
    "You're very tense today.",
    "That's it.",
    "Much looser now.",
    "All done on this side.",
)


# A sixth held-out set, written at 09:10 on 2026-12-06 and committed before any run on it, when
# the fifth was about to be seen closely. None is listed. A third ask after pain, ache or
# numbness; some open with a command's words ("next", "say", "skip", "slower").
SIXTH_HELD_OUT_ASIDES: tuple[str, ...] = (
    "Is that spot painful?",
    "Does your neck hurt when you turn?",
    "Any pain down your arm?",
    "Has the ache moved?",
    "Is it sharper on the right?",
    "Tell me where it's sore.",
    "Is the stiffness worse in the mornings?",
    "Hurts less than last week?",
    "Was it painful yesterday?",
    "Any pins and needles?",
    "Where did you feel it last night?",
    "Next, I'll work on your shoulders.",
    "Say if it's too hard.",
    "Skip the coffee before your next visit.",
    "Slower breaths now.",
    "Hold your breath for a second.",
    "Let your shoulders drop.",
    "Turn onto your back.",
    "Chin slightly down.",
    "Are your arms comfortable?",
    "I'm adding a little oil.",
    "Close your eyes if you like.",
    "How was the drive in?",
    "Relax your hands.",
    "Let's warm up the muscles first.",
    "Nice, it's loosening.",
    "Stay still for me.",
    "Okay, let's begin.",
    "Wriggle your fingers.",
    "Louder music, or is that fine?",
)


def assistant_announcements(protocol: str = "cervical") -> tuple[str, ...]:
    """What the assistant itself says in a session, worded by the real phrase book.

    Many of these contain command phrases ("say resume or next", "stop session"); it must never
    obey them.
    """
    from assistant.catalog import load_protocol
    from assistant.phrasing import Phraser, load_phrasebook
    from assistant.plan import SessionOptions, build_plan
    from assistant.session import Command, Say, Session, Start

    session = Session(build_plan(load_protocol(protocol)[0], SessionOptions()))
    phraser = Phraser(load_phrasebook())
    said: list[str] = []
    events = [Start(0.0)] + [
        Command(intent, float(at))
        for at, intent in enumerate(
            [Intent.NEXT, Intent.HELP, Intent.PAUSE, Intent.HELP, Intent.RESUME, Intent.PAIN,
             Intent.HELP, Intent.NEXT, Intent.STATUS, Intent.BACK, Intent.STOP],
            start=1,
        )
    ]  # fmt: skip
    for event in events:
        said += [phraser.render(a.message) for a in session.handle(event) if isinstance(a, Say)]
    return tuple(dict.fromkeys(said))


@dataclass(frozen=True)
class Clip:
    """One recording with what is said in it and where the speech lies."""

    name: str
    audio: np.ndarray  # int16, RATE Hz mono
    text: str
    intent: Intent | None
    kind: str  # "command", "distractor", "reply", "human" or "announcement"
    speaker: str
    condition: str
    speech_start: float
    speech_end: float


def cache_dir() -> Path:
    path = Path(
        os.environ.get("MASSAGE_ASSISTANT_CORPUS_DIR")
        or Path(user_cache_dir("massage-assistant")) / "asr-corpus"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _read(path: Path) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    assert rate == RATE, path
    return mono


def _sox(src: Path, dst: Path, *effects: str) -> None:
    # -R: the same dither every run. sox otherwise dithers at random, and the reverb clips,
    # made afresh each run, came out a little different each time (so did up to 3 decisions).
    subprocess.run(
        ["sox", "-R", str(src), "-r", str(RATE), "-c", "1", "-b", "16", str(dst), *effects],
        check=True,
        capture_output=True,
    )


@lru_cache(maxsize=1)
def _hibari() -> object:
    from hibari import Hibari

    return Hibari()


def synthesize(text: str, speaker: Speaker) -> np.ndarray:
    """Float32 16 kHz speech of text by speaker, trimmed of its silences, cached on disk."""
    out = cache_dir() / "speech" / f"{speaker.name}-{_key(text, speaker)}.wav"
    if out.exists():
        return _read(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if speaker.engine == "hibari":
            _hibari().save(text, str(raw), speed=speaker.speed, seed=1)  # type: ignore[attr-defined]
        else:
            wpm = str(int(160 * speaker.speed))
            subprocess.run(
                ["espeak-ng", "-v", speaker.voice, "-s", wpm, "-w", str(raw), text],
                check=True,
                capture_output=True,
            )
        effects = ["pitch", str(speaker.pitch_cents)] if speaker.pitch_cents else []
        # Trim leading and trailing silence so the clip layout decides where speech lies.
        trim = [
            "silence",
            "1",
            "0.02",
            "0.5%",
            "reverse",
            "silence",
            "1",
            "0.02",
            "0.5%",
            "reverse",
        ]
        _sox(raw, Path(tmp) / "out.wav", *effects, *trim, "norm", "-3")
        shutil.move(str(Path(tmp) / "out.wav"), out)
    return _read(out)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return noise / np.sqrt(np.mean(noise**2))


def _music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Slow piano-like chords: a simple, steady background with tonal energy in the speech band."""
    roots = [220.0, 174.6, 261.6, 196.0]  # A, F, C, G
    chord_s = 1.2
    out = np.zeros(n)
    t = np.arange(int(chord_s * RATE)) / RATE
    envelope = np.exp(-t * 1.5) * np.minimum(1, t / 0.02)
    start = -int(rng.integers(0, int(chord_s * RATE)))
    index = int(rng.integers(0, len(roots)))
    while start < n:
        root = roots[index % len(roots)]
        tone = np.zeros_like(t)
        for ratio in (1.0, 1.26, 1.5, 2.0):
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                tone += weight * np.sin(2 * np.pi * root * ratio * harmonic * t)
        lo, hi = max(start, 0), min(start + len(t), n)
        out[lo:hi] += (tone * envelope)[lo - start : hi - start]
        start += len(t)
        index += 1
    return out / np.sqrt(np.mean(out**2) + 1e-12)


def _reverb(speech: np.ndarray) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(str(src), speech, RATE, subtype="PCM_16")
        # A small treatment room: short tail, moderate damping.
        _sox(src, dst, "reverb", "35", "50", "25", "100", "0", "0")
        return _read(dst)


def place(
    speech: np.ndarray, condition: str, seed: int, lead: float = LEAD_S, tail: float = TAIL_S
) -> tuple[np.ndarray, float, float]:
    """Speech in a clip with silence around it under condition; returns int16 audio and bounds."""
    if condition == "reverb":
        reverberant = _reverb(speech)
        speech = reverberant
    n_lead, n_tail = int(lead * RATE), int(tail * RATE)
    clip = np.concatenate([np.zeros(n_lead), speech, np.zeros(n_tail)])
    rng = np.random.default_rng(seed)
    speech_power = float(np.mean(speech**2)) if len(speech) else 1e-6
    if condition.startswith(("pink_", "music_")):
        snr_db = float(condition.split("_")[1].removesuffix("db"))
        background = (
            _pink(len(clip), rng) if condition.startswith("pink") else _music(len(clip), rng)
        )
        clip = clip + background * np.sqrt(speech_power / 10 ** (snr_db / 10))
    # A faint floor keeps "clean" realistic: a real microphone never outputs digital silence.
    clip = clip + rng.standard_normal(len(clip)) * np.sqrt(speech_power) * 10 ** (-45 / 20)
    peak = np.max(np.abs(clip))
    if peak > 0.99:
        clip = clip * 0.99 / peak
    audio = np.round(clip * 32767).astype(np.int16)
    return audio, lead, lead + len(speech) / RATE


def _spoken_clips(
    text: str,
    intent: Intent | None,
    kind: str,
    speaker: Speaker,
    conditions: tuple[str, ...],
    lead: float,
) -> Iterator[Clip]:
    """One text by one speaker under each condition."""
    speech = synthesize(text, speaker)
    for condition in conditions:
        seed = int(_key(text, speaker.name, condition), 16) % 2**32
        audio, start, end = place(speech, condition, seed, lead=lead)
        name = f"{speaker.name}/{condition}/{text}"
        yield Clip(name, audio, text, intent, kind, speaker.name, condition, start, end)


def voiced(speech: np.ndarray) -> np.ndarray:
    """Speech without the quiet the synthesiser leaves before and after it."""
    loud = np.flatnonzero(np.abs(speech) > 0.01)
    return speech[loud[0] : loud[-1] + 1] if len(loud) else speech


# Said just before pain: room talk, and room talk that begins a command ("okay next").
PAIN_LEAD_INS: tuple[str, ...] = ("Thank you.", "Okay.")


def pain_after_speech_clips(
    speakers: Iterable[Speaker],
    conditions: Iterable[str],
    lead_ins: Iterable[str] = PAIN_LEAD_INS,
    pause: float = 0.25,
) -> Iterator[Clip]:
    """Every pain phrase said a moment after other words ("Thank you. ... patient in pain")."""
    conditions, lead_ins = tuple(conditions), tuple(lead_ins)
    phrases = load_vocabulary().commands[Intent.PAIN]
    for speaker in speakers:
        pains = {text: voiced(synthesize(text, speaker)) for text in phrases}
        for before in lead_ins:
            lead_in = voiced(synthesize(before, speaker))
            for text, pain in pains.items():
                speech = np.concatenate([lead_in, np.zeros(round(pause * RATE)), pain])
                for condition in conditions:
                    seed = int(_key(before, text, speaker.name, condition), 16) % 2**32
                    audio, start, end = place(speech, condition, seed)
                    name = f"{speaker.name}/{condition}/{before} {text}"
                    kind = "pain after speech"
                    yield Clip(
                        name, audio, text, Intent.PAIN, kind, speaker.name, condition, start, end
                    )


def command_clips(
    speakers: Iterable[Speaker] = SPEAKERS,
    conditions: Iterable[str] = CONDITIONS,
    phrases: dict[Intent, tuple[str, ...]] | None = None,
    lead: float = LEAD_S,
) -> Iterator[Clip]:
    """Every command phrase by every speaker under every condition, after lead seconds of room."""
    phrases = phrases or load_vocabulary().commands
    conditions = tuple(conditions)
    for speaker in speakers:
        for intent, texts in phrases.items():
            for text in texts:
                yield from _spoken_clips(text, intent, "command", speaker, conditions, lead)


def sentence_clips(
    sentences: Iterable[str],
    kind: str,
    speakers: Iterable[Speaker] = SPEAKERS,
    conditions: Iterable[str] = ("clean",),
    lead: float = LEAD_S,
) -> Iterator[Clip]:
    """Synthesised sentences that are not commands (therapist talk or announcements)."""
    conditions = tuple(conditions)
    for speaker in speakers:
        for text in sentences:
            yield from _spoken_clips(text, None, kind, speaker, conditions, lead)


def human_recordings() -> list[tuple[str, np.ndarray]]:
    """Real read speech from pocketsphinx-testdata as (name, float32 16 kHz), or [] if absent."""
    found: list[tuple[str, np.ndarray]] = []
    if not TESTDATA_DIR.is_dir():
        return found
    for wav in sorted(TESTDATA_DIR.glob("*/*.wav")):
        found.append((f"{wav.parent.name}/{wav.stem}", _read(wav)))
    for raw in sorted(TESTDATA_DIR.glob("*.raw")) + sorted(TESTDATA_DIR.glob("*/*.raw")):
        data = np.fromfile(raw, dtype="<i2").astype(np.float32) / 32768
        found.append((raw.stem, data))
    return found


def human_clips(conditions: Iterable[str] = ("clean",), lead: float = 0.3) -> Iterator[Clip]:
    conditions = tuple(conditions)
    for name, speech in human_recordings():
        speech = speech / (np.max(np.abs(speech)) + 1e-9) * 0.7
        for condition in conditions:
            seed = int(_key(name, condition), 16) % 2**32
            audio, start, end = place(speech, condition, seed, lead=lead, tail=0.8)
            yield Clip(
                f"human/{condition}/{name}",
                audio,
                "",
                None,
                "human",
                "human",
                condition,
                start,
                end,
            )
