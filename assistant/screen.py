"""The session screen: what a therapist glances at from the table, drawn with rich."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from assistant.phrasing import Phraser
from assistant.session import Phase, Session

_PHASE_LABELS = {
    Phase.READY: ("starting", "white"),
    Phase.SCREENING: ("contraindications", "yellow"),
    Phase.RUNNING: ("running", "green"),
    Phase.PAUSED: ("paused", "yellow"),
    Phase.PAIN_HOLD: ("PATIENT IN PAIN", "bold white on red"),
    Phase.FINISHED: ("finished", "cyan"),
}


@dataclass
class ScreenState:
    """Everything the screen shows; the runner keeps it up to date."""

    protocol_title: str
    engine: str
    phase: Phase = Phase.READY
    stage: str = ""
    step_text: str = ""
    step_number: int = 0
    steps_total: int = 0
    used_seconds: float = 0.0
    budget_seconds: float = 0.0
    budget_open_ended: bool = False  # "15 minutes or more": a target, not a ceiling
    gentle: bool = False
    last_said: str = ""
    last_heard: str | None = None
    last_rejected: str | None = None
    mic_level: float | None = None
    notices: list[str] = field(default_factory=list)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _meter(level: float | None, width: int = 20) -> Text:
    if level is None:
        return Text("no microphone", style="dim")
    filled = max(0, min(width, round(level * width)))
    return Text("█" * filled, style="green") + Text("·" * (width - filled), style="dim")


def render_screen(state: ScreenState) -> RenderableType:
    label, style = _PHASE_LABELS[state.phase]
    header = Table.grid(expand=True)
    header.add_column(ratio=3)
    header.add_column(justify="right", ratio=1)
    header.add_row(Text(state.protocol_title, style="bold"), Text(label, style=style))

    over = (
        not state.budget_open_ended
        and state.budget_seconds > 0
        and state.used_seconds > state.budget_seconds
    )
    time_text = Text(
        f"{_clock(state.used_seconds)} of {_clock(state.budget_seconds)}",
        style="bold red" if over else "bold",
    )
    progress = Table.grid(expand=True, padding=(0, 1))
    progress.add_column(width=12)
    progress.add_column(ratio=1)
    progress.add_column(justify="right", width=16)
    progress.add_row(
        Text(f"step {state.step_number}/{state.steps_total}", style="bold"),
        ProgressBar(total=max(1, state.steps_total), completed=max(0, state.step_number - 1)),
        time_text,
    )
    progress.add_row(
        Text("time", style="dim"),
        ProgressBar(
            total=max(1.0, state.budget_seconds),
            completed=min(state.used_seconds, state.budget_seconds),
        ),
        Text("gentle" if state.gentle else "", style="magenta"),
    )

    technique = Panel(
        Text(state.step_text or "…", style="bold white", justify="center"),
        title=Text(state.stage, style="bold cyan"),
        border_style="red" if state.phase is Phase.PAIN_HOLD else "cyan",
        padding=(1, 2),
    )

    footer = Table.grid(expand=True, padding=(0, 1))
    footer.add_column(width=10, style="dim")
    footer.add_column(ratio=1)
    footer.add_row("heard", Text(state.last_heard or "—", style="bold green"))
    footer.add_row("ignored", Text(state.last_rejected or "—", style="dim"))
    footer.add_row("mic", _meter(state.mic_level))
    footer.add_row("engine", Text(state.engine, style="dim"))
    parts: list[RenderableType] = [header, progress, technique, footer]
    parts.extend(Text(notice, style="yellow") for notice in state.notices[-2:])
    return Group(*parts)


def fill_state(state: ScreenState, session: Session, phraser: Phraser, now: float) -> None:
    """Bring the state up to date with the session at time now."""
    plan = session.plan
    state.phase = session.phase
    state.steps_total = len(plan.steps)
    state.used_seconds = session.active_seconds(now)
    state.budget_seconds = plan.budget.limit_seconds
    state.budget_open_ended = plan.budget.open_ended
    state.gentle = session.gentle
    if session.phase is Phase.SCREENING:
        answered = len(session.screen_answers)
        questions = session.screen_questions
        current = questions[min(answered, len(questions) - 1)]
        number = min(answered + 1, len(questions))  # a yes to an absolute one waits on its own
        state.stage = f"Contraindications: question {number} of {len(questions)}"
        state.step_text = current.contraindication.question
        state.step_number = 0
        return
    step = session.current_step
    state.stage = f"Stage {step.stage_number}: {step.stage_name}"
    state.step_text = phraser.step(step)
    state.step_number = session.step_index + 1


def level_fraction(level_db: float | None) -> float | None:
    """A microphone level in dB as 0..1 for the meter: -70 dB is empty, -10 dB full."""
    if level_db is None:
        return None
    return max(0.0, min(1.0, (level_db + 70.0) / 60.0))


class LiveScreen:
    """Redraws the session screen a few times a second while a session runs.

    The state is filled in one place, the redraw, which rich runs under its own lock whether
    the refresh thread or the runner (through update) asks for it.
    """

    def __init__(
        self,
        state: ScreenState,
        phraser: Phraser,
        clock: Callable[[], float],
        mic_level_db: Callable[[], float | None] | None = None,
        console: Console | None = None,
    ) -> None:
        self.state = state
        self._phraser = phraser
        self._clock = clock
        self._session: Session | None = None
        self._mic_level_db = mic_level_db or (lambda: None)
        self._live = Live(
            get_renderable=self._render,
            console=console,
            refresh_per_second=4,
            screen=False,
            transient=False,
        )

    def _render(self) -> RenderableType:
        # Redrawn on a timer, so the time used moves on between commands.
        if self._session is not None:
            fill_state(self.state, self._session, self._phraser, self._clock())
        self.state.mic_level = level_fraction(self._mic_level_db())
        return render_screen(self.state)

    def update(self, session: Session) -> None:
        self._session = session
        self._live.refresh()

    def heard(self, text: str) -> None:
        self.state.last_heard = text

    def ignored(self, text: str, reason: str | None) -> None:
        self.state.last_rejected = f"{text} ({reason})" if reason else text

    def start(self) -> None:
        self._live.start()

    def refresh(self) -> None:
        self._live.refresh()

    def stop(self) -> None:
        self._live.stop()
