"""Session and course reports built from recorded sessions, checked in their files and in Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assistant.catalog import load_protocol
from assistant.intents import Intent
from assistant.patients import patient_name, patient_session_options
from assistant.plan import SessionOptions, build_plan
from assistant.reports import (
    build_course_report,
    build_session_report,
    write_course_report,
    write_session_report,
)
from assistant.reports.course import DURATION_COLOUR
from assistant.reports.markdown import render_session_markdown
from assistant.reports.model import (
    COMPLETED,
    LEFT_AFTER_PAIN,
    NOT_REACHED,
    SKIPPED,
    STOPPED_HERE,
)
from assistant.runner import wall_clock_now
from assistant.session import Command, Record, Session, SessionSettings, Start
from assistant.store import SessionStore
from assistant.vocabulary import load_vocabulary

CLI = [sys.executable, "-m", "assistant"]


@dataclass(frozen=True)
class Extra:
    """A record another part of the assistant adds at this moment (pain level, voice note...)."""

    kind: str
    data: dict[str, Any]


def drive(
    store: SessionStore,
    script: Sequence[tuple[float, str] | tuple[float, str, str] | Extra],
    *,
    protocol: str = "cervical",
    patient: str | None = None,
    session_number: int | None = None,
    exacerbation: bool | None = None,
    screen: bool = False,
) -> int:
    """A real session: the state machine's records go to SQLite as the runner writes them.

    Commands are (seconds, phrase) or (seconds, intent, heard text), at chosen session times.
    """
    loaded, path = load_protocol(protocol)
    number, flare = patient_session_options(store, patient, loaded.id, session_number, exacerbation)
    plan = build_plan(loaded, SessionOptions(number, flare))
    session_id = store.begin(
        protocol=loaded.id,
        protocol_path=str(path.resolve()),
        session_number=number,
        patient=patient_name(store, patient) if patient else None,
        exacerbation=flare,
        gentle=False,
        steps_total=len(plan.steps),
        budget_minutes=plan.budget.limit_minutes,
        started_at=wall_clock_now(),
    )
    session = Session(plan, SessionSettings(screen=screen))
    vocabulary = load_vocabulary()

    def apply(actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, Record):
                store.record(session_id, action.kind, action.data, wall_clock_now())

    last = 0.0
    apply(session.handle(Start(0.0)))
    for item in script:
        if isinstance(item, Extra):
            data = {"step": session.step_index, "active_seconds": session.active_seconds(last)}
            store.record(session_id, item.kind, {**data, **item.data}, wall_clock_now())
            continue
        if len(item) == 2:
            at, heard = item
            # As the runner does: a command phrase, or the command's own name.
            intent = vocabulary.match(heard) or Intent(heard.strip().lower())
        else:
            at, name, heard = item
            intent = Intent(name)
        last = at
        level = vocabulary.pain_level(heard)
        apply(session.handle(Command(intent, at, heard=heard, value=level)))
    return session_id


def pain_session(store: SessionStore, tmp_path: Path, **options: Any) -> int:
    """Session 1 of cervical: a skipped step, pain with a level, a pause, a voice note, over budget."""
    return drive(
        store,
        [
            # The contraindication screen, through the session: thrombosis misheard, taken back.
            *[(0, "no")] * 2,
            (0, "yes"),
            (0, "go back"),
            *[(0, "no")] * 4,
            (40, "next please"),  # step 1 done after 40 s
            (70, "patient in pain"),  # during step 2
            (72, "pain level six"),
            (80, "next"),  # step 2 left while holding for pain
            (95, "skip"),  # step 3 skipped after 15 s
            Extra("voice_note", {"path": str(tmp_path / "notes" / "note 1.wav"), "seconds": 12.5}),
            (100, "pause"),
            (160, "resume"),  # 60 s of pause that do not count
            (190, "next", "next <b>now</b>"),  # step 4 done after 35 s of massage
            (700, "stop session"),  # 640 s of massage: over the 7-minute budget
        ],
        screen=True,
        **options,
    )


def test_session_report_from_a_recorded_session(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = pain_session(store, tmp_path)
        report = build_session_report(store, session_id)

    assert report.title == "Therapeutic massage for osteochondrosis of the cervical spine"
    timing = [(s.status, round(s.seconds, 3)) for s in report.steps[:6]]
    assert timing == [
        (COMPLETED, 40.0),
        (LEFT_AFTER_PAIN, 40.0),
        (SKIPPED, 15.0),
        (COMPLETED, 35.0),
        (STOPPED_HERE, 510.0),
        (NOT_REACHED, 0.0),
    ]
    assert report.steps[0].repetitions == "6\u20137 on each side"
    # Everything after the pain is done gently: kneading becomes stroking at the minimum count.
    assert report.steps[2].technique == "stroking, instead of ordinary kneading"
    assert report.steps[2].repetitions == "3"
    assert report.active_seconds == 640.0 and report.over_budget

    screen = [("no", "no")] * 2 + [("yes", "yes"), ("back", "go back")] + [("no", "no")] * 4
    assert [(c.intent, c.heard) for c in report.commands] == [
        *screen,
        ("next", "next please"),
        ("pain", "patient in pain"),
        ("pain level", "pain level six"),
        ("next", "next"),
        ("skip", "skip"),
        ("pause", "pause"),
        ("resume", "resume"),
        ("next", "next <b>now</b>"),
        ("stop", "stop session"),
    ]
    assert [(p.interrupted_step, p.level) for p in report.pain] == [(1, 6)]
    assert [(n.step, n.seconds) for n in report.voice_notes] == [(3, 12.5)]
    assert [(a.name, a.answer, a.kind) for a in report.screen_answers] == [
        ("fever", "no", "absolute"),
        ("an acute inflammation or infection", "no", "absolute"),
        ("thrombosis", "no", "absolute"),
        ("skin lesions in the area to be massaged", "no", "absolute"),
        ("a tumour", "no", "absolute"),
        ("an exacerbation", "no", "relative"),
    ]

    soap = report.soap
    assert "Pain reported during step 2 (squeezing, upper back): 6/10." in soap.subjective
    assert (
        "Contraindication screen (absolute): Does the patient have a fever? \u2014 no."
        in soap.subjective
    )
    assert (
        "2 of 18 steps completed in 10:40 of massage (budget 5\u20137 minutes)." in soap.objective
    )
    assert (
        "Step 1: stroking \u2014 upper back \u2014 \u00d76\u20137 on each side." in soap.objective
    )
    assert any(line.startswith("Skipped: step 3 ") for line in soap.assessment)
    assert "Left after pain: step 2 (squeezing, upper back)." in soap.assessment
    assert "Not reached: steps 6\u201318." in soap.assessment
    assert "Over budget by 3:40: 10:40 against 5\u20137 minutes." in soap.assessment
    assert soap.plan[0] == "Session 2 (first sessions): 5\u20137 minutes, main technique stroking."


def test_the_plan_part_follows_the_course_rules_for_the_next_session(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        third = drive(store, [(300, "stop")], session_number=3, exacerbation=True)
        report = build_session_report(store, third)
    assert report.budget == "5\u20137 minutes" and not report.over_budget
    assert report.soap.plan[0] == (
        "Session 4 (later sessions): 15 minutes or more, main technique grinding."
    )
    assert report.next_session is not None
    assert report.next_session.regions_left_out == report.regions_left_out != ()
    assert any("leave out" in line for line in report.soap.plan)
    assert "Within budget: 5:00 against 5\u20137 minutes." in report.soap.assessment


def test_html_and_markdown_files_are_private_and_say_it_all(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "march"
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = pain_session(store, tmp_path, patient="Anna K")
        written = write_session_report(build_session_report(store, session_id), out, "both")
    html_file, md_file = written
    assert (html_file.name, md_file.name) == (
        f"session-{session_id}.html",
        f"session-{session_id}.md",
    )
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (out, out.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    html = html_file.read_text()
    assert "<td>next &lt;b&gt;now&lt;/b&gt;</td>" in html  # what was heard, never as markup
    assert "<b>now</b>" not in html
    assert "Anna K" in html and "over budget" in html
    assert '<span class="left-after-pain">left after pain</span>' in html
    assert f'href="{(tmp_path / "notes" / "note 1.wav").as_uri()}"' in html
    assert "note%201.wav" in html
    assert "<td>Does the patient have a fever?</td><td>no</td><td>absolute</td>" in html
    assert "<td>step 2 (squeezing, upper back)</td><td>6</td>" in html
    for heading in ("Subjective", "Objective", "Assessment", "Plan"):
        assert f"<h3>{heading}</h3>" in html
    assert "http://" not in html and "https://" not in html

    markdown = md_file.read_text()
    assert "| 2 | Upper back | squeezing | upper back |  | 3 | 0:40 | left after pain |" in markdown
    assert (
        "| 3 | Upper back | stroking, instead of ordinary kneading | upper back |  | 3 | 0:15 | skipped |"
        in markdown
    )
    assert "next &lt;b&gt;now&lt;/b&gt;" in markdown
    assert "- Over budget by 3:40: 10:40 against 5\u20137 minutes." in markdown
    assert "### Plan" in markdown and "main technique stroking" in markdown
    assert re.search(r"\[note 1\.wav\]\(<file://[^>]*note%201\.wav>\)", markdown)


def test_report_command_on_a_session_run_through_a_pipe(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    run = subprocess.run(
        [*CLI, "run", "cervical", "--skip-screen", "--text", "--db", str(db)],
        input="next\npatient in pain\nresume\nnext\nskip\nstop session\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    result = subprocess.run(
        [*CLI, "report", "1", "--db", str(db), "--out", str(out), "--format", "both"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out / "session-1.html"), str(out / "session-1.md")]
    html = (out / "session-1.html").read_text()
    assert "<td>pain</td><td>patient in pain</td>" in html
    assert "<td>stop</td><td>stop session</td>" in html
    assert "Skipped: step 3" in html
    assert "Session stopped at step 4" in html
    assert '<span class="completed">completed</span>' in html

    missing = subprocess.run(
        [*CLI, "report", "99", "--db", str(db), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "there is no session 99" in missing.stderr and "Traceback" not in missing.stderr


# --- the course report -------------------------------------------------------------------------


def course_database(tmp_path: Path) -> Path:
    db = tmp_path / "course.sqlite3"
    with SessionStore(db) as store:
        for seconds, level in [(330, 7), (380, 4), (400, None), (960, 2)]:
            script: list[Any] = [(60, "next"), (90, "patient in pain")]
            if level is not None:
                script.append((95, f"pain level {level}"))
            script += [(100, "resume"), (seconds, "stop")]
            drive(store, script, patient="Boris P")
        drive(store, [(200, "stop")], patient="Someone else")
    return db


def test_course_report_lists_the_sessions_with_their_pain_and_time(tmp_path: Path) -> None:
    with SessionStore(course_database(tmp_path)) as store:
        course = build_course_report(store, "  boris   p ")
    assert course.patient == "Boris P"
    assert [s.session_number for s in course.sessions] == [1, 2, 3, 4]
    assert [s.max_pain_level for s in course.sessions] == [7, 4, None, 2]
    assert [s.pain_events for s in course.sessions] == [1, 1, 1, 1]
    assert [round(s.active_seconds) for s in course.sessions] == [330, 380, 400, 960]
    assert [s.budget for s in course.sessions][2:] == ["5\u20137 minutes", "15 minutes or more"]


def test_course_report_files_embed_the_plot(tmp_path: Path) -> None:
    with SessionStore(course_database(tmp_path)) as store:
        written = write_course_report(build_course_report(store, "Boris P"), tmp_path, "both")
    assert [p.name for p in written] == [
        "course-boris-p.html",
        "course-boris-p.png",
        "course-boris-p.md",
    ]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    html = written[0].read_text()
    uris = re.findall(r'<img class="plot" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == 1
    png = base64.b64decode(uris[0])
    assert png == written[1].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") >= 600  # width from the IHDR chunk
    assert "Someone else" not in html
    assert "![Duration and pain level per session](<course-boris-p.png>)" in written[2].read_text()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian package: chromium)")


def _headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_course_report_plot_loads_in_a_browser(tmp_path: Path) -> None:
    browser = _chromium()
    with SessionStore(course_database(tmp_path)) as store:
        (html_file,) = write_course_report(build_course_report(store, "Boris P"), tmp_path, "html")
    html = html_file.read_text()

    # A copy whose policy also lets one inline script report on the image; images stay data: only.
    probe = tmp_path / "probe.html"
    marker = (
        "<script>addEventListener('load', () => {"
        " const img = document.querySelector('img.plot');"
        " document.body.dataset.plot = img && img.complete && img.naturalWidth > 0"
        " ? 'loaded-' + img.naturalWidth : 'missing'; });</script>"
    )
    assert "img-src data:;" in html
    probe.write_text(
        html.replace("img-src data:;", "img-src data:; script-src 'unsafe-inline';").replace(
            "</body>", marker + "</body>"
        )
    )
    dom = _headless(browser, tmp_path / "profile-dom", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-plot="([^"]+)"', dom.stdout)
    assert found is not None, dom.stdout[:2000]
    assert found[1] == "loaded-800"

    # The report itself, as the therapist opens it: the plot's bars must be on screen.
    shot = tmp_path / "shot.png"
    taken = _headless(
        browser,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1000,1200",
        "--hide-scrollbars",
        html_file.as_uri(),
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 50, "the screenshot is blank"
    bar = tuple(int(DURATION_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    bar_pixels = sum(
        count
        for count, rgb in colours
        if isinstance(rgb, tuple) and all(abs(a - b) <= 6 for a, b in zip(rgb, bar, strict=True))
    )
    assert bar_pixels > 2000, "the plot's duration bars are not on the screenshot"


def test_reports_of_a_blocked_session_and_of_one_with_the_screen_skipped(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        blocked_id = drive(store, [(0, "no"), (0, "yes"), (0, "yes")], screen=True)
        skipped_id = drive(store, [(30, "stop session")])
        blocked = build_session_report(store, blocked_id)
        skipped = build_session_report(store, skipped_id)
    assert blocked.session.outcome == "blocked"
    assert blocked.soap.assessment[0] == (
        "Session not started: absolute contraindication (an acute inflammation or infection)."
    )
    assert [(a.name, a.answer) for a in blocked.screen_answers] == [
        ("fever", "no"),
        ("an acute inflammation or infection", "yes"),
    ]
    assert "Contraindication screen skipped." in skipped.soap.subjective


def test_course_report_through_the_command_line(tmp_path: Path) -> None:
    db, out = course_database(tmp_path), tmp_path / "out"
    done = subprocess.run(
        [*CLI, "report", "--patient", "boris p", "--db", str(db), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names = ["course-boris-p.html", "course-boris-p.md", "course-boris-p.png"]
    assert sorted(p.name for p in out.iterdir()) == names
    html = (out / "course-boris-p.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html


def test_a_pain_score_at_the_end_stands_on_its_own_in_the_report(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        script: list[Any] = [(30, "patient in pain"), (40, "resume")]
        script += [(50 + i, "next") for i in range(18)]  # to the end: a score is asked for
        script.append((80, "pain level two"))
        session_id = drive(store, script)
        report = build_session_report(store, session_id)
    assert report.session.outcome == "completed"
    assert [(p.interrupted_step, p.level) for p in report.pain] == [(0, None)]
    assert [s.level for s in report.pain_scores] == [2]
    assert "Pain level 2/10 at 1:07." in report.soap.subjective
    markdown = render_session_markdown(report)
    assert "- **Gentle variant:** yes" in markdown


def test_a_pain_withdrawn_as_a_false_alarm_is_left_out_of_the_report(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        script: list[Any] = [(40, "next"), (70, "patient in pain"), (72, "false alarm")]
        script += [(100, "next"), (130, "next"), (160, "stop session")]
        session_id = drive(store, script)
        report = build_session_report(store, session_id)
        session = store.session(session_id)
        assert session is not None and store.summary(session).pain_events == 0
    assert report.pain == ()
    assert ("false alarm", "false alarm") in [(c.intent, c.heard) for c in report.commands]
    # Step 2, during which the pain was reported, was done as planned and completed.
    assert [(s.status, s.gentle) for s in report.steps[:3]] == [(COMPLETED, False)] * 3
    assert "No pain reported during the session." in report.soap.subjective
    assert "Gentle variant" not in render_session_markdown(report)
