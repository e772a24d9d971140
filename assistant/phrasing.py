"""Turning the session's messages into sentences, with the wording from the language pack."""

from __future__ import annotations

import math
import re
import string
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.datafile import load_model
from assistant.plan import Step, TimeBudget
from assistant.protocol import Position, Repetitions, Technique, Variant
from assistant.resources import voices_dir
from assistant.session import Message, Phase

REQUIRED_PHRASES = frozenset(
    {
        "count_once", "count_times", "count_range", "on_each_side", "minutes_one", "minutes",
        "less_than_a_minute", "budget_ceiling", "budget_open", "session_intro", "position",
        "exacerbation", "gentle_session", "stage", "step", "step_regions", "step_direction",
        "step_count", "step_open", "step_softened", "last_step", "pain", "pain_after_session",
        "holding_for_pain", "resumed_gently", "paused", "still_paused", "resumed", "not_paused",
        "not_started", "session_over", "at_first_step", "session_resumed", "status",
        "status_finished", "budget_warning", "budget_limit", "budget_limit_open",
        "session_complete", "session_stopped", "count", "voice_louder", "voice_quieter",
        "voice_slower", "voice_faster", "help_running", "help_paused", "help_pain", "help_other",
        "microphone_lost", "microphone_back", "count_other_side", "help_screening",
        "screen_intro", "screen_question", "screen_present", "screen_absent",
        "screen_first_question", "screen_answer_first", "screen_pain", "screen_blocked",
        "screen_relative", "screen_clear", "no_question", "screen_status", "screen_blocking", "pain_level_question",
        "pain_level_noted", "pain_level_how", "note_start", "note_kept", "note_busy",
        "note_unavailable", "pain_withdrawn", "pain_withdrawn_paused", "pain_withdrawn_holding",
        "pain_withdrawn_after_session", "no_false_alarm",
    }
)  # fmt: skip


class PhraseBook(BaseModel):
    """A language pack's wording, validated so that a missing phrase is caught at load time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    numbers: list[str] = Field(min_length=20, max_length=20)
    tens: list[str] = Field(min_length=8, max_length=8)
    and_word: str
    techniques: dict[Technique, str]
    variants: dict[Variant, str]
    phrases: dict[str, str]

    @model_validator(mode="after")
    def _complete(self) -> PhraseBook:
        missing = sorted(REQUIRED_PHRASES - self.phrases.keys())
        if missing:
            raise ValueError(f"phrases missing: {', '.join(missing)}")
        unknown = sorted(self.phrases.keys() - REQUIRED_PHRASES)
        if unknown:
            raise ValueError(f"unknown phrases: {', '.join(unknown)}")
        for technique in Technique:
            if technique not in self.techniques:
                raise ValueError(f"techniques: no name for {technique.value!r}")
        for variant in Variant:
            if variant not in self.variants:
                raise ValueError(f"variants: no wording for {variant.value!r}")
        return self


def load_phrasebook(language: str = "en", path: Path | None = None) -> PhraseBook:
    return load_model(path or voices_dir() / language / "phrases.yaml", PhraseBook)


_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:])")
_DOUBLE_STOP = re.compile(r"\.(\s*\.)+")
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


class Phraser:
    """Words messages in one language."""

    def __init__(self, book: PhraseBook) -> None:
        self.book = book

    # --- small pieces ---

    def phrase(self, key: str, **slots: Any) -> str:
        return string.Formatter().vformat(self.book.phrases[key], (), slots)

    def number(self, value: int) -> str:
        if 0 <= value < 20:
            return self.book.numbers[value]
        if 20 <= value < 100:
            tens, ones = divmod(value, 10)
            word = self.book.tens[tens - 2]
            return f"{word}-{self.book.numbers[ones]}" if ones else word
        return str(value)

    def join(self, items: tuple[str, ...] | list[str]) -> str:
        items = list(items)
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.book.and_word} {items[-1]}"

    def repetitions(self, reps: Repetitions, per_side: bool) -> str:
        if reps.min == reps.max:
            count = (
                self.phrase("count_once")
                if reps.min == 1
                else self.phrase("count_times", count=self.number(reps.min))
            )
        else:
            count = self.phrase(
                "count_range", low=self.number(reps.min), high=self.number(reps.max)
            )
        return self.phrase("on_each_side", count=count) if per_side else count

    def minutes(self, seconds: float) -> str:
        whole = math.floor(seconds / 60.0 + 1e-9)
        if whole < 1:
            return self.phrase("less_than_a_minute")
        if whole == 1:
            return self.phrase("minutes_one")
        return self.phrase("minutes", minutes=self.number(whole))

    def technique(self, technique: Technique, variants: tuple[Variant, ...] = ()) -> str:
        name = self.book.techniques[technique]
        for variant in variants:
            name = self.book.variants[variant].format(technique=name)
        return name

    def budget(self, budget: TimeBudget) -> str:
        low = self.number(budget.range.min)
        if budget.open_ended:
            return self.phrase("budget_open", low=low)
        return self.phrase("budget_ceiling", low=low, high=self.number(budget.limit_minutes))

    def step(self, step: Step) -> str:
        if step.technique is None:
            text = self.phrase("step_open", regions=self.join(step.regions).capitalize())
            return _tidy(f"{text}. {step.note or ''}")
        technique = self.technique(step.technique, step.variants)
        if step.softened_from is not None:
            technique = self.phrase(
                "step_softened",
                technique=technique,
                original=self.technique(step.softened_from, step.softened_variants),
            )
        text = self.phrase(
            "step",
            technique=technique[:1].upper() + technique[1:],
            regions=self.phrase("step_regions", regions=self.join(step.regions)),
            direction=self.phrase("step_direction", direction=step.direction)
            if step.direction
            else "",
            count=self.phrase("step_count", count=self.repetitions(step.repetitions, step.per_side))
            if step.repetitions
            else "",
            note=step.note or "",
        )
        return _tidy(text)

    # --- whole messages ---

    def render(self, message: Message) -> str:
        handler = getattr(self, f"_render_{message.key}", None)
        if handler is not None:
            return _tidy(handler(**message.slots))
        return _tidy(self.phrase(message.key, **message.slots))

    def _render_session_intro(
        self, title: str, session_number: int, budget: TimeBudget, emphasis: Technique, **_: Any
    ) -> str:
        return self.phrase(
            "session_intro",
            title=title,
            session_number=self.number(session_number),
            budget=self.budget(budget),
            emphasis=self.book.techniques[emphasis],
        )

    def _render_position(self, position: Position) -> str:
        return self.phrase("position", patient=position.patient, setup=" ".join(position.setup))

    def _render_exacerbation(self, regions: tuple[str, ...]) -> str:
        return self.phrase("exacerbation", regions=self.join(regions))

    def _render_stage(self, step: Step) -> str:
        return self.phrase(
            "stage",
            stage_number=self.number(step.stage_number),
            stage_name=step.stage_name,
            stage_note=step.stage_note or "",
        )

    def _render_step(self, step: Step, last: bool, **_: Any) -> str:
        text = self.step(step)
        return f"{text} {self.phrase('last_step')}" if last else text

    def _render_pain(self, finished: bool, affected_regions: tuple[str, ...]) -> str:
        key = "pain_after_session" if finished else "pain"
        return self.phrase(key, regions=self.join(affected_regions))

    def _render_status(
        self,
        phase: Phase,
        step: Step,
        number: int,
        total: int,
        steps_left: int,
        used_seconds: float,
        budget: TimeBudget,
        left_seconds: float,
        **_: Any,
    ) -> str:
        if phase is Phase.FINISHED:
            return self.phrase("status_finished", used=self.minutes(used_seconds))
        technique = (
            self.technique(step.technique, step.variants)
            if step.technique
            else self.join(step.regions)
        )
        return self.phrase(
            "status",
            number=self.number(number),
            total=self.number(total),
            steps_left=self.number(steps_left),
            technique=technique,
            used=self.minutes(used_seconds),
            limit=self.minutes(budget.limit_seconds),
            left=self.minutes(left_seconds),
        )

    def _render_budget_warning(self, budget: TimeBudget, left_seconds: float, **_: Any) -> str:
        return self.phrase(
            "budget_warning",
            left=self.minutes(left_seconds + 1.0),
            limit=self.minutes(budget.limit_seconds),
        )

    def _render_budget_limit(self, budget: TimeBudget, **_: Any) -> str:
        key = "budget_limit_open" if budget.open_ended else "budget_limit"
        return self.phrase(key, limit=self.minutes(budget.limit_seconds))

    def _render_session_complete(self, rules: Any, used_seconds: float, **_: Any) -> str:
        per_day = self.phrase("count_times", count=self.number(rules.sessions_per_day))
        return self.phrase("session_complete", used=self.minutes(used_seconds), per_day=per_day)

    def _render_session_stopped(
        self, number: int, total: int, used_seconds: float, **_: Any
    ) -> str:
        return self.phrase(
            "session_stopped",
            number=self.number(number),
            total=self.number(total),
            used=self.minutes(used_seconds),
        )

    def _render_session_resumed(self, number: int, total: int, **_: Any) -> str:
        return self.phrase("session_resumed", number=self.number(number), total=self.number(total))

    def _render_count(self, number: int) -> str:
        return self.phrase("count", number=self.number(number))

    def _render_voice_changed(self, intent: Any) -> str:
        return self.phrase(f"voice_{intent.value}")

    def _render_help(self, phase: Phase) -> str:
        key = {
            Phase.RUNNING: "help_running",
            Phase.PAUSED: "help_paused",
            Phase.PAIN_HOLD: "help_pain",
            Phase.SCREENING: "help_screening",
        }.get(phase, "help_other")
        return self.phrase(key)

    def _render_pain_withdrawn(self, phase: Phase) -> str:
        key = {
            Phase.PAUSED: "pain_withdrawn_paused",
            Phase.PAIN_HOLD: "pain_withdrawn_holding",
            Phase.FINISHED: "pain_withdrawn_after_session",
        }.get(phase, "pain_withdrawn")
        return self.phrase(key)

    def _render_screen_intro(self, total: int) -> str:
        return self.phrase("screen_intro", total=self.number(total))

    def _render_pain_level_noted(self, level: int) -> str:
        return self.phrase("pain_level_noted", level=self.number(level))

    def _render_screen_status(self, number: int, total: int) -> str:
        return self.phrase("screen_status", number=self.number(number), total=self.number(total))

    def _render_screen_noted(self, name: str, yes: bool) -> str:
        # Said back so a misheard answer is caught; never as "yes" or "no", which it listens for.
        return self.phrase("screen_present" if yes else "screen_absent", name=name)

    def _render_screen_blocked(self, names: tuple[str, ...]) -> str:
        return self.phrase("screen_blocked", names=self.join(names))

    def _render_screen_blocking(self, names: tuple[str, ...]) -> str:
        return self.phrase("screen_blocking", names=self.join(names))

    def _render_screen_relative(self, names: tuple[str, ...]) -> str:
        return self.phrase("screen_relative", names=self.join(names))

    def _render_still_paused(self, intent: Any) -> str:
        return self.phrase("still_paused")

    def _render_holding_for_pain(self, intent: Any) -> str:
        return self.phrase("holding_for_pain")


def _tidy(text: str) -> str:
    """Collapse the gaps and doubled stops left where optional pieces are empty."""
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    text = _DOUBLE_STOP.sub(".", text)
    return _SENTENCE_START.sub(lambda m: m[1] + m[2].upper(), text)
