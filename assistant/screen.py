"""The session screen: what a therapist glances at from the table, drawn with rich."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from assistant.session import Phase

_PHASE_LABELS = {
    Phase.READY: ("starting", "white"),
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

    over = state.budget_seconds > 0 and state.used_seconds > state.budget_seconds
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


class LiveScreen:
    """Redraws the session screen a few times a second while a session runs."""

    def __init__(self, state: ScreenState, console: Console | None = None) -> None:
        self.state = state
        self._live = Live(
            get_renderable=lambda: render_screen(self.state),
            console=console,
            refresh_per_second=4,
            screen=False,
            transient=False,
        )

    def start(self) -> None:
        self._live.start()

    def refresh(self) -> None:
        self._live.refresh()

    def stop(self) -> None:
        self._live.stop()
