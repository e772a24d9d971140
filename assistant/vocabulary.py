"""The command vocabulary of a language: which whole utterances mean which intent."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from assistant.datafile import load_model
from assistant.intents import Intent
from assistant.resources import voices_dir

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation dropped."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("\u2019", "'")).split())


class CommandVocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    commands: dict[Intent, tuple[str, ...]]

    @model_validator(mode="after")
    def _complete_and_unambiguous(self) -> CommandVocabulary:
        missing = [intent.value for intent in Intent if not self.commands.get(intent)]
        if missing:
            raise ValueError(
                f"every command needs at least one phrase; missing: {', '.join(missing)}"
            )
        owner: dict[str, Intent] = {}
        for intent, phrases in self.commands.items():
            for phrase in phrases:
                key = normalize(phrase)
                if key in owner and owner[key] is not intent:
                    raise ValueError(
                        f"the phrase {phrase!r} is given for both {owner[key].value} and {intent.value}"
                    )
                owner[key] = intent
        return self

    def phrase_table(self) -> dict[str, Intent]:
        """Every normalized phrase with its intent."""
        return {normalize(p): intent for intent, phrases in self.commands.items() for p in phrases}

    def match(self, text: str) -> Intent | None:
        """The intent of an utterance that is exactly one command phrase, or None."""
        return self.phrase_table().get(normalize(text))


def load_vocabulary(language: str = "en", path: Path | None = None) -> CommandVocabulary:
    return load_model(path or voices_dir() / language / "commands.yaml", CommandVocabulary)
