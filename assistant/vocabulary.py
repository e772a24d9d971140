"""The command vocabulary of a language: which whole utterances mean which intent."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from assistant.datafile import load_model
from assistant.intents import (
    ANSWER_INTENTS,
    COMMAND_INTENTS,
    COMMANDS_DURING_QUESTIONS,
    Intent,
)
from assistant.resources import voices_dir

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation dropped."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("\u2019", "'")).split())


class CommandVocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    commands: dict[Intent, tuple[str, ...]]
    answers: dict[Intent, tuple[str, ...]]
    # Short things said in the room that are not commands: decoded as themselves, and rejected.
    other_speech: tuple[str, ...] = ()

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
        owner: dict[str, Intent] = {}
        for intent, phrases in (*self.commands.items(), *self.answers.items()):
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

    def every_phrase(self) -> dict[str, Intent]:
        return {**self.phrase_table(), **self.answer_table()}

    def other_speech_phrases(self) -> frozenset[str]:
        return frozenset(normalize(p) for p in self.other_speech)

    def match(self, text: str) -> Intent | None:
        """The intent of typed text that is exactly one phrase (a command or an answer), or None."""
        return self.every_phrase().get(normalize(text))


def _table(phrases: dict[Intent, tuple[str, ...]]) -> dict[str, Intent]:
    return {normalize(p): intent for intent, texts in phrases.items() for p in texts}


def load_vocabulary(language: str = "en", path: Path | None = None) -> CommandVocabulary:
    return load_model(path or voices_dir() / language / "commands.yaml", CommandVocabulary)
