"""The contraindication screen before the first step: questions, answers, and what they do."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from assistant.catalog import load_protocol
from assistant.datafile import DataFileError, load_model
from assistant.intents import Intent, Listening
from assistant.plan import SessionOptions, build_plan
from assistant.protocol import Contraindications, Protocol
from assistant.session import (
    Command,
    EndSession,
    ListenFor,
    Phase,
    Record,
    ResumePoint,
    Say,
    Session,
    SessionSettings,
    Start,
    StartTimer,
)
from assistant.store import SessionStore

GENERAL = ["fever", "acute-inflammation-or-infection", "thrombosis", "skin-lesions", "tumour"]


@functools.cache
def cervical() -> Protocol:
    return load_protocol("cervical")[0]


def screening(exacerbation: bool = False, screen: bool = True) -> tuple[Session, list]:
    plan = build_plan(cervical(), SessionOptions(exacerbation=exacerbation))
    session = Session(plan, SessionSettings(screen=screen))
    return session, session.handle(Start(0.0))


def said(actions: list) -> list[str]:
    return [a.message.key for a in actions if isinstance(a, Say)]


def recorded(actions: list, kind: str) -> list[dict]:
    return [dict(a.data) for a in actions if isinstance(a, Record) and a.kind == kind]


def questions(actions: list) -> list[str]:
    return [
        a.message.slots["question"]
        for a in actions
        if isinstance(a, Say) and a.message.key == "screen_question"
    ]


def answer_all(session: Session, answers: dict[str, Intent], at: float = 1.0) -> list:
    """Answer every question in turn (no, unless answers says otherwise); all actions."""
    actions: list = []
    while session.phase is Phase.SCREENING and said(actions)[-1:] != ["screen_blocking"]:
        asked = session.screen_questions[len(session.screen_answers)].contraindication.id
        actions += session.handle(Command(answers.get(asked, Intent.NO), at))
        at += 1.0
    return actions


def test_the_protocol_lists_the_clinics_general_contraindications_then_its_own() -> None:
    listed = cervical().contraindications
    assert [c.id for c in listed.absolute] == GENERAL
    assert [c.id for c in listed.relative] == ["exacerbation"]
    assert listed.relative[0].neighbouring_areas_only


def test_before_the_first_step_every_question_is_asked_with_answers_listened_for() -> None:
    session, actions = screening()
    assert session.phase is Phase.SCREENING
    assert said(actions) == ["screen_intro", "screen_question"]
    assert ListenFor(Listening.ANSWERS) in actions
    # No massage time yet: the budget starts with the first step.
    assert not any(isinstance(a, StartTimer) for a in actions)
    assert recorded(actions, "session_started")[0]["screen"] == "asked"
    asked = questions(actions) + questions(answer_all(session, {}))
    assert asked == [q.contraindication.question for q in session.screen_questions]
    assert len(asked) == 6


def test_all_clear_starts_the_session_as_planned() -> None:
    session, _ = screening()
    actions = answer_all(session, {})
    assert session.phase is Phase.RUNNING
    assert not session.gentle
    assert recorded(actions, "screen_result")[0]["outcome"] == "clear"
    assert [r["answer"] for r in recorded(actions, "screen_answer")] == ["no"] * 6
    assert actions.index(ListenFor(Listening.COMMANDS)) < len(actions)
    assert said(actions)[-5:] == ["screen_clear", "session_intro", "position", "stage", "step"]
    assert any(isinstance(a, StartTimer) for a in actions)


def test_each_answer_is_said_back_as_present_or_absent() -> None:
    session, _ = screening()
    first = session.handle(Command(Intent.NO, 1.0))
    noted = [a.message for a in first if isinstance(a, Say) and a.message.key == "screen_noted"]
    assert noted[0].slots == {"name": "fever", "yes": False}


@pytest.mark.parametrize("contraindication", GENERAL)
def test_an_absolute_contraindication_once_confirmed_blocks_the_session(
    contraindication: str,
) -> None:
    session, _ = screening()
    actions = answer_all(session, {contraindication: Intent.YES})
    # The rest is not asked; the yes waits to be confirmed, or taken back if it was misheard.
    assert said(actions)[-2:] == ["screen_noted", "screen_blocking"]
    assert len(session.screen_answers) == GENERAL.index(contraindication) + 1
    assert session.phase is Phase.SCREENING
    assert said(session.handle(Command(Intent.NEXT, 20.0))) == ["screen_blocking"]
    actions = session.handle(Command(Intent.YES, 21.0))
    assert session.phase is Phase.FINISHED
    assert EndSession("blocked") in actions
    assert ListenFor(Listening.COMMANDS) in actions
    result = recorded(actions, "screen_result")[0]
    assert result == {**result, "outcome": "blocked", "absolute": [contraindication]}
    assert recorded(actions, "session_ended")[0]["outcome"] == "blocked"
    blocked = next(
        a.message for a in actions if isinstance(a, Say) and a.message.key == "screen_blocked"
    )
    name = next(c.name for c in cervical().contraindications.absolute if c.id == contraindication)
    assert blocked.slots["names"] == (name,)
    assert "step" not in said(actions) and "session_intro" not in said(actions)


def test_stop_session_after_an_absolute_yes_ends_it_as_blocked() -> None:
    session, _ = screening()
    session.handle(Command(Intent.YES, 1.0))
    assert EndSession("blocked") in session.handle(Command(Intent.STOP, 2.0))


def test_a_misheard_yes_is_taken_back_with_go_back() -> None:
    session, _ = screening()
    session.handle(Command(Intent.NO, 1.0))
    session.handle(Command(Intent.YES, 2.0))  # acute inflammation or infection: misheard
    actions = session.handle(Command(Intent.BACK, 3.0))
    assert questions(actions) == ["Does the patient have an acute inflammation or infection?"]
    actions = answer_all(session, {}, at=4.0)
    assert session.phase is Phase.RUNNING
    assert recorded(actions, "screen_result")[0]["outcome"] == "clear"


def test_an_exacerbation_leaves_the_affected_areas_out_and_makes_the_session_gentle() -> None:
    session, _ = screening()
    steps_before = len(session.plan.steps)
    actions = answer_all(session, {"exacerbation": Intent.YES})
    assert session.phase is Phase.RUNNING
    assert session.gentle and session.plan.options.exacerbation
    assert session.plan.regions_left_out == ("neck", "spinal column")
    assert all(
        r not in ("neck", "spinal column") for step in session.plan.steps for r in step.regions
    )
    result = recorded(actions, "screen_result")[0]
    assert result["outcome"] == "gentle" and result["relative"] == ["exacerbation"]
    assert result["steps_total"] == len(session.plan.steps) < steps_before
    assert "screen_relative" in said(actions)
    assert said(actions).index("exacerbation") < said(actions).index("step")
    assert "gentle_session" in said(actions)


def test_an_exacerbation_already_on_record_is_not_asked_again() -> None:
    session, _ = screening(exacerbation=True)
    assert [q.contraindication.id for q in session.screen_questions] == GENERAL


def test_go_back_takes_back_the_last_answer_and_asks_again() -> None:
    session, _ = screening()
    session.handle(Command(Intent.NO, 1.0))  # fever: no (misheard)
    actions = session.handle(Command(Intent.BACK, 2.0))
    assert recorded(actions, "screen_answer_withdrawn")[0]["contraindication"] == "fever"
    assert questions(actions) == ["Does the patient have a fever?"]
    answer_all(session, {"fever": Intent.YES})
    assert EndSession("blocked") in session.handle(Command(Intent.YES, 9.0))


def test_go_back_at_the_first_question_says_so() -> None:
    session, _ = screening()
    actions = session.handle(Command(Intent.BACK, 1.0))
    assert said(actions) == ["screen_first_question", "screen_question"]
    assert session.screen_answers == []


@pytest.mark.parametrize("intent", [Intent.NEXT, Intent.SKIP, Intent.PAUSE, Intent.RESUME])
def test_commands_that_move_the_session_wait_for_the_answers(intent: Intent) -> None:
    session, _ = screening()
    actions = session.handle(Command(intent, 1.0))
    assert said(actions) == ["screen_answer_first", "screen_question"]
    assert session.phase is Phase.SCREENING and session.screen_answers == []


def test_repeat_asks_the_question_again_and_stop_ends_the_session() -> None:
    session, _ = screening()
    assert questions(session.handle(Command(Intent.REPEAT, 1.0))) == [
        "Does the patient have a fever?"
    ]
    actions = session.handle(Command(Intent.STOP, 2.0))
    assert EndSession("stopped") in actions and ListenFor(Listening.COMMANDS) in actions
    assert session.phase is Phase.FINISHED


def test_yes_and_no_outside_the_screen_answer_nothing() -> None:
    session, _ = screening(screen=False)
    assert session.phase is Phase.RUNNING
    for intent in (Intent.YES, Intent.NO):
        assert said(session.handle(Command(intent, 1.0))) == ["no_question"]
    assert session.step_index == 0


def test_skip_screen_is_recorded() -> None:
    _, actions = screening(screen=False)
    assert recorded(actions, "session_started")[0]["screen"] == "skipped"
    assert "screen_intro" not in said(actions)


def test_a_session_interrupted_during_the_screen_asks_it_again_on_resume(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    session, actions = screening()
    actions += session.handle(Command(Intent.NO, 1.0))
    session_id = store.begin(
        protocol="cervical", protocol_path=None, session_number=1, patient=None,
        exacerbation=False, gentle=False, steps_total=20, budget_minutes=7, started_at="t",
    )  # fmt: skip
    for action in actions:
        if isinstance(action, Record):
            store.record(session_id, action.kind, action.data, "t")
    point = store.resume_point(session_id)
    assert point.screen_pending and not point.holding_for_pain
    resumed, _ = screening()
    resumed = Session(resumed.plan)
    again = resumed.handle(Start(5.0, point))
    assert resumed.phase is Phase.SCREENING
    assert questions(again) == ["Does the patient have a fever?"]
    # Once answered, a resume goes straight back to the massage.
    for action in answer_all(resumed, {"exacerbation": Intent.YES}, at=6.0):
        if isinstance(action, Record):
            store.record(session_id, action.kind, action.data, "t")
    point = store.resume_point(session_id)
    assert not point.screen_pending and point.gentle
    stored = store.session(session_id)
    assert stored is not None and stored.exacerbation and stored.gentle
    assert stored.steps_total == len(resumed.plan.steps)
    store.close()


def test_resume_without_a_pending_screen_does_not_ask() -> None:
    session, _ = screening()
    session = Session(session.plan)
    actions = session.handle(Start(0.0, ResumePoint(2, False, 30.0)))
    assert session.phase is Phase.RUNNING and "screen_intro" not in said(actions)


def test_a_bad_contraindication_list_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "contraindications.yaml"
    bad.write_text(
        "absolute:\n  - id: fever\n    name: fever\n    question: Fever?\n"
        "    neighbouring_areas_only: true\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as raised:
        load_model(bad, Contraindications)
    assert "neighbouring_areas_only is for relative contraindications: fever" in (
        raised.value.describe()
    )


def test_pain_while_an_absolute_yes_waits_keeps_waiting_for_it() -> None:
    # With the exacerbation on record an absolute question is the last one.
    session, _ = screening(exacerbation=True)
    for _ in range(4):
        session.handle(Command(Intent.NO, 1.0))
    session.handle(Command(Intent.YES, 2.0))  # a tumour: waits to be confirmed
    actions = session.handle(Command(Intent.PAIN, 3.0))
    assert said(actions) == ["screen_pain", "screen_blocking"]
    assert session.phase is Phase.SCREENING
    assert EndSession("blocked") in session.handle(Command(Intent.YES, 4.0))
