"""The live session screen: drawn on a terminal, left out for pipes and with --plain."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from rich.console import Console

from assistant.catalog import load_protocol
from assistant.intents import Intent
from assistant.phrasing import Phraser, load_phrasebook
from assistant.plan import SessionOptions, build_plan
from assistant.screen import ScreenState, fill_state, level_fraction, render_screen
from assistant.session import Command, Session, Start
from tests.recorded import CLI, ROOT

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[a-zA-Z]")


def _on_a_terminal(args: list[str], typed: list[str]) -> str:
    """Run the command line on a pseudo-terminal, typing each line a moment apart."""
    main, attached = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "LINES": "40", "TERM": "xterm"}
    process = subprocess.Popen(
        [*CLI, *args], stdin=attached, stdout=attached, stderr=attached, cwd=ROOT, env=env
    )
    os.close(attached)
    out = b""

    def read(seconds: float) -> None:
        nonlocal out
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if select.select([main], [], [], 0.1)[0]:
                try:
                    out += os.read(main, 65536)
                except OSError:
                    return

    read(3.0)
    for line in typed:
        os.write(main, line.encode() + b"\n")
        read(1.5)
    process.wait(timeout=20)
    read(0.5)
    os.close(main)
    return _ANSI.sub(b"", out).decode(errors="replace")


def test_a_session_on_a_terminal_shows_the_live_screen(tmp_path: Path) -> None:
    args = ["run", "cervical", "--no-listen", "--no-voice", "--skip-screen"]
    shown = _on_a_terminal([*args, "--db", str(tmp_path / "s.db")], ["next", "stop session"])
    assert "step 2/18" in shown
    assert "from the lower edge of the shoulder blades to the neck" in shown  # step 1's direction
    assert re.search(r"│\s+Squeezing, upper back, three to four times\.\s+│", shown)
    assert "Stage 1: Upper back" in shown
    assert re.search(r"heard\s+next \(typed\)", shown)
    assert re.search(r"engine\s+keyboard only", shown)
    assert re.search(r"0:0\d of 7:00", shown)  # time used against the budget
    assert "finished" in shown


def test_plain_and_piped_output_have_no_screen(tmp_path: Path) -> None:
    args = ["run", "cervical", "--no-listen", "--no-voice", "--skip-screen", "--plain"]
    plain = _on_a_terminal([*args, "--db", str(tmp_path / "p.db")], ["next", "stop session"])
    assert "Squeezing, upper back, three to four times." in plain
    assert "step 2/18" not in plain
    piped = subprocess.run(
        [*CLI, *args[:-1], "--db", str(tmp_path / "q.db")],
        input="next\nstop session\n",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert "Squeezing, upper back, three to four times." in piped.stdout
    assert "step 2/18" not in piped.stdout


def _drawn(state: ScreenState) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(render_screen(state))
    return console.export_text()


def test_the_screen_follows_the_session_through_the_questions_and_pain() -> None:
    phraser = Phraser(load_phrasebook())
    session = Session(build_plan(load_protocol("cervical")[0], SessionOptions()))
    state = ScreenState("Cervical", "pocketsphinx listening")
    session.handle(Start(0.0))
    fill_state(state, session, phraser, 1.0)
    drawn = _drawn(state)
    assert "contraindications" in drawn and "question 1 of 6" in drawn
    assert "Does the patient have a fever?" in drawn
    for _ in session.screen_questions:
        session.handle(Command(Intent.NO, 2.0))
    session.handle(Command(Intent.PAIN, 62.0))
    fill_state(state, session, phraser, 92.0)
    state.mic_level = level_fraction(-40.0)
    drawn = _drawn(state)
    assert "PATIENT IN PAIN" in drawn
    assert "step 1/18" in drawn and "1:30 of 7:00" in drawn and "gentle" in drawn
    assert "██████████" in drawn and "no microphone" not in drawn  # half-way on the meter


def test_over_the_budget_is_marked_only_where_the_budget_is_a_ceiling() -> None:
    state = ScreenState("Cervical", "pocketsphinx listening", used_seconds=500, budget_seconds=420)
    console = Console(width=100, record=True, force_terminal=True, color_system="truecolor")
    console.print(render_screen(state))
    drawn = console.export_text(styles=True)
    red = "\x1b[1;31m"
    assert f"{red}    8:20 of 7:00" in drawn
    state.budget_open_ended = True  # "15 minutes or more"
    console = Console(width=100, record=True, force_terminal=True, color_system="truecolor")
    console.print(render_screen(state))
    drawn = console.export_text(styles=True)
    assert "8:20 of 7:00" in drawn and red not in drawn
