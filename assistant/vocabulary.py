"""The command vocabulary of a language: which whole utterances mean which intent."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from assistant.datafile import load_model
from assistant.intents import (
    ANSWER_INTENTS,
    COMMAND_INTENTS,
    COMMANDS_DURING_QUESTIONS,
    Intent,
    Listening,
)
from assistant.resources import voices_dir

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation dropped."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("\u2019", "'")).split())


def starts_with_words(phrase: str, prefix: str) -> bool:
    """Whether prefix is the first word or words of phrase; an empty prefix is not."""
    words, first = phrase.split(), prefix.split()
    return bool(first) and words[: len(first)] == first


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two sequences: of words, or of phones."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (x != y))
    return row[-1]


def _ends_of(phrases: Iterable[str]) -> set[str]:
    """Each phrase and what is left of it without its first word, or words."""
    return {
        " ".join(words[i:])
        for words in (normalize(p).split() for p in phrases)
        for i in range(len(words))
    }


class CommandVocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    commands: dict[Intent, tuple[str, ...]]
    answers: dict[Intent, tuple[str, ...]]
    # "pain level zero" to "pain level ten": the phrase at index N gives the score N.
    pain_levels: tuple[str, ...]
    # "False alarm": the pain just reported was not. Heard only while a pain event is in hand.
    false_alarm: tuple[str, ...]
    # Short things said in the room that are not commands: decoded as themselves, and rejected.
    other_speech: tuple[str, ...] = ()
    # How the therapist's questions open ("does", "is"): pain heard in an utterance that opens
    # so is a question about pain ("does it hurt?"), not the patient's report of it.
    question_openings: tuple[str, ...] = ()

    @field_validator("question_openings")
    @classmethod
    def _not_opening_with_pain(
        cls, openings: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        """A question opening must not open with a pain phrase, or with what is left of one that
        lost its first words ("in pain"): pain said before other words would pass for a question.
        One that opens what is left ("is" of "is in pain") is told apart as it is heard."""
        ends = _ends_of((info.data.get("commands") or {}).get(Intent.PAIN, ()))
        opening_pain = [
            o for o in openings if any(starts_with_words(normalize(o), e) for e in ends)
        ]
        if opening_pain:
            raise ValueError("these open with a pain phrase or its end: " + ", ".join(opening_pain))
        return openings

    @model_validator(mode="after")
    def _complete_and_unambiguous(self) -> CommandVocabulary:
        for section, table, wanted in (
            ("commands", self.commands, COMMAND_INTENTS),
            ("answers", self.answers, tuple(i for i in Intent if i in ANSWER_INTENTS)),
        ):
            missing = [intent.value for intent in wanted if not table.get(intent)]
            if missing:
                raise ValueError(
                    f"{section}: each needs at least one phrase; missing: {', '.join(missing)}"
                )
            misplaced = [intent.value for intent in table if intent not in wanted]
            if misplaced:
                raise ValueError(f"{section}: {', '.join(misplaced)} belong in the other section")
        if not self.false_alarm:
            raise ValueError("false_alarm: needs at least one phrase")
        if len(self.pain_levels) != 11:
            raise ValueError(
                f"pain_levels: expected 11 phrases, for 0 to 10; got {len(self.pain_levels)}"
            )
        owner: dict[str, Intent] = {}
        after_pain = ((Intent.PAIN_LEVEL, self.pain_levels), (Intent.FALSE_ALARM, self.false_alarm))
        for intent, phrases in (*self.commands.items(), *self.answers.items(), *after_pain):
            for phrase in phrases:
                key = normalize(phrase)
                if key in owner and owner[key] is not intent:
                    raise ValueError(
                        f"the phrase {phrase!r} is given for both {owner[key].value} and {intent.value}"
                    )
                owner[key] = intent
        clashing = [p for p in self.other_speech if normalize(p) in owner]
        if clashing:
            raise ValueError(f"other_speech: these are commands or answers: {', '.join(clashing)}")
        return self

    def phrase_table(self) -> dict[str, Intent]:
        """Every normalized command phrase with its intent."""
        return _table(self.commands)

    def question_table(self) -> dict[str, Intent]:
        """What is listened for while a question waits: the answers and a few commands."""
        during = {i: p for i, p in self.commands.items() if i in COMMANDS_DURING_QUESTIONS}
        return {**_table(during), **_table(self.answers)}

    def answer_table(self) -> dict[str, Intent]:
        return _table(self.answers)

    def pain_level_table(self) -> dict[str, Intent]:
        return _table({Intent.PAIN_LEVEL: self.pain_levels})

    def false_alarm_table(self) -> dict[str, Intent]:
        return _table({Intent.FALSE_ALARM: self.false_alarm})

    def after_pain_table(self) -> dict[str, Intent]:
        """What is listened for only after a pain event: pain scores and "false alarm"."""
        return {**self.pain_level_table(), **self.false_alarm_table()}

    def pain_level(self, text: str) -> int | None:
        """The score in "pain level six" (or typed "pain level 6"), or None."""
        words = normalize(text)
        for level, phrase in enumerate(self.pain_levels):
            if words == normalize(phrase):
                return level
        prefix = normalize(self.pain_levels[0]).rsplit(" ", 1)[0]
        number = words.removeprefix(prefix).strip()
        if words.startswith(prefix) and number.isdigit() and 0 <= int(number) <= 10:
            return int(number)
        return None

    def table_for(self, listening: Listening) -> dict[str, Intent]:
        """The phrases accepted while listening for that, with their intents."""
        if listening is Listening.ANSWERS:
            return self.question_table()
        if listening is Listening.PAIN_LEVEL:
            return {**self.phrase_table(), **self.after_pain_table()}
        if listening is Listening.NOTE:
            # Pain only: a memo forced into "stop session" would end the session mid-massage.
            return _table({Intent.PAIN: self.commands[Intent.PAIN]})
        return self.phrase_table()

    def every_phrase(self) -> dict[str, Intent]:
        return {**self.phrase_table(), **self.answer_table(), **self.after_pain_table()}

    def other_speech_phrases(self) -> frozenset[str]:
        return frozenset(normalize(p) for p in self.other_speech)

    def question_opening_phrases(self) -> tuple[str, ...]:
        return tuple(normalize(o) for o in self.question_openings)

    def opens_as_question(self, heard: str) -> bool:
        """Whether words heard open with a question opening that does not go on as a pain
        phrase whose first words were lost ("is in pain" of "patient is in pain")."""
        heard = normalize(heard)
        words = heard.split()
        ends = _ends_of(self.commands[Intent.PAIN])
        for opening in self.question_opening_phrases():
            if starts_with_words(heard, opening):
                going_on = " ".join(words[: len(opening.split()) + 1])
                if not any(starts_with_words(end, going_on) for end in ends):
                    return True
        return False

    def match(self, text: str) -> Intent | None:
        """The intent of typed text that is exactly one phrase (a command or an answer), or None."""
        if self.pain_level(text) is not None:
            return Intent.PAIN_LEVEL
        return self.every_phrase().get(normalize(text))


class BackgroundWords(BaseModel):
    """Frequent words of a language, against which a recogniser checks what it heard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    words: tuple[str, ...]


def _table(phrases: dict[Intent, tuple[str, ...]]) -> dict[str, Intent]:
    return {normalize(p): intent for intent, texts in phrases.items() for p in texts}


def load_vocabulary(language: str = "en", path: Path | None = None) -> CommandVocabulary:
    return load_model(path or voices_dir() / language / "commands.yaml", CommandVocabulary)


def load_background_words(language: str = "en", path: Path | None = None) -> tuple[str, ...]:
    """The language pack's background.yaml, or no words where it has none."""
    path = path or voices_dir() / language / "background.yaml"
    if not path.exists():
        return ()
    return load_model(path, BackgroundWords).words
