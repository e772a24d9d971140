"""The session state machine: events in, actions out; no audio, clock, terminal or database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from assistant.intents import ANSWER_INTENTS, VOICE_SETTING_INTENTS, Intent, Listening
from assistant.plan import SessionPlan, Step, build_plan
from assistant.protocol import Contraindication


class Phase(str, Enum):
    READY = "ready"
    SCREENING = "screening"  # asking the contraindication questions before the first step
    RUNNING = "running"
    PAUSED = "paused"
    PAIN_HOLD = "pain_hold"
    FINISHED = "finished"


BUDGET_WARNING = "budget_warning"
BUDGET_LIMIT = "budget_limit"
COUNT = "count"
CLOSING = "closing"  # the wait for a pain score after the last step
PAIN_WITHDRAWN = "pain_withdrawn"  # the record of a pain that was a false alarm


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted session stood, as rebuilt from its records."""

    step_index: int
    gentle: bool
    active_seconds: float
    warnings_given: frozenset[str] = frozenset()
    holding_for_pain: bool = False  # a pain event not yet followed by resume or next
    screen_pending: bool = False  # stopped before the contraindication screen was finished


@dataclass(frozen=True)
class Start:
    at: float
    resume: ResumePoint | None = None


@dataclass(frozen=True)
class Command:
    intent: Intent
    at: float
    heard: str | None = None
    value: int | None = None  # the score of a pain level


@dataclass(frozen=True)
class TimerFired:
    name: str
    at: float


@dataclass(frozen=True)
class AnnouncementDone:
    """The step announcement has been spoken (or printed): counting aloud may begin."""

    at: float


@dataclass(frozen=True)
class NoteKept:
    """A voice note has been recorded to path (None: it could not be recorded)."""

    path: str | None
    seconds: float
    at: float


Event = Start | Command | TimerFired | AnnouncementDone | NoteKept


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """Something to say, by phrase key; the language pack words it."""

    key: str
    slots: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    message: Message
    announces_step: bool = False


@dataclass(frozen=True)
class StopSpeaking:
    """Cut whatever is being said now and drop what is queued."""


@dataclass(frozen=True)
class Record:
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class StartTimer:
    name: str
    delay_seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class ChangeVoice:
    intent: Intent


@dataclass(frozen=True)
class EndSession:
    outcome: str


@dataclass(frozen=True)
class TakeNote:
    """Record the next seconds of the microphone as a voice note named name."""

    seconds: float
    name: str


@dataclass(frozen=True)
class ListenFor:
    """What to listen for from now on: commands, answers to a question, or a pain score."""

    listening: Listening


Action = (
    Say
    | StopSpeaking
    | Record
    | StartTimer
    | CancelTimer
    | ChangeVoice
    | EndSession
    | ListenFor
    | TakeNote
)

_COUNT_TEMPO = {Intent.SLOWER: 1.25, Intent.FASTER: 0.8}

# Commands that move through the plan; refused while paused or holding for pain.
_NAVIGATION = frozenset({Intent.NEXT, Intent.BACK, Intent.SKIP, Intent.REPEAT})


@dataclass(frozen=True)
class SessionSettings:
    count_aloud: bool = False
    count_interval_seconds: float = 2.0
    screen: bool = True  # ask the contraindication questions before the first step
    closing_seconds: float = 20.0  # after the last step, how long a pain score is waited for
    note_seconds: float = 10.0  # how much speech a voice note keeps


@dataclass(frozen=True)
class ScreenQuestion:
    contraindication: Contraindication
    absolute: bool


@dataclass(frozen=True)
class ScreenAnswer:
    question: ScreenQuestion
    yes: bool


@dataclass(frozen=True)
class _BeforePain:
    """How the session stood as pain was reported: where a false alarm takes it back to."""

    phase: Phase
    gentle: bool
    active_before: float
    active_since: float | None


class Session:
    """One massage session. `handle(event)` returns the actions the edges must carry out."""

    def __init__(self, plan: SessionPlan, settings: SessionSettings | None = None) -> None:
        self.plan = plan
        self.settings = settings or SessionSettings()
        self.phase = Phase.READY
        self.step_index = 0
        self.gentle = plan.options.starts_gentle
        self.warnings_given: set[str] = set()
        self._active_before = 0.0
        self._active_since: float | None = None
        self._announced_stage: int | None = None
        self._counted = 0
        self._count_interval = self.settings.count_interval_seconds
        self.screen_questions = self._screen_questions()
        self.screen_answers: list[ScreenAnswer] = []
        self.outcome: str | None = None  # once finished: completed, stopped or blocked
        self._closing = False  # finished, waiting a moment for a pain score
        self._pain_while_closing = False  # pain in that wait: the score given next belongs to it
        self._closing_due = 0.0  # when the latest wait for a score ends
        self._note_step: int | None = None  # the step a voice note being recorded belongs to
        self._notes_taken = 0
        # Pain events still in hand, each with how the session stood before it, latest last.
        self._pains_in_hand: list[_BeforePain] = []

    # --- queries ---

    @property
    def current_step(self) -> Step:
        return self.plan.step_as_done(self.step_index, self.gentle)

    def active_seconds(self, at: float) -> float:
        """Massage time so far: everything but pauses."""
        running = at - self._active_since if self._active_since is not None else 0.0
        return self._active_before + max(0.0, running)

    # --- dispatch ---

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, Start):
            return self._start(event)
        if isinstance(event, Command):
            return self._command(event)
        if isinstance(event, TimerFired):
            return self._timer(event)
        if isinstance(event, NoteKept):
            return self._note_kept(event)
        return self._announcement_done(event)

    # --- start ---

    def _start(self, event: Start) -> list[Action]:
        if self.phase is not Phase.READY:
            return []
        plan = self.plan
        actions: list[Action] = []
        resume = event.resume
        if resume is not None:
            self.step_index = min(max(resume.step_index, 0), len(plan.steps) - 1)
            self.gentle = self.gentle or resume.gentle
            self._active_before = resume.active_seconds
            self.warnings_given = set(resume.warnings_given)
            actions.append(self._record("session_resumed", event.at))
            if resume.screen_pending and self.screen_questions:
                # No massage before every question has its answer: the screen starts over.
                return [*actions, *self._begin_screen()]
            actions.append(Say(Message("session_resumed", self._where(event.at))))
        else:
            actions.append(
                self._record(
                    "session_started",
                    event.at,
                    session_number=plan.options.session_number,
                    exacerbation=plan.options.exacerbation,
                    gentle=self.gentle,
                    steps_total=len(plan.steps),
                    budget_minutes=plan.budget.limit_minutes,
                    screen=self._screen_state(),
                )
            )
            if self.screen_questions:
                return [*actions, *self._begin_screen()]
            actions.extend(self._intro())
        return [*actions, *self._begin_massage(event.at, resume)]

    def _begin_massage(self, at: float, resume: ResumePoint | None = None) -> list[Action]:
        """From the screen or the start: the time budget runs and the first step is announced."""
        actions: list[Action] = []
        self._active_since = at
        if resume is not None and resume.holding_for_pain:
            # The patient was in pain when the program stopped: still wait for resume or next.
            self.phase = Phase.PAIN_HOLD
            actions.extend(self._schedule_budget(at))
            actions.append(ListenFor(Listening.PAIN_LEVEL))
            actions.append(Say(Message("pain", self._pain_slots())))
            return actions
        self.phase = Phase.RUNNING
        actions.extend(self._schedule_budget(at))
        actions.extend(self._enter_step(self.step_index, at))
        return actions

    def _intro(self) -> list[Action]:
        plan = self.plan
        slots = {
            "title": plan.protocol.title,
            "session_number": plan.options.session_number,
            "budget": plan.budget,
            "emphasis": plan.emphasis,
            "first_sessions": plan.first_sessions,
        }
        says = [
            Message("session_intro", slots),
            Message("position", {"position": plan.protocol.position}),
        ]
        if plan.options.exacerbation:
            says.append(Message("exacerbation", {"regions": plan.regions_left_out}))
        if self.gentle:
            says.append(Message("gentle_session", {}))
        return [Say(m) for m in says]

    # --- the contraindication screen ---

    def _screen_questions(self) -> tuple[ScreenQuestion, ...]:
        if not self.settings.screen:
            return ()
        listed = self.plan.protocol.contraindications
        questions = [ScreenQuestion(c, absolute=True) for c in listed.absolute] + [
            ScreenQuestion(c, absolute=False)
            for c in listed.relative
            # An exacerbation already on record (the patient's, or --exacerbation) is not asked.
            if not (c.neighbouring_areas_only and self.plan.options.exacerbation)
        ]
        return tuple(questions)

    def _begin_screen(self) -> list[Action]:
        self.phase = Phase.SCREENING
        self.screen_answers.clear()
        total = len(self.screen_questions)
        return [
            Say(Message("screen_intro", {"total": total})),
            ListenFor(Listening.ANSWERS),
            self._ask(),
        ]

    def _screen_state(self) -> str:
        if not self.settings.screen:
            return "skipped"
        return "asked" if self.screen_questions else "nothing to ask"

    def _ask(self) -> Say:
        number = len(self.screen_answers)
        question = self.screen_questions[number].contraindication.question
        slots = {"question": question, "number": number + 1, "total": len(self.screen_questions)}
        return Say(Message("screen_question", slots))

    def _blocking(self) -> Contraindication | None:
        """The absolute contraindication just answered yes, waiting to be confirmed or taken back."""
        last = self.screen_answers[-1] if self.screen_answers else None
        if last is not None and last.yes and last.question.absolute:
            return last.question.contraindication
        return None

    def _while_screening(self, event: Command) -> list[Action]:
        intent, at = event.intent, event.at
        record = self._record_command(event)
        blocking = self._blocking()
        if intent is Intent.BACK:
            if not self.screen_answers:
                return [record, Say(Message("screen_first_question", {})), self._ask()]
            withdrawn = self.screen_answers.pop()
            taken_back = self._record(
                "screen_answer_withdrawn",
                at,
                contraindication=withdrawn.question.contraindication.id,
            )
            return [record, StopSpeaking(), taken_back, self._ask()]
        if blocking is not None:
            # A misheard yes must not end the session unheard: it stands once confirmed.
            if intent in (Intent.YES, Intent.STOP):
                return [record, StopSpeaking(), *self._screen_done(at)]
            return [record, Say(Message("screen_blocking", {"names": (blocking.name,)}))]
        if intent in ANSWER_INTENTS:
            return [record, *self._answer(intent is Intent.YES, at)]
        if intent is Intent.STOP:
            return [*self._finish(event, "stopped"), ListenFor(Listening.COMMANDS)]
        if intent is Intent.REPEAT:
            return [record, StopSpeaking(), self._ask()]
        return [record, Say(Message("screen_answer_first", {})), self._ask()]

    def _answer(self, yes: bool, at: float) -> list[Action]:
        question = self.screen_questions[len(self.screen_answers)]
        contraindication = question.contraindication
        self.screen_answers.append(ScreenAnswer(question, yes))
        noted = self._record(
            "screen_answer",
            at,
            contraindication=contraindication.id,
            name=contraindication.name,
            question=contraindication.question,
            absolute=question.absolute,
            answer="yes" if yes else "no",
        )
        said = Say(Message("screen_noted", {"name": contraindication.name, "yes": yes}))
        if yes and question.absolute:
            return [
                noted,
                said,
                Say(Message("screen_blocking", {"names": (contraindication.name,)})),
            ]
        if len(self.screen_answers) < len(self.screen_questions):
            return [noted, said, self._ask()]
        return [noted, said, *self._screen_done(at)]

    def _screen_done(self, at: float) -> list[Action]:
        absolute = [
            a.question.contraindication
            for a in self.screen_answers
            if a.yes and a.question.absolute
        ]
        relative = [
            a.question.contraindication
            for a in self.screen_answers
            if a.yes and not a.question.absolute
        ]
        if absolute:
            result = self._record(
                "screen_result", at, outcome="blocked", absolute=[c.id for c in absolute]
            )
            names = tuple(c.name for c in absolute)
            return [
                result,
                ListenFor(Listening.COMMANDS),
                Say(Message("screen_blocked", {"names": names})),
                *self._finish_records(at, "blocked"),
                EndSession("blocked"),
            ]
        actions: list[Action] = [ListenFor(Listening.COMMANDS)]
        if relative:
            self.gentle = True
            if any(c.neighbouring_areas_only for c in relative):
                options = replace(self.plan.options, exacerbation=True)
                self.plan = build_plan(self.plan.protocol, options)
            names = tuple(c.name for c in relative)
            actions.append(Say(Message("screen_relative", {"names": names})))
        else:
            actions.append(Say(Message("screen_clear", {})))
        result = self._record(
            "screen_result",
            at,
            outcome="gentle" if relative else "clear",
            relative=[c.id for c in relative],
            exacerbation=self.plan.options.exacerbation,
            gentle=self.gentle,
            steps_total=len(self.plan.steps),
        )
        return [result, *actions, *self._intro(), *self._begin_massage(at)]

    # --- commands ---

    def _command(self, event: Command) -> list[Action]:
        intent = event.intent
        if intent is Intent.PAIN:
            return self._pain(event)
        if intent is Intent.FALSE_ALARM:
            return self._false_alarm(event)
        if intent is Intent.HELP:
            return [self._record_command(event), Say(Message("help", {"phase": self.phase}))]
        if self.phase is Phase.SCREENING and intent is Intent.STATUS:
            slots = {"number": len(self.screen_answers) + 1, "total": len(self.screen_questions)}
            return [self._record_command(event), Say(Message("screen_status", slots))]
        if self.phase is Phase.SCREENING and intent not in VOICE_SETTING_INTENTS:
            return self._while_screening(event)
        if intent in ANSWER_INTENTS:
            return [Say(Message("no_question", {}))]
        if intent is Intent.STATUS:
            return [self._record_command(event), Say(Message("status", self._where(event.at)))]
        if intent in VOICE_SETTING_INTENTS:
            # Counting keeps pace with the voice: slower speech, slower counting.
            tempo = _COUNT_TEMPO.get(intent, 1.0)
            self._count_interval = min(10.0, max(0.5, self._count_interval * tempo))
            return [
                self._record_command(event),
                ChangeVoice(intent),
                Say(Message("voice_changed", {"intent": intent})),
            ]
        if self.phase is Phase.READY:
            return [Say(Message("not_started", {}))]
        if intent is Intent.PAIN_LEVEL:
            return self._pain_level(event)
        if intent is Intent.NOTE and self.phase is not Phase.FINISHED:
            return self._take_note(event)
        if self.phase is Phase.FINISHED:
            if self._closing and intent is Intent.STOP:
                return self._close()
            return [Say(Message("session_over", {}))]
        if intent is Intent.STOP:
            return self._finish(event, "stopped")
        if self.phase is Phase.PAUSED:
            return self._while_paused(event)
        if self.phase is Phase.PAIN_HOLD:
            return self._while_holding_for_pain(event)
        return self._while_running(event)

    def _while_running(self, event: Command) -> list[Action]:
        intent, at = event.intent, event.at
        record = self._record_command(event)
        if intent in _NAVIGATION:
            # The therapist has moved on: cut the sentence being said about the old step.
            return [StopSpeaking(), *self._navigate(event, record)]
        if intent is Intent.PAUSE:
            self.phase = Phase.PAUSED
            self._active_before = self.active_seconds(at)
            self._active_since = None
            return [
                record,
                self._record("paused", at),
                *self._leave_step(),
                CancelTimer(BUDGET_WARNING),
                CancelTimer(BUDGET_LIMIT),
                Say(Message("paused", {})),
            ]
        # RESUME while running.
        return [Say(Message("not_paused", {}))]

    def _navigate(self, event: Command, record: Record) -> list[Action]:
        intent, at = event.intent, event.at
        if intent is Intent.NEXT:
            completed = self._record("step_completed", at)
            return [record, completed, *self._advance(at)]
        if intent is Intent.SKIP:
            skipped = self._record("step_skipped", at)
            return [record, skipped, *self._advance(at)]
        if intent is Intent.BACK:
            if self.step_index == 0:
                return [record, Say(Message("at_first_step", {}))]
            return [record, *self._leave_step(), *self._enter_step(self.step_index - 1, at)]
        # REPEAT
        return [record, *self._leave_step(), *self._announce(at, repeat=True)]

    def _while_paused(self, event: Command) -> list[Action]:
        if event.intent is Intent.RESUME:
            self.phase = Phase.RUNNING
            self._active_since = event.at
            return [
                self._record_command(event),
                self._record("resumed", event.at),
                *self._schedule_budget(event.at),
                Say(Message("resumed", {})),
                *self._announce(event.at, repeat=True),
            ]
        return [Say(Message("still_paused", {"intent": event.intent}))]

    def _while_holding_for_pain(self, event: Command) -> list[Action]:
        if event.intent in (Intent.RESUME, Intent.NEXT):
            self._pains_in_hand.clear()  # the therapist has carried on: the pain stands
        if event.intent is Intent.RESUME:
            self.phase = Phase.RUNNING
            return [
                self._record_command(event),
                self._record("resumed", event.at),
                ListenFor(Listening.COMMANDS),
                Say(Message("resumed_gently", {})),
                *self._announce(event.at, repeat=True),
            ]
        if event.intent is Intent.NEXT:
            self.phase = Phase.RUNNING
            actions = self._advance(event.at)
            if self.phase is Phase.RUNNING:
                actions.insert(0, ListenFor(Listening.COMMANDS))
            return [self._record_command(event), *actions]
        if event.intent is Intent.REPEAT:
            return [Say(Message("pain", self._pain_slots()))]
        return [Say(Message("holding_for_pain", {"intent": event.intent}))]

    # --- pain: accepted in every phase, before anything else ---

    def _pain(self, event: Command) -> list[Action]:
        previous = self.phase
        interrupted = (
            self.step_index if previous in (Phase.RUNNING, Phase.PAIN_HOLD, Phase.PAUSED) else None
        )
        actions: list[Action] = [StopSpeaking(), CancelTimer(COUNT)]
        actions.append(self._record_command(event))
        actions.append(
            self._record("pain", event.at, phase=previous.value, interrupted_step=interrupted)
        )
        if previous is not Phase.SCREENING:
            before = _BeforePain(previous, self.gentle, self._active_before, self._active_since)
            self._pains_in_hand.append(before)
        self.gentle = True
        if previous is Phase.READY:
            self.phase = Phase.PAIN_HOLD
            self._active_since = event.at
            actions.extend(self._schedule_budget(event.at))
        elif previous is Phase.PAUSED:
            # Gentle stroking on a neighbouring area is massage time again.
            self.phase = Phase.PAIN_HOLD
            self._active_since = event.at
            actions.extend(self._schedule_budget(event.at))
        elif previous is Phase.RUNNING:
            self.phase = Phase.PAIN_HOLD
        elif previous is Phase.SCREENING:
            # Nothing is being done to the patient yet: note it, and go on with the questions.
            blocking = self._blocking()
            if blocking is not None:
                waiting = Say(Message("screen_blocking", {"names": (blocking.name,)}))
                return [*actions, Say(Message("screen_pain", {})), waiting]
            return [*actions, Say(Message("screen_pain", {})), self._ask()]
        # A pain score may follow ("pain level six"); after the session it is already awaited.
        if self.phase is Phase.PAIN_HOLD:
            actions.append(ListenFor(Listening.PAIN_LEVEL))
        actions.append(Say(Message("pain", self._pain_slots())))
        if self._closing:
            # The wait starts again, so there is time to score this pain once it has been said.
            self._pain_while_closing = True
            actions.append(self._wait_for_score(event.at))
        return actions

    def _false_alarm(self, event: Command) -> list[Action]:
        """The pain reported last was not: withdraw it, and go back to where the session was.

        Only while it is in hand: before resume, next or a pain score for it.
        """
        if not self._pains_in_hand:
            return [Say(Message("no_false_alarm", {}))]
        before = self._pains_in_hand.pop()
        self.gentle = before.gentle
        # What it is saying about the pain no longer holds.
        actions: list[Action] = [StopSpeaking(), self._record_command(event)]
        if self.phase is Phase.FINISHED:
            self._pain_while_closing = False
        else:
            self.phase = before.phase
        if self.phase in (Phase.READY, Phase.PAUSED):
            # The pain had started the massage clock and its budget: stop them again.
            self._active_before, self._active_since = before.active_before, before.active_since
            actions += [CancelTimer(BUDGET_WARNING), CancelTimer(BUDGET_LIMIT)]
        actions.append(
            self._record(
                PAIN_WITHDRAWN,
                event.at,
                holding=self.phase is Phase.PAIN_HOLD,
                gentle=self.gentle,
            )
        )
        if self.phase not in (Phase.PAIN_HOLD, Phase.FINISHED):
            actions.append(ListenFor(Listening.COMMANDS))
        actions.append(Say(Message("pain_withdrawn", {"phase": self.phase})))
        if self.phase is Phase.RUNNING:
            actions.extend(self._announce(event.at, repeat=True))
        return actions

    def _pain_level(self, event: Command) -> list[Action]:
        """A pain score: after a pain event it belongs to it; otherwise it stands on its own."""
        if event.value is None or not 0 <= event.value <= 10:
            return [Say(Message("pain_level_how", {}))]
        after_pain = self.phase is Phase.PAIN_HOLD or self._pain_while_closing
        self._pain_while_closing = False
        if after_pain:
            self._pains_in_hand.clear()  # scored: the pain was real
        actions: list[Action] = [
            self._record_command(event),
            self._record("pain_level", event.at, level=event.value, after_pain=after_pain),
            Say(Message("pain_level_noted", {"level": event.value})),
        ]
        if self._closing:
            actions.extend(self._close())
        return actions

    # --- voice notes ---

    def _take_note(self, event: Command) -> list[Action]:
        if self._note_step is not None:
            return [Say(Message("note_busy", {}))]
        self._note_step = self.step_index
        self._notes_taken += 1
        name = f"note-{self._notes_taken}-step-{self.step_index + 1}"
        return [
            self._record_command(event),
            Say(Message("note_start", {})),
            ListenFor(Listening.NOTE),
            TakeNote(self.settings.note_seconds, name),
        ]

    def _note_kept(self, event: NoteKept) -> list[Action]:
        step, self._note_step = self._note_step, None
        if step is None:
            return []
        waiting_for_score = self.phase is Phase.PAIN_HOLD or self._closing
        listening = Listening.PAIN_LEVEL if waiting_for_score else Listening.COMMANDS
        actions: list[Action] = [ListenFor(listening)]
        if event.path is None:
            return [*actions, Say(Message("note_unavailable", {}))]
        kept = self._record(
            "voice_note", event.at, path=event.path, seconds=round(event.seconds, 2)
        )
        # The note belongs to the step it was asked for on, wherever the session is now.
        kept = Record(kept.kind, {**kept.data, "step": step})
        return [kept, *actions, Say(Message("note_kept", {}))]

    def _wait_for_score(self, at: float) -> StartTimer:
        self._closing_due = at + self.settings.closing_seconds
        return StartTimer(CLOSING, self.settings.closing_seconds)

    def _close(self) -> list[Action]:
        self._closing = False
        return [CancelTimer(CLOSING), EndSession(self.outcome or "completed")]

    def _pain_slots(self) -> dict[str, Any]:
        return {
            "finished": self.phase is Phase.FINISHED,
            "affected_regions": self.plan.protocol.affected_regions,
        }

    # --- timers ---

    def _timer(self, event: TimerFired) -> list[Action]:
        if event.name == COUNT:
            return self._count_next()
        if event.name == CLOSING:
            # One that went off just before pain started the wait again may still be on its
            # way: only the latest wait ends the session.
            late_enough = event.at + 0.5 >= self._closing_due
            return self._close() if self._closing and late_enough else []
        if self.phase not in (Phase.RUNNING, Phase.PAIN_HOLD) or event.name in self.warnings_given:
            return []
        budget = self.plan.budget
        due = budget.warning_at_seconds if event.name == BUDGET_WARNING else budget.limit_seconds
        used = self.active_seconds(event.at)
        if used + 0.5 < due:
            # A timer set before a pause fired early relative to massage time: set it again.
            return [StartTimer(event.name, due - used)]
        self.warnings_given.add(event.name)
        slots = {"budget": budget, **self._where(event.at)}
        return [self._record(event.name, event.at), Say(Message(event.name, slots))]

    def _schedule_budget(self, at: float) -> list[Action]:
        budget = self.plan.budget
        used = self.active_seconds(at)
        actions: list[Action] = []
        for name, due in (
            (BUDGET_WARNING, budget.warning_at_seconds),
            (BUDGET_LIMIT, budget.limit_seconds),
        ):
            if name not in self.warnings_given:
                actions.append(StartTimer(name, max(0.0, due - used)))
        return actions

    # --- counting aloud ---

    def _announcement_done(self, event: AnnouncementDone) -> list[Action]:
        step = self.current_step
        if (
            not self.settings.count_aloud
            or self.phase is not Phase.RUNNING
            or step.repetitions is None
        ):
            return []
        self._counted = 0
        return [StartTimer(COUNT, self._count_interval)]

    def _count_next(self) -> list[Action]:
        """One more repetition counted; "on each side" counts the range twice, side by side."""
        step = self.current_step
        if self.phase is not Phase.RUNNING or step.repetitions is None:
            return []
        per_side = step.repetitions.max
        self._counted += 1
        number = (self._counted - 1) % per_side + 1
        actions: list[Action] = [Say(Message("count", {"number": number}))]
        if self._counted < per_side * (2 if step.per_side else 1):
            if number == per_side:
                actions.append(Say(Message("count_other_side", {})))
            actions.append(StartTimer(COUNT, self._count_interval))
        return actions

    # --- moving through the plan ---

    def _advance(self, at: float) -> list[Action]:
        if self.step_index + 1 >= len(self.plan.steps):
            return self._complete(at)
        return [*self._leave_step(), *self._enter_step(self.step_index + 1, at)]

    def _leave_step(self) -> list[Action]:
        self._counted = 0
        return [CancelTimer(COUNT)] if self.settings.count_aloud else []

    def _enter_step(self, index: int, at: float) -> list[Action]:
        self.step_index = index
        return [self._record("step_started", at), *self._announce(at, repeat=False)]

    def _announce(self, at: float, repeat: bool) -> list[Action]:
        step = self.current_step
        actions: list[Action] = []
        if step.stage_number != self._announced_stage or (step.first_in_stage and not repeat):
            actions.append(Say(Message("stage", {"step": step})))
            self._announced_stage = step.stage_number
        slots = {
            "step": step,
            "number": step.index + 1,
            "total": len(self.plan.steps),
            "gentle": self.gentle,
            "last": step.index + 1 == len(self.plan.steps),
        }
        actions.append(Say(Message("step", slots), announces_step=True))
        return actions

    def _complete(self, at: float) -> list[Action]:
        rules = self.plan.protocol.rules
        closing = Say(Message("session_complete", {"rules": rules, **self._where(at)}))
        # The session is over and recorded; a pain score is waited for a moment before it ends.
        self._closing = True
        return [
            *self._finish_records(at, "completed"),
            closing,
            ListenFor(Listening.PAIN_LEVEL),
            Say(Message("pain_level_question", {})),
            self._wait_for_score(at),
        ]

    def _finish(self, event: Command, outcome: str) -> list[Action]:
        return [
            StopSpeaking(),
            self._record_command(event),
            *self._finish_records(event.at, outcome),
            Say(Message("session_stopped", self._where(event.at))),
            EndSession(outcome),
        ]

    def _finish_records(self, at: float, outcome: str) -> list[Action]:
        actions: list[Action] = [
            *self._leave_step(),
            CancelTimer(BUDGET_WARNING),
            CancelTimer(BUDGET_LIMIT),
            self._record("session_ended", at, outcome=outcome),
        ]
        self._active_before = self.active_seconds(at)
        self._active_since = None
        self.phase = Phase.FINISHED
        self.outcome = outcome
        self._pains_in_hand.clear()
        return actions

    # --- helpers ---

    def _where(self, at: float) -> dict[str, Any]:
        used = self.active_seconds(at)
        budget = self.plan.budget
        return {
            "phase": self.phase,
            "step": self.current_step,
            "number": self.step_index + 1,
            "total": len(self.plan.steps),
            "steps_left": len(self.plan.steps) - self.step_index - 1,
            "used_seconds": used,
            "budget": budget,
            "left_seconds": max(0.0, budget.limit_seconds - used),
            "gentle": self.gentle,
        }

    def _record(self, kind: str, at: float, **data: Any) -> Record:
        base = {"step": self.step_index, "active_seconds": round(self.active_seconds(at), 3)}
        return Record(kind, {**base, **data})

    def _record_command(self, event: Command) -> Record:
        return self._record("command", event.at, intent=event.intent.value, heard=event.heard)
