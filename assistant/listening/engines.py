"""Speech engines that turn one utterance into a command-phrase hypothesis with a confidence.

This is the only module that imports pocketsphinx or vosk.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.vocabulary import edit_distance, normalize, starts_with_words

SAMPLE_RATE = 16000
VOSK_MODEL_ENV = "MASSAGE_ASSISTANT_VOSK_MODEL"


@dataclass(frozen=True)
class Hypothesis:
    """What an engine heard in one utterance, already restricted to the command phrases."""

    text: str  # a normalised command phrase, or "" when nothing in the grammar fits
    confidence: float  # 0..1, comparable across utterances of the same engine
    detail: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def start(self) -> None:
        """Begin a new utterance."""

    def feed(self, pcm: bytes) -> None:
        """Add int16 16 kHz mono audio to the current utterance."""

    def finish(self) -> Hypothesis:
        """End the utterance and return what was heard."""

    def decode_part(self, pcm: bytes) -> Hypothesis:
        """A part of the utterance just finished, decoded as finish() decodes a whole one, but
        learning nothing of the room from it (the next utterance is heard as it would be)."""

    def restrict(self, phrases: Iterable[str]) -> None:
        """Decode only these phrases, all given at creation, from the next utterance on."""

    def decode_again(self, pcm: bytes, phrases: Iterable[str]) -> Hypothesis:
        """The utterance just finished, decoded again among these phrases only.

        Given a single phrase, the engine may return it where its search got only part of the
        way through it, with the confidence the sound gives the whole phrase."""

    def prefers_phrase(self, pcm: bytes, phrase: str, other_words: Iterable[str]) -> bool:
        """Whether phrase explains the audio better than any run of other_words."""

    def free_text(self, pcm: bytes) -> str | None:
        """The utterance decoded as ordinary speech, the phrases among the language's frequent
        words; None where the engine has no such decoding."""

    def sound_distance(self, heard: str, phrase: str) -> float | None:
        """How unlike the phrase (one given at creation) the words heard sound: phone edits
        per phone of the phrase, between their closest pronunciations; 0 for the same sound,
        1 or more for nothing alike (so for words it cannot pronounce); None where the engine
        has no pronunciations."""

    def new_channel(self) -> None:
        """The microphone or the room may have changed: forget what earlier utterances told."""


# -- PocketSphinx -----------------------------------------------------------------------------


def _pocketsphinx_model_dir() -> Path:
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us"


def _entry_word(line: str) -> str:
    """The word a dictionary line is for: "next(2) N EH K S" is for "next"."""
    return line.split(" ", 1)[0].split("(", 1)[0]


def _read_dictionary(path: Path, words: set[str]) -> list[str]:
    lines = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if _entry_word(line) in words:
                lines.append(line.rstrip("\n"))
    return lines


# How many times each phrase counts among the background words, one each.
_PHRASE_WEIGHT = 50


def _background_language_model(phrases: list[str], background: list[str]) -> str:
    """An n-gram model (ARPA text) of the phrases, each as one sentence, among background words.

    The phrases count many times over, so a phrase really said is decoded as itself; anything
    else comes out as the background words it sounds like.
    """
    from pocketsphinx.lm import ArpaBoLM

    sentences = [*(p for p in phrases for _ in range(_PHRASE_WEIGHT)), *background]
    model = ArpaBoLM(text="\n".join(sentences), add_start=True)
    model.compute()
    text = io.StringIO()
    model.write(text)
    return text.getvalue()


def _jsgf(phrases: Iterable[str]) -> str:
    alternatives = " | ".join(sorted(phrases))
    return f"#JSGF V1.0;\ngrammar commands;\npublic <command> = {alternatives};\n"


def _pronunciation_table(entries: list[str]) -> dict[str, list[list[str]]]:
    """Each word's pronunciations (phone lists) in these dictionary lines."""
    by_word: dict[str, list[list[str]]] = {}
    for line in entries:
        by_word.setdefault(_entry_word(line), []).append(line.split("#", 1)[0].split()[1:])
    return by_word


def _pronunciations(
    text: str, by_word: dict[str, list[list[str]]], most: int | None = None
) -> list[list[str]]:
    """Every phone sequence the dictionary allows for the text; none if a word is not in it.

    Where there would be more than most, only each word's first pronunciation: their number
    multiplies with every word.
    """
    words = text.split()
    if any(w not in by_word for w in words):
        return []
    choices = [by_word[w] for w in words]
    if most is not None and math.prod(len(c) for c in choices) > most:
        choices = [c[:1] for c in choices]
    return [[phone for part in choice for phone in part] for choice in itertools.product(*choices)]


_PIECE_BYTES = 1600  # 50 ms of audio: a few ms of decoding at a time


def _decode_in_pieces(decoder: Any, pcm: bytes, mean: str) -> None:
    """One utterance through a live-normalising decoder, with that cepstral mean."""
    if mean:
        decoder.set_cmn(mean)
    decoder.start_utt()
    for at in range(0, len(pcm), _PIECE_BYTES):
        decoder.process_raw(pcm[at : at + _PIECE_BYTES])
    decoder.end_utt()


class PocketSphinxEngine:
    """CMU PocketSphinx with the US-English model in its wheel.

    Each utterance is decoded twice at once: constrained to the command grammar, and by a free
    phone loop. The grammar always finds some phrase; the phone loop says what was actually
    sounded. When a phrase was really said, the two agree; when conversation was forced into
    the grammar, the phones heard differ from the phrase's. The confidence is that agreement:
    1 - (phone edit distance / phones in the phrase) / 2, so 0.5 means as many phone errors as
    the phrase has phones. (The grammar path's own acoustic score was tried as well: it cost
    more commands, pain among them, than the conversation it kept out; bench_asr.py measures.)

    Each utterance is decoded once it has ended. The phone loop normalises it by its own cepstral
    mean; the grammar pass by halfway between that and a running mean of earlier utterances (the
    room and the microphone). A running mean alone depends on everything heard before: a fresh
    decoder missed most pain commands in noise when they were the first thing it heard. The
    utterance's own mean alone lost commands in music and let more conversation through.
    bench_asr.py measures both, with pain as the first command.

    A third decoder hears the utterance as ordinary speech: a small language model of the
    phrases among about a thousand frequent words of the language (voices/en/background.yaml).
    The listener asks for it only where it decides something: a command the phone loop agreed
    with poorly or that lasted longer than the phrase takes, an utterance the grammar heard as
    no command, and room talk of several words before it is decoded again for pain.

    The decoders hold Python's lock while they work, and the sound devices' callbacks need it:
    the utterance is given to them in short pieces, each with the mean set beforehand, and only
    a quick pass with narrow beams reads the utterance's own mean at once.
    """

    # How much of the grammar pass's mean is the utterance's own, and how fast the running mean
    # follows new utterances.
    OWN_MEAN_SHARE = 0.5
    RUNNING_MEAN_RATE = 0.3

    name = "pocketsphinx"

    def __init__(self, phrases: Iterable[str], background: Iterable[str] = ()) -> None:
        from pocketsphinx import Decoder

        phrases = sorted({normalize(p) for p in phrases})
        model = _pocketsphinx_model_dir()
        words = {w for p in phrases for w in p.split()}
        background_words = {normalize(w) for w in background} - words - {""}
        every_entry = _read_dictionary(model / "cmudict-en-us.dict", words | background_words)
        self._word_pronunciations = _pronunciation_table(every_entry)
        known = words & self._word_pronunciations.keys()
        missing = sorted(words - known)
        if missing:
            raise ValueError(f"no pronunciation for command words: {', '.join(missing)}")
        entries = [e for e in every_entry if _entry_word(e) in words]
        # A background word the dictionary lacks is left out: the list is a sample of the language.
        spoken = sorted(self._word_pronunciations.keys() - words)
        self._pronunciations = {p: _pronunciations(p, self._word_pronunciations) for p in phrases}
        common: dict[str, Any] = {
            "hmm": str(model / "en-us"),
            "loglevel": "FATAL",
            "lm": None,
        }
        # A dictionary of only the command words keeps loading fast and memory small.
        with tempfile.TemporaryDirectory() as tmp:
            dictionary = Path(tmp) / "commands.dict"
            dictionary.write_text("\n".join(entries) + "\n", encoding="utf-8")
            # "live" uses the mean it is given (set again before every utterance) instead of
            # the utterance's own.
            self._grammar = Decoder(**common, dict=str(dictionary), cmn="live")
            phone_loop = {
                **common,
                "dict": str(dictionary),
                "allphone": str(model / "en-us-phone.lm.bin"),
            }
            # "batch" reads the utterance's own mean; beams this narrow make it a few ms a second.
            self._mean_reader = Decoder(**phone_loop, cmn="batch", beam=1e-3, pbeam=1e-3)
            # Wider than PocketSphinx's speed-minded 1e-20: a truer phone decoding makes the
            # agreement with the phrase a sharper test (bench_asr: fewer false accepts).
            self._phones = Decoder(**phone_loop, cmn="live", beam=1e-40, pbeam=1e-40)
            self._free: Any = None
            if spoken:
                every = Path(tmp) / "every.dict"
                every.write_text("\n".join(every_entry) + "\n", encoding="utf-8")
                language_model = Path(tmp) / "background.arpa"
                language_model.write_text(
                    _background_language_model(phrases, spoken), encoding="utf-8"
                )
                free = {**common, "lm": str(language_model), "dict": str(every)}
                # Its second pass over the whole utterance (fwdflat), at the end, holds Python's
                # lock for about 50 ms; without it a quiet room lost 2 commands in 100.
                self._free = Decoder(**free, cmn="live")
        self._searches: dict[tuple[str, ...], str] = {}
        self._search = ""
        self._utterance: list[bytes] = []
        self._running_mean: np.ndarray | None = None
        self._grammar_mean = ""  # the cepstral mean the grammar pass used for the last utterance
        self.restrict(phrases)
        self._dictionary_path = model / "cmudict-en-us.dict"
        self._known = set(known)
        self._not_in_dictionary: set[str] = set()

    def restrict(self, phrases: Iterable[str]) -> None:
        phrases = sorted({normalize(p) for p in phrases})
        unknown = [p for p in phrases if p not in self._pronunciations]
        if unknown:
            raise ValueError(f"phrases not given at creation: {', '.join(unknown)}")
        key = tuple(phrases)
        if key not in self._searches:
            self._searches[key] = f"phrases{len(self._searches)}"
            self._grammar.add_jsgf_string(self._searches[key], _jsgf(phrases))
        self._search = self._searches[key]
        self._grammar.activate_search(self._search)
        self._allowed = set(phrases)

    def start(self) -> None:
        self._utterance = []

    def feed(self, pcm: bytes) -> None:
        self._utterance.append(pcm)

    def finish(self) -> Hypothesis:
        pcm, self._utterance = b"".join(self._utterance), []
        return self._decode(pcm, learn=True)

    def decode_part(self, pcm: bytes) -> Hypothesis:
        return self._decode(pcm, learn=False)

    def _decode(self, pcm: bytes, learn: bool) -> Hypothesis:
        if not pcm:
            return Hypothesis("", 0.0)
        self._mean_reader.start_utt()
        self._mean_reader.process_raw(pcm, full_utt=True)
        self._mean_reader.end_utt()
        own_mean = self._mean_reader.get_cmn()
        own = np.array([float(x) for x in own_mean.split(",")])
        running = own if self._running_mean is None else self._running_mean
        share = self.OWN_MEAN_SHARE
        self._grammar_mean = ",".join(f"{x:.4f}" for x in share * own + (1 - share) * running)
        if learn:
            rate = self.RUNNING_MEAN_RATE
            self._running_mean = rate * own + (1 - rate) * running
        _decode_in_pieces(self._phones, pcm, own_mean)
        self._decode_grammar(pcm)
        return self._hypothesis()

    def free_text(self, pcm: bytes) -> str | None:
        if self._free is None:
            return None
        _decode_in_pieces(self._free, pcm, self._grammar_mean)
        heard = self._free.hyp()
        return normalize(heard.hypstr) if heard else ""

    def sound_distance(self, heard: str, phrase: str) -> float | None:
        # Words it cannot pronounce count as no sound at all: every phone of the phrase is missing.
        sounded = _pronunciations(heard, self._word_pronunciations, most=32) or [[]]
        closest = [
            edit_distance(a, b) / len(b) for a in sounded for b in self._pronunciations[phrase]
        ]
        return min(closest)

    def new_channel(self) -> None:
        self._running_mean = None

    def _decode_grammar(self, pcm: bytes) -> None:
        """The grammar pass over a whole utterance, with the mean chosen for it in finish()."""
        _decode_in_pieces(self._grammar, pcm, self._grammar_mean)

    def decode_again(self, pcm: bytes, phrases: Iterable[str]) -> Hypothesis:
        # The phone loop's decoding of the utterance stands; only the grammar pass is repeated.
        search, allowed = self._search, self._allowed
        self.restrict(phrases)
        try:
            self._decode_grammar(pcm)
            hypothesis = self._hypothesis()
            if len(self._allowed) == 1:
                (only,) = self._allowed
                if hypothesis.text != only and starts_with_words(only, hypothesis.text):
                    # In loud noise the grammar search may not reach the end of the one phrase
                    # it was given, and keeps the path it got furthest on ("patient in" for
                    # "patient in pain"): the phone loop judges the whole phrase (bench_asr:
                    # pain in noise).
                    return self._hypothesis(only)
            return hypothesis
        finally:
            self._search, self._allowed = search, allowed
            self._grammar.activate_search(search)

    def _hypothesis(self, phrase: str | None = None) -> Hypothesis:
        """The grammar pass's result (or phrase), with the phone loop's agreement as confidence."""
        hyp = self._grammar.hyp()
        heard = normalize(hyp.hypstr) if hyp else ""
        text = heard if phrase is None else phrase
        frames = float(self._grammar.n_frames())
        pronunciations = self._pronunciations.get(text) if text in self._allowed else None
        if not pronunciations:
            return Hypothesis(text, 0.0, {"frames": frames})
        heard = [
            seg.word
            for seg in self._phones.seg() or []
            if seg.word != "SIL" and not seg.word.startswith("+")
        ]
        mismatch = min(edit_distance(heard, p) / len(p) for p in pronunciations)
        confidence = max(0.0, 1.0 - mismatch / 2.0)
        return Hypothesis(text, confidence, {"phone_mismatch": mismatch, "frames": frames})

    def _add_words(self, words: set[str]) -> set[str]:
        """Teach the grammar decoder words it lacks; returns the words it can use."""
        missing = words - self._known - self._not_in_dictionary
        if missing:
            # Each scan of the dictionary takes about 80 ms: a word is looked up once, found or not.
            for line in _read_dictionary(self._dictionary_path, missing):
                word, phones = line.split(" ", 1)
                self._grammar.add_word(word, phones.split("#", 1)[0].strip(), False)
                self._known.add(_entry_word(line))
            self._not_in_dictionary |= missing - self._known
        return words & self._known

    def prefers_phrase(self, pcm: bytes, phrase: str, other_words: Iterable[str]) -> bool:
        words = self._add_words({w for w in (normalize(x) for x in other_words) if w} - {""})
        words = {w for w in words if w.replace("'", "").isalnum()}
        if not words or not pcm:
            return True
        echo = " | ".join(sorted(words))
        grammar = (
            "#JSGF V1.0;\ngrammar check;\n"
            f"public <utterance> = <phrase> | <echo>;\n<phrase> = {phrase};\n<echo> = ({echo})+;\n"
        )
        # Without the lattice search at the end (bestpath) that the commands' grammar makes: over
        # a loop of the assistant's words that one call held Python's lock for 2 to 3 s, while
        # the loudspeaker ran dry and the microphone lost its sound. A search reads the setting
        # once, as it is made.
        config = self._grammar.config
        bestpath, config["bestpath"] = config["bestpath"], False
        try:
            self._grammar.add_jsgf_string("check", grammar)
        finally:
            config["bestpath"] = bestpath
        self._grammar.activate_search("check")
        try:
            self._decode_grammar(pcm)
            hyp = self._grammar.hyp()
        finally:
            self._grammar.activate_search(self._search)
        return hyp is not None and normalize(hyp.hypstr) == phrase


# -- vosk ---------------------------------------------------------------------------------------


def vosk_cache_dirs() -> list[Path]:
    """Where vosk itself keeps downloaded models."""
    dirs = [Path.home() / ".cache" / "vosk"]
    try:
        from vosk import MODEL_DIRS  # type: ignore[attr-defined]

        dirs = [Path(d) for d in MODEL_DIRS if d] + dirs
    except ImportError:
        pass
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def _looks_like_vosk_model(path: Path) -> bool:
    return path.is_dir() and (path / "am").is_dir() and (path / "conf").is_dir()


def find_vosk_model(explicit: str | os.PathLike[str] | None = None) -> tuple[Path | None, str]:
    """The vosk model to use and how it was found, or (None, why none was found)."""
    if explicit:
        path = Path(explicit).expanduser()
        if _looks_like_vosk_model(path):
            return path, f"vosk model given on the command line: {path}"
        return None, f"{path} is not a vosk model directory (it needs am/ and conf/)"
    from_env = os.environ.get(VOSK_MODEL_ENV)
    if from_env:
        path = Path(from_env).expanduser()
        if _looks_like_vosk_model(path):
            return path, f"vosk model from {VOSK_MODEL_ENV}: {path}"
        return None, f"{VOSK_MODEL_ENV}={from_env} is not a vosk model directory"
    for directory in vosk_cache_dirs():
        if not directory.is_dir():
            continue
        candidates = sorted(
            (
                p
                for p in directory.iterdir()
                if p.name.startswith("vosk-model") and "en-us" in p.name
            ),
            key=lambda p: ("small" not in p.name, p.name),
        )
        for candidate in candidates:
            if _looks_like_vosk_model(candidate):
                return candidate, f"vosk model found in vosk's cache: {candidate}"
    return None, "no vosk model found (none given, none in " + VOSK_MODEL_ENV + " or vosk's cache)"


def download_vosk_model(name: str = "vosk-model-small-en-us-0.15") -> Path:
    """Let vosk fetch a model into its own cache; needs a network connection (setup time only)."""
    from vosk import Model, SetLogLevel

    SetLogLevel(-1)
    Model(model_name=name)
    path, _ = find_vosk_model()
    if path is None:
        raise RuntimeError(f"vosk did not leave {name} in its cache")
    return path


class VoskEngine:
    """A vosk (Kaldi) recogniser restricted to the command phrases plus an unknown-word token."""

    name = "vosk"

    def __init__(self, phrases: Iterable[str], model_path: str | os.PathLike[str]) -> None:
        from vosk import KaldiRecognizer, Model, SetLogLevel

        SetLogLevel(-1)
        self._known_phrases = {normalize(p) for p in phrases}
        self._phrases: list[str] = sorted(self._known_phrases)
        try:
            self._model = Model(str(model_path))
        except Exception as error:  # vosk raises a bare Exception for a bad model folder
            raise ValueError(f"vosk could not load the model in {model_path} ({error})") from None
        self._recognizer_type = KaldiRecognizer
        self._grammar = json.dumps([*self._phrases, "[unk]"])
        self._recognizer: Any = None

    def restrict(self, phrases: Iterable[str]) -> None:
        phrases = sorted({normalize(p) for p in phrases})
        unknown = [p for p in phrases if p not in self._known_phrases]
        if unknown:
            raise ValueError(f"phrases not given at creation: {', '.join(unknown)}")
        self._phrases = phrases
        self._grammar = json.dumps([*phrases, "[unk]"])

    def start(self) -> None:
        self._recognizer = self._recognizer_type(self._model, SAMPLE_RATE, self._grammar)
        self._recognizer.SetWords(True)

    def feed(self, pcm: bytes) -> None:
        self._recognizer.AcceptWaveform(pcm)

    def finish(self) -> Hypothesis:
        return self._parse(json.loads(self._recognizer.FinalResult()), self._phrases)

    def decode_part(self, pcm: bytes) -> Hypothesis:
        return self.decode_again(pcm, self._phrases)

    def decode_again(self, pcm: bytes, phrases: Iterable[str]) -> Hypothesis:
        chosen = sorted({normalize(p) for p in phrases})
        recognizer = self._recognizer_type(self._model, SAMPLE_RATE, json.dumps([*chosen, "[unk]"]))
        recognizer.SetWords(True)
        recognizer.AcceptWaveform(pcm)
        return self._parse(json.loads(recognizer.FinalResult()), chosen)

    @staticmethod
    def _parse(result: dict[str, Any], phrases: list[str]) -> Hypothesis:
        words = result.get("result", [])
        text = normalize(result.get("text", ""))
        if "[unk]" in result.get("text", "") or text not in phrases:
            # Grammar mode is a bigram over the phrases, so it can return word salad; only whole
            # phrases count.
            return Hypothesis("", 0.0, {"words": float(len(words))})
        confidence = min((float(w.get("conf", 0.0)) for w in words), default=0.0)
        return Hypothesis(text, confidence, {"words": float(len(words))})

    def new_channel(self) -> None:
        pass  # each utterance has a recogniser of its own

    def free_text(self, pcm: bytes) -> str | None:
        # Without a grammar the model decodes ordinary speech with its own large vocabulary.
        recognizer = self._recognizer_type(self._model, SAMPLE_RATE)
        recognizer.AcceptWaveform(pcm)
        return normalize(json.loads(recognizer.FinalResult()).get("text", ""))

    def sound_distance(self, heard: str, phrase: str) -> float | None:
        return None  # vosk's API gives no pronunciations to compare by

    def prefers_phrase(self, pcm: bytes, phrase: str, other_words: Iterable[str]) -> bool:
        words = sorted({normalize(w) for w in other_words} - {""})
        if not words or not pcm:
            return True
        recognizer = self._recognizer_type(self._model, SAMPLE_RATE, json.dumps([phrase, *words]))
        recognizer.AcceptWaveform(pcm)
        return normalize(json.loads(recognizer.FinalResult()).get("text", "")) == phrase


# -- choice ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineChoice:
    """Which engine listens and why."""

    name: str
    reason: str
    vosk_model: Path | None = None


def choose_engine(vosk_model: str | os.PathLike[str] | None = None) -> EngineChoice:
    """vosk when a model is given or found and vosk imports, else the embedded PocketSphinx."""
    path, why = find_vosk_model(vosk_model)
    if path is not None:
        try:
            import vosk  # noqa: F401
        except ImportError:
            return EngineChoice("pocketsphinx", f"{why}, but the vosk package is not installed")
        return EngineChoice("vosk", why, path)
    return EngineChoice("pocketsphinx", f"embedded PocketSphinx US-English model; {why}")


def create_engine(
    choice: EngineChoice, phrases: Iterable[str], background: Iterable[str] = ()
) -> tuple[Engine, EngineChoice]:
    """The chosen engine; a vosk model that will not load gives way to PocketSphinx, saying why.

    background: frequent words of the language, against which PocketSphinx checks what it heard.
    """
    phrases = list(phrases)
    if choice.name == "vosk":
        assert choice.vosk_model is not None
        try:
            return VoskEngine(phrases, choice.vosk_model), choice
        except ValueError as error:
            choice = EngineChoice(
                "pocketsphinx", f"embedded PocketSphinx US-English model; {error}"
            )
    return PocketSphinxEngine(phrases, background), choice
