"""The pure session state machine: every command in every phase, pain from everywhere, time."""

from __future__ import annotations

import functools

import pytest

from assistant.catalog import load_protocol
from assistant.intents import Intent, Listening
from assistant.plan import SessionOptions, build_plan
from assistant.protocol import Protocol, Repetitions, Technique
from assistant.session import (
    BUDGET_LIMIT,
    BUDGET_WARNING,
    CLOSING,
    COUNT,
    AnnouncementDone,
    CancelTimer,
    ChangeVoice,
    Command,
    EndSession,
    ListenFor,
    NoteKept,
    Phase,
    Record,
    ResumePoint,
    Say,
    Session,
    SessionSettings,
    Start,
    StartTimer,
    StopSpeaking,
    TakeNote,
    TimerFired,
)
from assistant.vocabulary import load_vocabulary


@functools.cache
def protocol_named(name: str) -> Protocol:
    return load_protocol(name)[0]


# The massage flow is tested without the contraindication screen; tests/test_screen.py has it.
NO_SCREEN = SessionSettings(screen=False)


def make_session(name: str = "cervical", **options: object) -> Session:
    plan = build_plan(protocol_named(name), SessionOptions(**options))  # type: ignore[arg-type]
    return Session(plan, NO_SCREEN)


def said(actions: list) -> list[str]:
    return [a.message.key for a in actions if isinstance(a, Say)]


def records(actions: list) -> list[str]:
    return [a.kind for a in actions if isinstance(a, Record)]


def in_phase(phase: Phase, at: float = 10.0) -> Session:
    if phase is Phase.SCREENING:
        session = Session(build_plan(protocol_named("cervical"), SessionOptions()))
        session.handle(Start(0.0))
        session.handle(Command(Intent.NO, 1.0))  # the first question answered, the second asked
        assert session.phase is phase
        return session
    session = make_session()
    if phase is Phase.READY:
        return session
    session.handle(Start(0.0))
    session.handle(Command(Intent.NEXT, 1.0))
    if phase is Phase.PAUSED:
        session.handle(Command(Intent.PAUSE, 2.0))
    elif phase is Phase.PAIN_HOLD:
        session.handle(Command(Intent.PAIN, 2.0))
    elif phase is Phase.FINISHED:
        session.handle(Command(Intent.STOP, 2.0))
    assert session.phase is phase
    return session


def test_start_introduces_the_session_and_announces_the_first_step() -> None:
    session = make_session()
    actions = session.handle(Start(0.0))
    assert said(actions) == ["session_intro", "position", "stage", "step"]
    assert records(actions) == ["session_started", "step_started"]
    assert session.phase is Phase.RUNNING
    assert session.current_step.technique is Technique.STROKING
    assert {a.name for a in actions if isinstance(a, StartTimer)} == {BUDGET_WARNING, BUDGET_LIMIT}


def test_a_second_start_does_nothing() -> None:
    session = in_phase(Phase.RUNNING)
    assert session.handle(Start(5.0)) == []


# --- every command in every phase -------------------------------------------------------------

EXPECTED: dict[Phase, dict[Intent, tuple[Phase, str]]] = {
    Phase.READY: {
        Intent.NEXT: (Phase.READY, "not_started"),
        Intent.REPEAT: (Phase.READY, "not_started"),
        Intent.BACK: (Phase.READY, "not_started"),
        Intent.SKIP: (Phase.READY, "not_started"),
        Intent.PAUSE: (Phase.READY, "not_started"),
        Intent.RESUME: (Phase.READY, "not_started"),
        Intent.STOP: (Phase.READY, "not_started"),
    },
    Phase.RUNNING: {
        Intent.NEXT: (Phase.RUNNING, "step"),
        Intent.REPEAT: (Phase.RUNNING, "step"),
        Intent.BACK: (Phase.RUNNING, "step"),
        Intent.SKIP: (Phase.RUNNING, "step"),
        Intent.PAUSE: (Phase.PAUSED, "paused"),
        Intent.RESUME: (Phase.RUNNING, "not_paused"),
        Intent.STOP: (Phase.FINISHED, "session_stopped"),
    },
    Phase.PAUSED: {
        Intent.NEXT: (Phase.PAUSED, "still_paused"),
        Intent.REPEAT: (Phase.PAUSED, "still_paused"),
        Intent.BACK: (Phase.PAUSED, "still_paused"),
        Intent.SKIP: (Phase.PAUSED, "still_paused"),
        Intent.PAUSE: (Phase.PAUSED, "still_paused"),
        Intent.RESUME: (Phase.RUNNING, "step"),
        Intent.STOP: (Phase.FINISHED, "session_stopped"),
    },
    Phase.PAIN_HOLD: {
        Intent.NEXT: (Phase.RUNNING, "step"),
        Intent.REPEAT: (Phase.PAIN_HOLD, "pain"),
        Intent.BACK: (Phase.PAIN_HOLD, "holding_for_pain"),
        Intent.SKIP: (Phase.PAIN_HOLD, "holding_for_pain"),
        Intent.PAUSE: (Phase.PAIN_HOLD, "holding_for_pain"),
        Intent.RESUME: (Phase.RUNNING, "step"),
        Intent.STOP: (Phase.FINISHED, "session_stopped"),
    },
    Phase.FINISHED: {
        Intent.NEXT: (Phase.FINISHED, "session_over"),
        Intent.REPEAT: (Phase.FINISHED, "session_over"),
        Intent.BACK: (Phase.FINISHED, "session_over"),
        Intent.SKIP: (Phase.FINISHED, "session_over"),
        Intent.PAUSE: (Phase.FINISHED, "session_over"),
        Intent.RESUME: (Phase.FINISHED, "session_over"),
        Intent.STOP: (Phase.FINISHED, "session_over"),
    },
}

CASES = [
    (phase, intent, *outcome)
    for phase, table in EXPECTED.items()
    for intent, outcome in table.items()
]


@pytest.mark.parametrize(("phase", "intent", "next_phase", "last_said"), CASES)
def test_navigation_commands_in_every_phase(
    phase: Phase, intent: Intent, next_phase: Phase, last_said: str
) -> None:
    session = in_phase(phase)
    actions = session.handle(Command(intent, 20.0))
    assert session.phase is next_phase
    assert said(actions)[-1] == last_said


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("intent", [Intent.STATUS, Intent.HELP])
def test_status_and_help_answer_in_every_phase_without_changing_it(
    phase: Phase, intent: Intent
) -> None:
    session = in_phase(phase)
    step_before = session.step_index
    actions = session.handle(Command(intent, 20.0))
    screening_status = intent is Intent.STATUS and phase is Phase.SCREENING
    assert said(actions) == ["screen_status" if screening_status else intent.value]
    assert session.phase is phase
    assert session.step_index == step_before


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("intent", [Intent.LOUDER, Intent.QUIETER, Intent.SLOWER, Intent.FASTER])
def test_voice_settings_work_in_every_phase(phase: Phase, intent: Intent) -> None:
    session = in_phase(phase)
    actions = session.handle(Command(intent, 20.0))
    assert ChangeVoice(intent) in actions
    assert said(actions) == ["voice_changed"]
    assert session.phase is phase


# --- pain -------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", list(Phase))
def test_pain_is_accepted_in_every_phase(phase: Phase) -> None:
    session = in_phase(phase)
    actions = session.handle(Command(Intent.PAIN, 20.0))
    # Speech stops before anything else happens, and the event is recorded.
    assert isinstance(actions[0], StopSpeaking)
    assert "pain" in records(actions)
    assert session.gentle
    if phase is Phase.SCREENING:
        # No technique has started: it is noted, and the questions go on.
        assert said(actions) == ["screen_pain", "screen_question"]
        assert session.phase is Phase.SCREENING
        return
    assert said(actions) == ["pain"]
    expected = Phase.FINISHED if phase is Phase.FINISHED else Phase.PAIN_HOLD
    assert session.phase is expected


def test_pain_records_the_step_it_interrupted() -> None:
    session = in_phase(Phase.RUNNING)
    actions = session.handle(Command(Intent.PAIN, 20.0))
    pain = next(a for a in actions if isinstance(a, Record) and a.kind == "pain")
    assert pain.data["interrupted_step"] == 1
    assert pain.data["phase"] == "running"


def test_after_pain_the_session_waits_for_resume_or_next() -> None:
    session = in_phase(Phase.PAIN_HOLD)
    for intent in (Intent.BACK, Intent.SKIP, Intent.PAUSE):
        session.handle(Command(intent, 21.0))
        assert session.phase is Phase.PAIN_HOLD
        assert session.step_index == 1
    session.handle(Command(Intent.RESUME, 22.0))
    assert session.phase is Phase.RUNNING
    assert session.step_index == 1


def test_the_rest_of_the_session_is_gentler_after_pain() -> None:
    session = in_phase(Phase.RUNNING)  # at step 2: squeezing, 3-4 times
    assert session.current_step.repetitions is not None
    assert (session.current_step.repetitions.min, session.current_step.repetitions.max) == (3, 4)
    session.handle(Command(Intent.PAIN, 20.0))
    session.handle(Command(Intent.NEXT, 21.0))
    step = session.current_step  # ordinary kneading becomes stroking, at the minimum count
    assert step.technique is Technique.STROKING
    assert step.softened_from is Technique.KNEADING
    assert step.repetitions is not None
    assert (step.repetitions.min, step.repetitions.max) == (3, 3)


def test_pain_before_the_start_makes_the_whole_session_gentle() -> None:
    session = in_phase(Phase.READY)
    session.handle(Command(Intent.PAIN, 0.5))
    assert session.phase is Phase.PAIN_HOLD
    session.handle(Command(Intent.NEXT, 1.0))
    assert session.phase is Phase.RUNNING
    assert session.gentle


def test_pain_cancels_counting_aloud() -> None:
    protocol = protocol_named("cervical")
    session = Session(
        build_plan(protocol, SessionOptions()), SessionSettings(count_aloud=True, screen=False)
    )
    session.handle(Start(0.0))
    assert StartTimer(COUNT, 2.0) in session.handle(AnnouncementDone(0.5))
    actions = session.handle(Command(Intent.PAIN, 1.0))
    assert CancelTimer(COUNT) in actions
    assert session.handle(TimerFired(COUNT, 2.5)) == []


# --- moving through the plan ------------------------------------------------------------------


def test_back_at_the_first_step_stays_there() -> None:
    session = make_session()
    session.handle(Start(0.0))
    actions = session.handle(Command(Intent.BACK, 1.0))
    assert session.step_index == 0
    assert said(actions) == ["at_first_step"]


def test_next_at_the_last_step_completes_the_session() -> None:
    session = make_session()
    session.handle(Start(0.0))
    total = len(session.plan.steps)
    for i in range(total - 1):
        session.handle(Command(Intent.NEXT, 1.0 + i))
    assert session.step_index == total - 1
    actions = session.handle(Command(Intent.NEXT, 100.0))
    assert session.phase is Phase.FINISHED and session.outcome == "completed"
    assert records(actions)[-2:] == ["step_completed", "session_ended"]
    # Recorded as complete at once; then a pain score is asked for, and waited for a moment.
    assert said(actions) == ["session_complete", "pain_level_question"]
    assert ListenFor(Listening.PAIN_LEVEL) in actions
    assert StartTimer(CLOSING, 20.0) in actions
    assert not any(isinstance(a, EndSession) for a in actions)
    assert session.handle(TimerFired(CLOSING, 120.0)) == [
        CancelTimer(CLOSING),
        EndSession("completed"),
    ]


def finished_session() -> Session:
    session = make_session()
    session.handle(Start(0.0))
    while session.phase is not Phase.FINISHED:
        session.handle(Command(Intent.NEXT, 1.0))
    return session


def test_a_pain_score_at_the_end_is_recorded_and_ends_the_session() -> None:
    session = finished_session()
    assert said(session.handle(Command(Intent.NEXT, 2.0))) == ["session_over"]
    actions = session.handle(Command(Intent.PAIN_LEVEL, 3.0, "pain level two", value=2))
    level = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_level")
    assert level.data["level"] == 2 and level.data["after_pain"] is False
    assert said(actions) == ["pain_level_noted"]
    assert actions[-1] == EndSession("completed")


def test_a_score_after_pain_in_the_closing_wait_belongs_to_that_pain() -> None:
    session = finished_session()
    actions = session.handle(Command(Intent.PAIN, 3.0))
    assert "pain" in records(actions)
    # The wait for a score starts again once the pain has been dealt with.
    assert StartTimer(CLOSING, 20.0) in actions
    actions = session.handle(Command(Intent.PAIN_LEVEL, 6.0, "pain level seven", value=7))
    level = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_level")
    assert level.data["level"] == 7 and level.data["after_pain"] is True
    assert actions[-1] == EndSession("completed")


def test_the_wait_that_pain_started_again_is_not_ended_by_the_one_before_it() -> None:
    """The first wait's timer may go off just as pain is heard, its event already queued."""
    session = finished_session()  # the wait for a score began at 1.0 and ends at 21.0
    session.handle(Command(Intent.PAIN, 20.9))
    assert session.handle(TimerFired(CLOSING, 21.0)) == []
    assert session.handle(TimerFired(CLOSING, 40.9)) == [
        CancelTimer(CLOSING),
        EndSession("completed"),
    ]


def test_stop_session_at_the_end_ends_it_without_a_score() -> None:
    session = finished_session()
    actions = session.handle(Command(Intent.STOP, 3.0))
    assert actions == [CancelTimer(CLOSING), EndSession("completed")]
    assert not records(actions)


def test_a_pain_score_after_a_pain_event_belongs_to_it_and_is_listened_for_then() -> None:
    session = in_phase(Phase.RUNNING)
    actions = session.handle(Command(Intent.PAIN, 20.0))
    assert ListenFor(Listening.PAIN_LEVEL) in actions
    actions = session.handle(Command(Intent.PAIN_LEVEL, 25.0, "pain level six", value=6))
    level = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_level")
    assert level.data["level"] == 6 and level.data["after_pain"] is True
    assert session.phase is Phase.PAIN_HOLD
    actions = session.handle(Command(Intent.RESUME, 30.0))
    assert ListenFor(Listening.COMMANDS) in actions
    # During the massage it is only typed; it is recorded as a score of its own.
    actions = session.handle(Command(Intent.PAIN_LEVEL, 40.0, "pain level 3", value=3))
    level = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_level")
    assert level.data["after_pain"] is False


def test_a_pain_level_without_a_number_asks_for_one() -> None:
    session = in_phase(Phase.RUNNING)
    actions = session.handle(Command(Intent.PAIN_LEVEL, 20.0, "pain level"))
    assert said(actions) == ["pain_level_how"] and not records(actions)


# --- a false alarm ------------------------------------------------------------------------------


def test_a_false_alarm_takes_the_session_back_to_the_step_as_it_was() -> None:
    session = in_phase(Phase.RUNNING)  # at step 2: squeezing, 3-4 times; 3 once gentle
    session.handle(Command(Intent.PAIN, 20.0))
    assert session.current_step.repetitions == Repetitions(min=3, max=3)
    actions = session.handle(Command(Intent.FALSE_ALARM, 22.0, "false alarm"))
    assert isinstance(actions[0], StopSpeaking)  # the instructions for the pain are cut
    assert records(actions) == ["command", "pain_withdrawn"]
    withdrawn = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_withdrawn")
    assert withdrawn.data["holding"] is False and withdrawn.data["gentle"] is False
    assert ListenFor(Listening.COMMANDS) in actions
    assert said(actions)[0] == "pain_withdrawn" and said(actions)[-1] == "step"
    assert session.phase is Phase.RUNNING and session.step_index == 1
    assert not session.gentle
    assert session.current_step.repetitions == Repetitions(min=3, max=4)
    # Nothing is left in hand: there is nothing more to withdraw, and the ordinary kneading of
    # the next step is not softened into stroking.
    assert said(session.handle(Command(Intent.FALSE_ALARM, 23.0))) == ["no_false_alarm"]
    session.handle(Command(Intent.NEXT, 24.0))
    step = session.current_step
    assert step.technique is Technique.KNEADING and step.softened_from is None


def test_a_false_alarm_while_paused_stops_the_clock_the_pain_started() -> None:
    session = in_phase(Phase.PAUSED)  # paused at 2.0 after 2 s of massage
    actions = session.handle(Command(Intent.PAIN, 20.0))
    assert {a.name for a in actions if isinstance(a, StartTimer)} == {BUDGET_WARNING, BUDGET_LIMIT}
    actions = session.handle(Command(Intent.FALSE_ALARM, 30.0))
    assert CancelTimer(BUDGET_WARNING) in actions and CancelTimer(BUDGET_LIMIT) in actions
    assert session.phase is Phase.PAUSED and not session.gentle
    assert session.active_seconds(100.0) == pytest.approx(2.0)
    assert said(actions) == ["pain_withdrawn"]
    assert "step" in said(session.handle(Command(Intent.RESUME, 101.0)))


def test_a_false_alarm_withdraws_only_the_latest_pain() -> None:
    session = in_phase(Phase.RUNNING)
    session.handle(Command(Intent.PAIN, 20.0))
    session.handle(Command(Intent.PAIN, 21.0))
    actions = session.handle(Command(Intent.FALSE_ALARM, 22.0))
    withdrawn = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_withdrawn")
    assert withdrawn.data["holding"] is True and withdrawn.data["gentle"] is True
    assert session.phase is Phase.PAIN_HOLD and session.gentle
    assert ListenFor(Listening.COMMANDS) not in actions  # a score for the first may still come
    session.handle(Command(Intent.FALSE_ALARM, 23.0))
    assert session.phase is Phase.RUNNING and not session.gentle


@pytest.mark.parametrize(
    "carried_on",
    [
        Command(Intent.RESUME, 22.0),
        Command(Intent.NEXT, 22.0),
        Command(Intent.PAIN_LEVEL, 22.0, "pain level four", value=4),
    ],
)
def test_a_pain_that_was_carried_on_from_or_scored_cannot_be_withdrawn(carried_on) -> None:
    session = in_phase(Phase.RUNNING)
    session.handle(Command(Intent.PAIN, 20.0))
    session.handle(carried_on)
    actions = session.handle(Command(Intent.FALSE_ALARM, 23.0))
    assert said(actions) == ["no_false_alarm"] and not records(actions)
    assert session.gentle


def test_a_false_alarm_in_the_closing_wait_leaves_the_score_on_its_own() -> None:
    session = finished_session()
    session.handle(Command(Intent.PAIN, 3.0))
    actions = session.handle(Command(Intent.FALSE_ALARM, 4.0))
    assert records(actions) == ["command", "pain_withdrawn"]
    assert said(actions) == ["pain_withdrawn"] and session.phase is Phase.FINISHED
    actions = session.handle(Command(Intent.PAIN_LEVEL, 6.0, "pain level one", value=1))
    level = next(a for a in actions if isinstance(a, Record) and a.kind == "pain_level")
    assert level.data["after_pain"] is False


def test_the_store_rebuilds_a_session_whose_pain_was_withdrawn(tmp_path) -> None:
    from assistant.store import SessionStore

    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = _recorded_pain(store)
        point = store.resume_point(session_id)
        assert point.holding_for_pain and point.gentle
        withdrawn = {"step": 2, "active_seconds": 31.0, "holding": False, "gentle": False}
        store.record(session_id, "pain_withdrawn", withdrawn, "t")
        point = store.resume_point(session_id)
        assert not point.holding_for_pain and not point.gentle
        session = store.session(session_id)
        assert session is not None and store.summary(session).pain_events == 0


@pytest.mark.parametrize("intent", [Intent.NEXT, Intent.BACK, Intent.SKIP, Intent.REPEAT])
def test_moving_on_cuts_what_is_being_said_about_the_old_step(intent: Intent) -> None:
    session = in_phase(Phase.RUNNING)
    actions = session.handle(Command(intent, 20.0))
    assert isinstance(actions[0], StopSpeaking)
    assert said(actions)[-1] == "step"


def test_skip_is_recorded_as_skipped_not_completed() -> None:
    session = in_phase(Phase.RUNNING)
    actions = session.handle(Command(Intent.SKIP, 20.0))
    assert "step_skipped" in records(actions)
    assert "step_completed" not in records(actions)
    assert session.step_index == 2


def test_stage_is_introduced_on_entering_it_but_not_on_repeat() -> None:
    session = make_session()
    session.handle(Start(0.0))
    assert said(session.handle(Command(Intent.REPEAT, 1.0))) == ["step"]
    for i in range(4):
        session.handle(Command(Intent.NEXT, 2.0 + i))
    entering_neck = session.handle(Command(Intent.NEXT, 10.0))
    assert said(entering_neck) == ["stage", "step"]
    assert session.current_step.stage_name == "Neck"
    going_back = session.handle(Command(Intent.BACK, 11.0))
    assert said(going_back) == ["stage", "step"]


def test_stop_ends_the_session_from_running() -> None:
    session = in_phase(Phase.RUNNING)
    actions = session.handle(Command(Intent.STOP, 30.0))
    assert isinstance(actions[0], StopSpeaking)
    assert EndSession("stopped") in actions
    assert "session_ended" in records(actions)


# --- time budget ------------------------------------------------------------------------------


def test_first_sessions_warn_before_seven_minutes_and_at_seven() -> None:
    session = make_session(session_number=1)
    actions = session.handle(Start(0.0))
    timers = {a.name: a.delay_seconds for a in actions if isinstance(a, StartTimer)}
    assert timers == {BUDGET_WARNING: 360.0, BUDGET_LIMIT: 420.0}
    warning = session.handle(TimerFired(BUDGET_WARNING, 360.0))
    assert said(warning) == [BUDGET_WARNING]
    limit = session.handle(TimerFired(BUDGET_LIMIT, 420.0))
    assert said(limit) == [BUDGET_LIMIT]
    assert records(limit) == [BUDGET_LIMIT]
    assert session.handle(TimerFired(BUDGET_LIMIT, 421.0)) == []


def test_later_sessions_get_fifteen_minutes_and_rubbing_emphasis() -> None:
    session = make_session(session_number=4)
    actions = session.handle(Start(0.0))
    timers = {a.name: a.delay_seconds for a in actions if isinstance(a, StartTimer)}
    assert timers[BUDGET_LIMIT] == 900.0
    assert session.plan.emphasis is Technique.GRINDING
    assert session.plan.budget.open_ended


def test_paused_time_does_not_count_against_the_budget() -> None:
    session = make_session()
    session.handle(Start(0.0))
    pause = session.handle(Command(Intent.PAUSE, 100.0))
    assert CancelTimer(BUDGET_WARNING) in pause and CancelTimer(BUDGET_LIMIT) in pause
    resume = session.handle(Command(Intent.RESUME, 400.0))
    timers = {a.name: a.delay_seconds for a in resume if isinstance(a, StartTimer)}
    assert timers == {BUDGET_WARNING: 260.0, BUDGET_LIMIT: 320.0}
    assert session.active_seconds(500.0) == pytest.approx(200.0)


def test_a_timer_that_fires_early_is_set_again() -> None:
    session = make_session()
    session.handle(Start(0.0))
    session.handle(Command(Intent.PAUSE, 100.0))
    session.handle(Command(Intent.RESUME, 200.0))
    actions = session.handle(TimerFired(BUDGET_WARNING, 360.0))  # only 260 s of massage so far
    assert said(actions) == []
    assert actions == [StartTimer(BUDGET_WARNING, pytest.approx(100.0))]


def test_exacerbation_leaves_the_affected_areas_out() -> None:
    plain = make_session()
    flare = make_session(exacerbation=True)
    assert {r for s in flare.plan.steps for r in s.regions}.isdisjoint({"neck", "spinal column"})
    assert len(flare.plan.steps) < len(plain.plan.steps)
    assert "exacerbation" in said(flare.handle(Start(0.0)))
    assert flare.gentle and not plain.gentle
    assert flare.current_step.repetitions is None or (
        flare.current_step.repetitions.min == flare.current_step.repetitions.max
    )


# --- resuming ---------------------------------------------------------------------------------


def test_resume_point_restores_step_gentleness_time_and_warnings() -> None:
    session = make_session()
    point = ResumePoint(
        step_index=5, gentle=True, active_seconds=370.0, warnings_given=frozenset({BUDGET_WARNING})
    )
    actions = session.handle(Start(1000.0, point))
    assert session.step_index == 5 and session.gentle
    assert said(actions)[0] == "session_resumed"
    assert records(actions)[0] == "session_resumed"
    timers = {a.name: a.delay_seconds for a in actions if isinstance(a, StartTimer)}
    assert timers == {BUDGET_LIMIT: pytest.approx(50.0)}


def test_a_session_interrupted_during_pain_resumes_still_holding() -> None:
    session = make_session()
    point = ResumePoint(step_index=3, gentle=True, active_seconds=60.0, holding_for_pain=True)
    actions = session.handle(Start(100.0, point))
    assert session.phase is Phase.PAIN_HOLD
    assert said(actions) == ["session_resumed", "pain"]
    assert "step_started" not in records(actions)
    assert said(session.handle(Command(Intent.SKIP, 101.0))) == ["holding_for_pain"]
    assert "step" in said(session.handle(Command(Intent.RESUME, 102.0)))
    assert session.phase is Phase.RUNNING and session.step_index == 3


def _recorded_pain(store) -> int:
    """A session recorded up to pain during step 3, as the runner records it."""
    session_id = store.begin(
        protocol="cervical", protocol_path=None, session_number=1, patient=None,
        exacerbation=False, gentle=False, steps_total=18, budget_minutes=7,
        started_at="2026-11-28T10:00:00+00:00",
    )  # fmt: skip
    for kind in ("step_started", "pain"):
        store.record(session_id, kind, {"step": 2, "active_seconds": 30.0}, "t")
    return session_id


def test_the_store_rebuilds_a_pain_hold(tmp_path) -> None:
    from assistant.store import SessionStore

    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = _recorded_pain(store)
        assert store.resume_point(session_id).holding_for_pain
        store.record(session_id, "resumed", {"step": 2, "active_seconds": 40.0}, "t")
        assert not store.resume_point(session_id).holding_for_pain


# --- counting aloud ---------------------------------------------------------------------------


def test_counting_aloud_counts_to_the_top_of_the_range_and_stops_on_next() -> None:
    protocol = protocol_named("cervical")
    session = Session(
        build_plan(protocol, SessionOptions()),
        SessionSettings(count_aloud=True, count_interval_seconds=1.5, screen=False),
    )
    session.handle(Start(0.0))
    session.handle(Command(Intent.NEXT, 0.1))  # squeezing 3-4 times
    assert session.handle(AnnouncementDone(1.0)) == [StartTimer(COUNT, 1.5)]
    numbers = []
    for i in range(10):
        actions = session.handle(TimerFired(COUNT, 2.0 + i))
        numbers += [a.message.slots["number"] for a in actions if isinstance(a, Say)]
        if not any(isinstance(a, StartTimer) for a in actions):
            break
    assert numbers == [1, 2, 3, 4]
    session.handle(AnnouncementDone(20.0))
    assert CancelTimer(COUNT) in session.handle(Command(Intent.NEXT, 21.0))


def test_counting_on_each_side_counts_the_range_twice_and_keeps_pace_with_the_voice() -> None:
    session = Session(
        build_plan(protocol_named("cervical"), SessionOptions()),
        SessionSettings(count_aloud=True, count_interval_seconds=2.0, screen=False),
    )
    session.handle(Start(0.0))  # stroking, six to seven times on each side
    session.handle(Command(Intent.SLOWER, 0.5))
    assert session.handle(AnnouncementDone(1.0)) == [StartTimer(COUNT, 2.5)]
    spoken: list[object] = []
    for i in range(20):
        actions = session.handle(TimerFired(COUNT, 2.0 + i))
        spoken += [
            a.message.slots.get("number", a.message.key) for a in actions if isinstance(a, Say)
        ]
        if not any(isinstance(a, StartTimer) for a in actions):
            break
    assert spoken == [1, 2, 3, 4, 5, 6, 7, "count_other_side", 1, 2, 3, 4, 5, 6, 7]
    session.handle(Command(Intent.FASTER, 30.0))
    session.handle(Command(Intent.FASTER, 30.5))
    session.handle(Command(Intent.NEXT, 31.0))
    assert session.handle(AnnouncementDone(32.0)) == [StartTimer(COUNT, pytest.approx(1.6))]


# --- voice notes --------------------------------------------------------------------------------


def test_a_voice_note_is_recorded_for_the_step_it_was_asked_on() -> None:
    session = in_phase(Phase.RUNNING)  # at step 2
    actions = session.handle(Command(Intent.NOTE, 20.0, "take a note"))
    assert said(actions) == ["note_start"]
    assert ListenFor(Listening.NOTE) in actions
    assert TakeNote(10.0, "note-1-step-2") in actions
    assert said(session.handle(Command(Intent.NOTE, 21.0))) == ["note_busy"]
    session.handle(Command(Intent.NEXT, 25.0))  # typed: the session moves on meanwhile
    actions = session.handle(NoteKept("/notes/note-1-step-2.wav", 10.0, 30.0))
    note = next(a for a in actions if isinstance(a, Record) and a.kind == "voice_note")
    assert note.data["step"] == 1 and note.data["path"] == "/notes/note-1-step-2.wav"
    assert ListenFor(Listening.COMMANDS) in actions and said(actions) == ["note_kept"]


def test_a_voice_note_without_a_microphone_says_so() -> None:
    session = in_phase(Phase.PAIN_HOLD)
    session.handle(Command(Intent.NOTE, 20.0))
    actions = session.handle(NoteKept(None, 0.0, 20.1))
    assert said(actions) == ["note_unavailable"] and not records(actions)
    # After pain a score is still listened for.
    assert ListenFor(Listening.PAIN_LEVEL) in actions


def test_while_a_note_records_only_pain_is_listened_for() -> None:
    vocabulary = load_vocabulary()
    assert set(vocabulary.table_for(Listening.NOTE).values()) == {Intent.PAIN}
