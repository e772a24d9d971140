"""What a session report says, worked out from the stored records and the protocol's plan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.catalog import load_protocol
from assistant.datafile import DataFileError
from assistant.plan import SessionOptions, SessionPlan, Step, build_plan
from assistant.protocol import MinutesRange, Protocol, Repetitions
from assistant.session import BUDGET_LIMIT, BUDGET_WARNING, PAIN_WITHDRAWN
from assistant.store import SessionStore, StoredEvent, StoredSession

# Record kinds added by other parts of the assistant; shown when a session has them.
PAIN_LEVEL = "pain_level"
VOICE_NOTE = "voice_note"
SCREEN_ANSWER = "screen_answer"
SCREEN_ANSWER_WITHDRAWN = "screen_answer_withdrawn"

# Events that end the time spent on the current step.
_STEP_BOUNDARIES = frozenset(
    {"step_started", "step_completed", "step_skipped", "session_ended", "session_interrupted"}
)

COMPLETED = "completed"
SKIPPED = "skipped"
LEFT_AFTER_PAIN = "left after pain"
STOPPED_HERE = "stopped here"
INTERRUPTED_HERE = "interrupted here"
LEFT_UNFINISHED = "left unfinished"
NOT_REACHED = "not reached"


class ReportProblem(LookupError):
    """Nothing to report on: the session or patient is not in the records."""


@dataclass(frozen=True)
class StepRecord:
    """One step of the plan as the session went: time spent and how it ended."""

    index: int
    stage_number: int
    stage_name: str
    technique: str
    regions: tuple[str, ...]
    direction: str | None
    repetitions: str
    seconds: float
    visits: int
    status: str
    gentle: bool

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def label(self) -> str:
        """Short wording for lists: "step 3 (kneading, upper back)"."""
        areas = ", ".join(self.regions)
        what = ", ".join(part for part in (self.technique, areas) if part)
        return f"step {self.number} ({what})" if what else f"step {self.number}"


@dataclass(frozen=True)
class HeardCommand:
    at: str
    active_seconds: float
    step: int
    intent: str
    heard: str | None


@dataclass(frozen=True)
class PainEvent:
    at: str
    active_seconds: float
    interrupted_step: int | None
    phase: str | None
    level: int | None


@dataclass(frozen=True)
class PainScore:
    """A pain level given on its own, not right after a pain event."""

    at: str
    active_seconds: float
    step: int | None
    level: int


@dataclass(frozen=True)
class VoiceNote:
    at: str
    path: str
    step: int | None
    seconds: float | None


@dataclass(frozen=True)
class ScreenAnswer:
    question: str
    answer: str
    kind: str
    contraindication: str = ""
    name: str = ""


@dataclass(frozen=True)
class BudgetEvent:
    kind: str
    at: str
    active_seconds: float


@dataclass(frozen=True)
class NextSession:
    session_number: int
    budget: str
    emphasis: str
    first_sessions: bool
    sessions_per_day: int
    regions_left_out: tuple[str, ...]


@dataclass(frozen=True)
class Soap:
    """A draft for the therapist to complete: each part is a list of sentences."""

    subjective: tuple[str, ...]
    objective: tuple[str, ...]
    assessment: tuple[str, ...]
    plan: tuple[str, ...]


@dataclass(frozen=True)
class SessionReport:
    session: StoredSession
    title: str
    protocol_found: bool
    active_seconds: float
    budget: str
    budget_limit_minutes: int
    budget_open_ended: bool
    steps: tuple[StepRecord, ...]
    commands: tuple[HeardCommand, ...]
    pain: tuple[PainEvent, ...]
    pain_scores: tuple[PainScore, ...]
    voice_notes: tuple[VoiceNote, ...]
    screen_answers: tuple[ScreenAnswer, ...]
    screen: str  # "asked", "skipped", "nothing to ask", or "" where not recorded
    screen_outcome: str  # "clear", "gentle", "blocked", or "" where the screen did not finish
    budget_events: tuple[BudgetEvent, ...]
    regions_left_out: tuple[str, ...]
    next_session: NextSession | None
    soap: Soap

    @property
    def over_budget(self) -> bool:
        """Past the ceiling; an open-ended budget ("15 minutes or more") has none."""
        return not self.budget_open_ended and self.active_seconds > self.budget_limit_minutes * 60.0

    @property
    def under_target(self) -> bool:
        """Short of an open-ended budget's target."""
        return self.budget_open_ended and self.active_seconds < self.budget_limit_minutes * 60.0

    @property
    def pain_levels(self) -> tuple[int, ...]:
        given = [p.level for p in self.pain if p.level is not None]
        return (*given, *(s.level for s in self.pain_scores))

    @property
    def steps_completed(self) -> int:
        return sum(1 for s in self.steps if s.status == COMPLETED)

    def step(self, index: int | None) -> StepRecord | None:
        if index is None or not 0 <= index < len(self.steps):
            return None
        return self.steps[index]


# --- wording shared by the renderers --------------------------------------------------------


def duration(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def minutes_range(minutes: MinutesRange) -> str:
    if minutes.max is None:
        return f"{minutes.min} minutes or more"
    if minutes.max == minutes.min:
        return f"{minutes.min} minutes"
    return f"{minutes.min}\u2013{minutes.max} minutes"


def repetitions_text(repetitions: Repetitions | None, per_side: bool) -> str:
    if repetitions is None:
        return ""
    if repetitions.min == repetitions.max:
        count = str(repetitions.min)
    else:
        count = f"{repetitions.min}\u2013{repetitions.max}"
    return f"{count} on each side" if per_side else count


def technique_text(step: Step) -> str:
    if step.technique is None:
        return ""
    name = step.technique.value
    if step.variants:
        name += f" ({', '.join(v.value for v in step.variants)})"
    if step.softened_from is not None:
        instead = step.softened_from.value
        if step.softened_variants:
            instead = f"{', '.join(v.value for v in step.softened_variants)} {instead}"
        name += f", instead of {instead}"
    return name


def local_time(at: str, with_date: bool = False) -> str:
    """A stored UTC timestamp in the machine's local time; unparseable text is shown as it is."""
    try:
        moment = datetime.fromisoformat(at).astimezone()
    except ValueError:
        return at
    return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M:%S")


# --- building the report -------------------------------------------------------------------


def load_session_protocol(session: StoredSession) -> Protocol | None:
    """The protocol the session followed: its file if still there, else the built-in of that name."""
    candidates = [session.protocol_path, session.protocol]
    for candidate in candidates:
        if not candidate:
            continue
        if candidate == session.protocol_path and not Path(candidate).exists():
            continue
        try:
            protocol, _path = load_protocol(candidate)
        except DataFileError:
            continue
        if protocol.id == session.protocol:
            return protocol
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class _Walk:
    """Running state while reading a session's events in order."""

    gentle: bool
    active: float = 0.0
    current: int | None = None
    since: float = 0.0
    final_step: int | None = None
    screen: str = ""
    screen_outcome: str = ""

    def __post_init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self.visits: dict[int, int] = {}
        self.gentle_steps: set[int] = set()
        self.completed: set[int] = set()
        self.skipped: set[int] = set()
        self.pain_steps: set[int] = set()
        self.reached = -1

    def close_step(self) -> None:
        if self.current is None:
            return
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + max(
            0.0, self.active - self.since
        )
        if self.gentle:
            self.gentle_steps.add(self.current)
        self.current = None


def build_session_report(store: SessionStore, session_id: int) -> SessionReport:
    session = store.session(session_id)
    if session is None:
        raise ReportProblem(f"there is no session {session_id} in the records")
    events = store.events(session_id)
    protocol = load_session_protocol(session)
    plan = (
        build_plan(
            protocol,
            SessionOptions(session.session_number, session.exacerbation, session.gentle),
        )
        if protocol is not None
        else None
    )
    walk = _Walk(gentle=session.gentle)
    commands: list[HeardCommand] = []
    pain: list[PainEvent] = []
    scores: list[PainScore] = []
    notes: list[VoiceNote] = []
    answers: list[ScreenAnswer] = []
    budget_events: list[BudgetEvent] = []
    for event in events:
        _read_event(event, walk, commands, pain, scores, notes, answers, budget_events)
    walk.close_step()

    steps = _step_records(plan, session, walk)
    if plan is not None:
        title = plan.protocol.title
        budget = minutes_range(plan.budget.range)
        limit, open_ended = plan.budget.limit_minutes, plan.budget.open_ended
        left_out = plan.regions_left_out
    else:
        title = session.protocol
        budget = f"{session.budget_minutes} minutes"
        limit, open_ended = session.budget_minutes, False
        left_out = ()
    next_session = _next_session(protocol, session)
    draft = SessionReport(
        session=session,
        title=title,
        protocol_found=plan is not None,
        active_seconds=walk.active,
        budget=budget,
        budget_limit_minutes=limit,
        budget_open_ended=open_ended,
        steps=steps,
        commands=tuple(commands),
        pain=tuple(pain),
        pain_scores=tuple(scores),
        voice_notes=tuple(notes),
        screen_answers=tuple(answers),
        screen=walk.screen,
        screen_outcome=walk.screen_outcome,
        budget_events=tuple(budget_events),
        regions_left_out=left_out,
        next_session=next_session,
        soap=Soap((), (), (), ()),
    )
    return replace(draft, soap=soap_draft(draft))


def _read_event(
    event: StoredEvent,
    walk: _Walk,
    commands: list[HeardCommand],
    pain: list[PainEvent],
    scores: list[PainScore],
    notes: list[VoiceNote],
    answers: list[ScreenAnswer],
    budget_events: list[BudgetEvent],
) -> None:
    data = event.data
    active = _number(data.get("active_seconds"))
    if active is not None:
        walk.active = max(walk.active, active)
    step = _index(data.get("step"))
    kind = event.kind
    if kind in _STEP_BOUNDARIES:
        walk.close_step()
    if step is not None and kind in _STEP_BOUNDARIES:
        walk.final_step = step
    if kind == "session_started":
        walk.gentle = walk.gentle or bool(data.get("gentle"))
        walk.screen = str(data.get("screen", ""))
    elif kind == "screen_result":
        walk.screen_outcome = str(data.get("outcome", ""))
    elif kind == "step_started" and step is not None:
        walk.current, walk.since = step, walk.active
        walk.visits[step] = walk.visits.get(step, 0) + 1
        walk.reached = max(walk.reached, step)
    elif kind == "step_completed" and step is not None:
        walk.completed.add(step)
    elif kind == "step_skipped" and step is not None:
        walk.skipped.add(step)
    elif kind == "command":
        commands.append(
            HeardCommand(
                event.at, walk.active, step or 0, str(data.get("intent")), data.get("heard")
            )
        )
    elif kind == "pain":
        interrupted = _index(data.get("interrupted_step"))
        pain.append(PainEvent(event.at, walk.active, interrupted, data.get("phase"), None))
        if interrupted is not None:
            walk.pain_steps.add(interrupted)
        walk.gentle = True
    elif kind == PAIN_WITHDRAWN:
        # "False alarm": the latest pain not withdrawn yet was never the patient's, and the
        # session went back to how it stood before it.
        if pain:
            pain.pop()
        walk.pain_steps = {p.interrupted_step for p in pain if p.interrupted_step is not None}
        walk.gentle = bool(data.get("gentle", walk.gentle))
    elif kind == PAIN_LEVEL:
        _read_pain_level(event, walk, pain, scores)
    elif kind == VOICE_NOTE:
        notes.append(
            VoiceNote(event.at, str(data.get("path", "")), step, _number(data.get("seconds")))
        )
    elif kind == SCREEN_ANSWER:
        answers.append(
            ScreenAnswer(
                str(data.get("question", "")),
                _answer_text(data.get("answer")),
                "absolute" if data.get("absolute") else "relative",
                str(data.get("contraindication", "")),
                str(data.get("name", "")),
            )
        )
    elif kind == SCREEN_ANSWER_WITHDRAWN:
        # "Go back" during the screen: the answer given last for it was taken back.
        withdrawn = str(data.get("contraindication", ""))
        for i in range(len(answers) - 1, -1, -1):
            if answers[i].contraindication == withdrawn:
                del answers[i]
                break
    elif kind in (BUDGET_WARNING, BUDGET_LIMIT):
        budget_events.append(BudgetEvent(kind, event.at, walk.active))


def _answer_text(answer: Any) -> str:
    if isinstance(answer, bool):
        return "yes" if answer else "no"
    return "" if answer is None else str(answer)


def _read_pain_level(
    event: StoredEvent, walk: _Walk, pain: list[PainEvent], scores: list[PainScore]
) -> None:
    level = _index(event.data.get("level"))
    if level is None:
        return
    # A level given after a pain event belongs to it; one given later or alone stands by itself.
    if event.data.get("after_pain") and pain and pain[-1].level is None:
        last = pain[-1]
        pain[-1] = PainEvent(last.at, last.active_seconds, last.interrupted_step, last.phase, level)
    else:
        scores.append(PainScore(event.at, walk.active, _index(event.data.get("step")), level))


def _status(index: int, walk: _Walk, session: StoredSession) -> str:
    if index in walk.completed:
        return COMPLETED
    if index in walk.skipped:
        return SKIPPED
    if index == walk.final_step and index in walk.visits:
        return STOPPED_HERE if session.ended_at else INTERRUPTED_HERE
    if index in walk.pain_steps and index in walk.visits:
        return LEFT_AFTER_PAIN
    if index in walk.visits:
        return LEFT_UNFINISHED
    return NOT_REACHED


def _step_records(
    plan: SessionPlan | None, session: StoredSession, walk: _Walk
) -> tuple[StepRecord, ...]:
    total = len(plan.steps) if plan is not None else session.steps_total
    records: list[StepRecord] = []
    for index in range(total):
        gentle = index in walk.gentle_steps
        if plan is not None:
            step = plan.step_as_done(index, gentle)
            stage_number, stage_name = step.stage_number, step.stage_name
            technique, regions, direction = technique_text(step), step.regions, step.direction
            repetitions = repetitions_text(step.repetitions, step.per_side)
        else:
            stage_number, stage_name, technique, regions, direction = 0, "", "", (), None
            repetitions = ""
        records.append(
            StepRecord(
                index=index,
                stage_number=stage_number,
                stage_name=stage_name,
                technique=technique,
                regions=regions,
                direction=direction,
                repetitions=repetitions,
                seconds=walk.seconds.get(index, 0.0),
                visits=walk.visits.get(index, 0),
                status=_status(index, walk, session),
                gentle=gentle,
            )
        )
    return tuple(records)


def _next_session(protocol: Protocol | None, session: StoredSession) -> NextSession | None:
    if protocol is None:
        return None
    plan = build_plan(protocol, SessionOptions(session.session_number + 1, session.exacerbation))
    return NextSession(
        session_number=plan.options.session_number,
        budget=minutes_range(plan.budget.range),
        emphasis=plan.emphasis.value,
        first_sessions=plan.first_sessions,
        sessions_per_day=protocol.rules.sessions_per_day,
        regions_left_out=plan.regions_left_out,
    )


# --- the SOAP draft ----------------------------------------------------------------------------

_DASH = " \u2014 "


def _numbers(steps: Iterable[StepRecord]) -> str:
    """Step numbers as compact ranges: "2, 5\u20137"."""
    numbers = sorted(s.number for s in steps)
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}\u2013{run[-1]}" for run in runs)


def _pain_sentence(report: SessionReport, event: PainEvent) -> str:
    step = report.step(event.interrupted_step)
    where = f"during {step.label}" if step else "before the first step"
    level = f", level {event.level}/10" if event.level is not None else ", no level given"
    return f"Pain at {duration(event.active_seconds)} ({local_time(event.at)}) {where}{level}."


def soap_draft(report: SessionReport) -> Soap:
    subjective: list[str] = []
    for event in report.pain:
        step = report.step(event.interrupted_step)
        where = f" during {step.label}" if step else ""
        if event.level is not None:
            subjective.append(f"Pain reported{where}: {event.level}/10.")
        else:
            subjective.append(f"Pain reported{where}; no level given.")
    for score in report.pain_scores:
        subjective.append(f"Pain level {score.level}/10 at {duration(score.active_seconds)}.")
    if not report.pain and not report.pain_scores:
        subjective.append("No pain reported during the session.")
    for answer in report.screen_answers:
        subjective.append(
            f"Contraindication screen ({answer.kind or 'unspecified'}): {answer.question} \u2014 {answer.answer}."
        )
    if report.screen == "skipped":
        subjective.append("Contraindication screen skipped.")
    elif not report.screen_answers:
        subjective.append("No contraindication screen recorded.")

    objective: list[str] = []
    done = [s for s in report.steps if s.status == COMPLETED]
    objective.append(
        f"{len(done)} of {len(report.steps)} steps completed in {duration(report.active_seconds)}"
        f" of massage (budget {report.budget})."
    )
    for step in done:
        parts = [step.technique or step.stage_name, ", ".join(step.regions)]
        if step.repetitions:
            parts.append(f"\u00d7{step.repetitions}")
        objective.append(f"Step {step.number}: {_DASH.join(p for p in parts if p)}.")
    if report.regions_left_out:
        objective.append(
            f"Exacerbation: {', '.join(report.regions_left_out)} left out; neighbouring areas worked."
        )
    if any(s.gentle for s in report.steps):
        objective.append(
            "Gentle variant used after pain (tough techniques replaced, fewer repetitions)."
        )

    assessment: list[str] = []
    found = ", ".join(a.name or a.question for a in report.screen_answers if a.answer == "yes")
    if report.screen_outcome == "blocked":
        assessment.append(f"Session not started: absolute contraindication ({found}).")
    elif report.screen_outcome == "gentle":
        assessment.append(f"Relative contraindication ({found}): session done gently.")
    skipped = [s for s in report.steps if s.status == SKIPPED]
    if skipped:
        assessment.append(f"Skipped: {'; '.join(s.label for s in skipped)}.")
    after_pain = [s for s in report.steps if s.status == LEFT_AFTER_PAIN]
    if after_pain:
        assessment.append(f"Left after pain: {'; '.join(s.label for s in after_pain)}.")
    unfinished = [s for s in report.steps if s.status == LEFT_UNFINISHED]
    if unfinished:
        assessment.append(f"Started but not finished: steps {_numbers(unfinished)}.")
    stopped = [s for s in report.steps if s.status in (STOPPED_HERE, INTERRUPTED_HERE)]
    not_reached = [s for s in report.steps if s.status == NOT_REACHED]
    if stopped:
        how = "stopped" if stopped[0].status == STOPPED_HERE else "interrupted"
        assessment.append(f"Session {how} at {stopped[0].label}.")
    if not_reached:
        assessment.append(f"Not reached: steps {_numbers(not_reached)}.")
    used = duration(report.active_seconds)
    if report.over_budget:
        over = report.active_seconds - report.budget_limit_minutes * 60.0
        assessment.append(f"Over budget by {duration(over)}: {used} against {report.budget}.")
    elif report.under_target:
        assessment.append(f"Shorter than the target: {used} against {report.budget}.")
    else:
        assessment.append(f"Within budget: {used} against {report.budget}.")
    assessment.extend(_pain_sentence(report, event) for event in report.pain)
    if not any((skipped, after_pain, unfinished, stopped, not_reached, report.pain)) and not (
        report.over_budget
    ):
        assessment.append("Session done as planned.")

    plan: list[str] = []
    upcoming = report.next_session
    if upcoming is not None:
        stage = "first sessions" if upcoming.first_sessions else "later sessions"
        plan.append(
            f"Session {upcoming.session_number} ({stage}): {upcoming.budget},"
            f" main technique {upcoming.emphasis}."
        )
        plan.append(f"Up to {upcoming.sessions_per_day} sessions a day.")
        if upcoming.regions_left_out:
            plan.append(
                f"While the exacerbation lasts: leave out {', '.join(upcoming.regions_left_out)}"
                " and work the neighbouring areas."
            )
    else:
        plan.append(f"The protocol {report.session.protocol!r} could not be loaded; plan by hand.")
    return Soap(tuple(subjective), tuple(objective), tuple(assessment), tuple(plan))
