"""The session runner: wires the pure session to inputs, guidance, timers and records.

Input readers, timers, the speech worker and the voice input run on threads of their own and
only post events to one queue; the main loop hands each event to the session and carries out
the actions it returns, so the session itself is only ever touched from one thread.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol as Interface
from typing import TextIO

from assistant.intents import Intent, Listening
from assistant.listening.listener import TOO_LONG
from assistant.phrasing import Phraser
from assistant.plan import SessionOptions, build_plan
from assistant.protocol import Protocol
from assistant.session import (
    Action,
    AnnouncementDone,
    CancelTimer,
    ChangeVoice,
    Command,
    EndSession,
    Event,
    ListenFor,
    NoteKept,
    Phase,
    Record,
    ResumePoint,
    Say,
    Session,
    Start,
    StartTimer,
    StopSpeaking,
    TakeNote,
    TimerFired,
)
from assistant.store import SessionStore
from assistant.vocabulary import CommandVocabulary
from assistant.voice_input import Heard, MicrophoneBack, MicrophoneLost, RecordingEnded, VoiceEvent


@dataclass(frozen=True)
class Typed:
    """A line the therapist typed."""

    text: str


@dataclass(frozen=True)
class InputClosed:
    """The keyboard or the pipe ended (or Ctrl-C): the session is left resumable."""

    reason: str
    from_keyboard: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the therapist should know about the equipment, such as speech failing."""

    text: str


RunnerEvent = Event | Typed | InputClosed | Notice | VoiceEvent
Post = Callable[[RunnerEvent], None]


class Guidance(Interface):
    """Where the assistant's words go: the terminal, a voice, a WAV file."""

    def say(self, text: str, announces_step: bool) -> None: ...

    def stop_speaking(self) -> None: ...

    def change_voice(self, intent: Intent) -> None: ...

    def close(self) -> None: ...


class PrintedGuidance:
    """Prints every sentence; an announcement counts as done once printed."""

    def __init__(self, post: Post, clock: Callable[[], float], out: TextIO) -> None:
        self._post = post
        self._clock = clock
        self._out = out

    def say(self, text: str, announces_step: bool) -> None:
        print(text, file=self._out, flush=True)
        if announces_step:
            self._post(AnnouncementDone(self._clock()))

    def stop_speaking(self) -> None:
        pass

    def change_voice(self, intent: Intent) -> None:
        pass

    def close(self) -> None:
        pass


class SessionDisplay(Interface):
    """A live view of the session (the session screen); told after everything that happens."""

    def update(self, session: Session) -> None: ...

    def heard(self, text: str) -> None: ...

    def ignored(self, text: str, reason: str | None) -> None: ...


class KeyboardInput:
    """Reads one command per line from a stream, on its own thread."""

    def __init__(self, stream: TextIO, post: Post) -> None:
        self._stream = stream
        self._post = post
        self._thread = threading.Thread(target=self._read, name="keyboard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._stream:
                if line.strip():
                    self._post(Typed(line.strip()))
        except (OSError, ValueError):
            pass
        self._post(InputClosed("input ended", from_keyboard=True))


class Timers:
    """Named one-shot timers that post TimerFired when they go off."""

    def __init__(self, post: Post, clock: Callable[[], float]) -> None:
        self._post = post
        self._clock = clock
        self._timers: dict[str, threading.Timer] = {}

    def start(self, name: str, delay: float) -> None:
        self.cancel(name)
        timer = threading.Timer(delay, lambda: self._post(TimerFired(name, self._clock())))
        timer.daemon = True
        self._timers[name] = timer
        timer.start()

    def cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for name in list(self._timers):
            self.cancel(name)


def wall_clock_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def begin_session(
    store: SessionStore,
    protocol: Protocol,
    path: Path,
    options: SessionOptions,
    patient: str | None = None,
) -> int:
    """Record the start of a new session of the protocol; returns its id."""
    plan = build_plan(protocol, options)
    return store.begin(
        protocol=protocol.id,
        protocol_path=str(path.resolve()),
        session_number=options.session_number,
        patient=patient,
        exacerbation=options.exacerbation,
        gentle=options.gentle,
        steps_total=len(plan.steps),
        budget_minutes=plan.budget.limit_minutes,
        started_at=wall_clock_now(),
    )


@dataclass(frozen=True)
class RunResult:
    outcome: str  # "completed", "stopped", "blocked" (by the screen) or "interrupted"
    session_id: int


class SessionRunner:
    def __init__(
        self,
        session: Session,
        phraser: Phraser,
        vocabulary: CommandVocabulary,
        store: SessionStore,
        session_id: int,
        out: TextIO = sys.stdout,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.phraser = phraser
        self.vocabulary = vocabulary
        self.store = store
        self.session_id = session_id
        self.out = out
        self.clock = clock
        self.events: queue.Queue[RunnerEvent] = queue.Queue()
        self.timers = Timers(self.post, clock)
        self.guidance: Guidance = PrintedGuidance(self.post, clock, out)
        self._commands_by_name = {
            **{intent.value: intent for intent in Intent},
            "y": Intent.YES,
            "n": Intent.NO,
        }
        # Told what to listen for as the session's phase changes (the listener).
        self.listening_listeners: list[Callable[[Listening], None]] = []
        # Starts recording a voice note of so many seconds under a name; False if it cannot.
        # It posts NoteKept when done.
        self.note_taker: Callable[[float, str], bool] | None = None
        self._outcome: str | None = None
        # With a microphone listening, the keyboard closing (no terminal) ends nothing.
        self.keyboard_ends_session = True
        self.show_ignored = False  # print what was heard but not obeyed, and why
        self.display: SessionDisplay | None = None
        self._paused_for_microphone = False

    def post(self, event: RunnerEvent) -> None:
        self.events.put(event)

    def run(self, resume: ResumePoint | None = None) -> RunResult:
        self._apply(self.session.handle(Start(self.clock(), resume)))
        try:
            while self._outcome is None:
                event = self.events.get()
                if isinstance(event, RecordingEnded):
                    event = InputClosed("the recording ended")
                if isinstance(event, InputClosed):
                    if event.from_keyboard and not self.keyboard_ends_session:
                        continue
                    self._interrupted(event.reason)
                    break
                if isinstance(event, Notice):
                    print(f"! {event.text}", file=self.out, flush=True)
                    continue
                if isinstance(event, (MicrophoneLost, MicrophoneBack)):
                    self._microphone(event)
                    continue
                if isinstance(event, Heard):
                    event = self._command_heard(event)
                elif isinstance(event, Typed):
                    if self.display is not None:
                        self.display.heard(f"{event.text} (typed)")
                    event = self._command_from_text(event.text)
                if event is not None:
                    self._apply(self.session.handle(event))
        except KeyboardInterrupt:
            self._interrupted("interrupted from the keyboard")
        finally:
            self.timers.cancel_all()
            self.guidance.close()
        return RunResult(self._outcome or "interrupted", self.session_id)

    def _command_from_text(self, text: str) -> Command | None:
        intent = self.vocabulary.match(text) or self._commands_by_name.get(text.strip().lower())
        if intent is None:
            print(
                f"? Unknown command {text!r}. Say or type 'help' for the commands.",
                file=self.out,
                flush=True,
            )
            return None
        return Command(intent, self.clock(), heard=text, value=self.vocabulary.pain_level(text))

    def _command_heard(self, heard: Heard) -> Command | None:
        decision = heard.decision
        if decision.command is None:
            # Speech too long to be a command is not decoded: it has no words to show.
            long_speech = decision.reason == TOO_LONG
            shown = decision.text or ("speech" if long_speech else "")
            if shown and self.display is not None:
                self.display.ignored(shown, decision.reason)
            if self.show_ignored and shown:
                print(f"[ignored] {shown} ({decision.reason})", file=self.out, flush=True)
            return None
        if self.display is not None:
            self.display.heard(decision.text)
        print(f"[heard] {decision.text}", file=self.out, flush=True)
        level = self.vocabulary.pain_level(decision.text)
        return Command(decision.command, self.clock(), heard=decision.text, value=level)

    def _microphone(self, event: MicrophoneLost | MicrophoneBack) -> None:
        """A lost microphone pauses a running session; its return resumes what it paused."""
        if isinstance(event, MicrophoneLost):
            print(f"! {event.reason}", file=self.out, flush=True)
            self.guidance.say(self.phraser.phrase("microphone_lost"), False)
            if self.session.phase is Phase.RUNNING:
                self._paused_for_microphone = True
                self._apply(
                    self.session.handle(Command(Intent.PAUSE, self.clock(), "(microphone lost)"))
                )
            return
        self.guidance.say(self.phraser.phrase("microphone_back"), False)
        if self._paused_for_microphone and self.session.phase is Phase.PAUSED:
            self._apply(
                self.session.handle(Command(Intent.RESUME, self.clock(), "(microphone back)"))
            )
        self._paused_for_microphone = False

    def _interrupted(self, reason: str) -> None:
        if self.session.phase is Phase.FINISHED:
            self._outcome = self.session.outcome  # input ended while a pain score was awaited
            return
        self.store.record(
            self.session_id,
            "session_interrupted",
            {"step": self.session.step_index, "reason": reason},
            wall_clock_now(),
        )
        self._outcome = "interrupted"
        print(
            f"Session {self.session_id} left open ({reason}); continue it with: massage-assistant run --resume",
            file=self.out,
            flush=True,
        )

    def _apply(self, actions: list[Action]) -> None:
        self._apply_actions(actions)
        if self.display is not None:
            self.display.update(self.session)

    def _apply_actions(self, actions: list[Action]) -> None:
        # Records first, so that a crash while speaking never loses what just happened.
        for action in actions:
            if isinstance(action, Record):
                self.store.record(self.session_id, action.kind, action.data, wall_clock_now())
        for action in actions:
            if isinstance(action, StopSpeaking):
                self.guidance.stop_speaking()
            elif isinstance(action, Say):
                self.guidance.say(self.phraser.render(action.message), action.announces_step)
            elif isinstance(action, StartTimer):
                self.timers.start(action.name, action.delay_seconds)
            elif isinstance(action, CancelTimer):
                self.timers.cancel(action.name)
            elif isinstance(action, ChangeVoice):
                self.guidance.change_voice(action.intent)
            elif isinstance(action, ListenFor):
                for listener in self.listening_listeners:
                    listener(action.listening)
            elif isinstance(action, TakeNote):
                taker = self.note_taker
                if taker is None or not taker(action.seconds, action.name):
                    self.post(NoteKept(None, 0.0, self.clock()))
            elif isinstance(action, EndSession):
                self._outcome = action.outcome
