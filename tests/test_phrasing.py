"""Wording from the language pack: counts spoken as words, every message renderable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.catalog import load_protocol
from assistant.datafile import DataFileError
from assistant.intents import Intent
from assistant.phrasing import Phraser, load_phrasebook
from assistant.plan import SessionOptions, build_plan
from assistant.protocol import Repetitions
from assistant.resources import voices_dir
from assistant.session import Command, Phase, Say, Session, Start, TimerFired

PHRASER = Phraser(load_phrasebook())


@pytest.mark.parametrize(
    ("reps", "per_side", "spoken"),
    [
        ((6, 7), True, "six to seven times on each side"),
        ((3, 4), False, "three to four times"),
        ((5, 5), False, "five times"),
        ((1, 1), False, "once"),
        ((21, 25), False, "twenty-one to twenty-five times"),
    ],
)
def test_counts_are_spoken_naturally(reps: tuple[int, int], per_side: bool, spoken: str) -> None:
    assert PHRASER.repetitions(Repetitions(min=reps[0], max=reps[1]), per_side) == spoken


@pytest.mark.parametrize("name", ["cervical", "lumbosacral"])
@pytest.mark.parametrize("options", [SessionOptions(), SessionOptions(8, True, True)])
def test_every_message_of_a_whole_session_is_worded_without_digits(
    name: str, options: SessionOptions
) -> None:
    session = Session(build_plan(load_protocol(name)[0], options))
    actions = session.handle(Start(0.0))
    at = 1.0
    # The contraindication screen, with every kind of reply, a relative contraindication last.
    screen = [Intent.STATUS, Intent.HELP, Intent.NEXT, Intent.BACK, Intent.NO, Intent.BACK]
    screen += [Intent.REPEAT, Intent.PAIN, *[Intent.NO] * (len(session.screen_questions) - 1)]
    relative_last = not session.screen_questions[-1].absolute
    for intent in [*screen, Intent.YES if relative_last else Intent.NO]:
        actions += session.handle(Command(intent, at))
    for intent in [
        Intent.YES,
        Intent.STATUS,
        Intent.HELP,
        Intent.LOUDER,
        Intent.QUIETER,
        Intent.SLOWER,
        Intent.FASTER,
        Intent.PAUSE,
        Intent.NEXT,
        Intent.HELP,
        Intent.RESUME,
        Intent.BACK,
        Intent.PAIN,
        Intent.HELP,
        Intent.SKIP,
        Intent.REPEAT,
        Intent.RESUME,
    ]:
        actions += session.handle(Command(intent, at))
        at += 1
    actions += session.handle(TimerFired("budget_warning", 2000.0))
    actions += session.handle(TimerFired("budget_limit", 2000.0))
    while session.phase is not Phase.FINISHED:
        actions += session.handle(Command(Intent.NEXT, at))
        at += 1
    actions += session.handle(Command(Intent.STATUS, at)) + session.handle(Command(Intent.PAIN, at))
    blocked = Session(build_plan(load_protocol(name)[0], options))
    actions += blocked.handle(Start(0.0)) + blocked.handle(Command(Intent.YES, 1.0))
    actions += blocked.handle(Command(Intent.NEXT, 2.0)) + blocked.handle(Command(Intent.YES, 3.0))
    said = {a.message.key for a in actions if isinstance(a, Say)}
    assert {"screen_blocking", "screen_blocked", "no_question", "screen_pain"} <= said
    assert ("screen_relative" in said) is relative_last
    texts = [PHRASER.render(a.message) for a in actions if isinstance(a, Say)]
    assert len(texts) > 30
    for text in texts:
        assert text and not re.search(r"\d", text), text
        assert "{" not in text and "  " not in text and ".." not in text, text
        assert text[0].isupper(), text


def test_a_phrase_book_missing_a_phrase_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (voices_dir() / "en" / "phrases.yaml").read_text()
    broken = tmp_path / "phrases.yaml"
    broken.write_text(
        text.replace('  at_first_step: "This is the first step; there is nothing before it."\n', "")
    )
    with pytest.raises(DataFileError, match="phrases missing: at_first_step"):
        load_phrasebook(path=broken)


def test_the_assistant_never_says_false_alarm_while_it_listens_for_it() -> None:
    """Its own voice must not withdraw a real pain: while a pain event is in hand nothing it says
    holds the phrase. The help of the massage names it, when it is not listened for."""
    from assistant.intents import Listening
    from assistant.session import ListenFor, SessionSettings
    from assistant.vocabulary import load_vocabulary, normalize

    phraser = Phraser(load_phrasebook())
    false_alarm = load_vocabulary().false_alarm_table()
    session = Session(
        build_plan(load_protocol("cervical")[0], SessionOptions()), SessionSettings(screen=False)
    )
    listening = Listening.COMMANDS
    said_while_listening: list[str] = []
    said_otherwise: list[str] = []
    script = [Intent.NEXT, Intent.HELP, Intent.PAIN, Intent.HELP, Intent.SKIP, Intent.PAIN]
    script += [Intent.FALSE_ALARM, Intent.HELP, Intent.PAIN_LEVEL, Intent.FALSE_ALARM]
    script += [Intent.RESUME, *[Intent.NEXT] * 20, Intent.PAIN, Intent.HELP, Intent.FALSE_ALARM]
    events = [Start(0.0), *(Command(i, float(at), value=3) for at, i in enumerate(script, 1))]
    for event in events:
        for action in session.handle(event):
            if isinstance(action, ListenFor):
                listening = action.listening
            if isinstance(action, Say):
                text = normalize(phraser.render(action.message))
                heard = listening is Listening.PAIN_LEVEL
                (said_while_listening if heard else said_otherwise).append(text)
    assert len(said_while_listening) >= 8
    for text in said_while_listening:
        assert not any(phrase in text for phrase in false_alarm), text
    assert any("false alarm" in text for text in said_otherwise)
