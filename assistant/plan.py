"""A session plan: a protocol flattened into steps, shaped by the course rules for one session."""

from __future__ import annotations

from dataclasses import dataclass, replace

from assistant.protocol import (
    ClinicSettings,
    MinutesRange,
    Protocol,
    Repetitions,
    Technique,
    TechniqueStep,
    Variant,
)


@dataclass(frozen=True)
class Step:
    """One thing the therapist does next: a technique on a region, or a stage the source leaves open."""

    index: int
    stage_number: int
    stage_name: str
    stage_note: str | None
    first_in_stage: bool
    regions: tuple[str, ...]
    technique: Technique | None
    variants: tuple[Variant, ...] = ()
    direction: str | None = None
    repetitions: Repetitions | None = None
    per_side: bool = False
    note: str | None = None
    softened_from: Technique | None = None
    softened_variants: tuple[Variant, ...] = ()

    def gentle(self, settings: ClinicSettings) -> Step:
        """This step as done after a pain event: tough techniques replaced, counts at the minimum."""
        policy = settings.gentle_variant
        step = self
        if self.technique is not None and self.technique in policy.replace:
            step = replace(
                step,
                technique=policy.replace[self.technique],
                variants=(),
                softened_from=self.technique,
                softened_variants=self.variants,
            )
        if policy.repetitions == "minimum" and step.repetitions is not None:
            step = replace(step, repetitions=step.repetitions.capped_at_minimum())
        return step


@dataclass(frozen=True)
class TimeBudget:
    """Minutes for this session: warn before `limit`, and say when it is passed."""

    range: MinutesRange
    warning_lead_minutes: int

    @property
    def limit_minutes(self) -> int:
        return self.range.max if self.range.max is not None else self.range.min

    @property
    def open_ended(self) -> bool:
        """True for "15 minutes or more": the limit is a target, not a ceiling."""
        return self.range.max is None

    @property
    def warning_at_seconds(self) -> float:
        return max(0, self.limit_minutes - self.warning_lead_minutes) * 60.0

    @property
    def limit_seconds(self) -> float:
        return self.limit_minutes * 60.0


@dataclass(frozen=True)
class SessionOptions:
    session_number: int = 1
    exacerbation: bool = False
    gentle: bool = False

    @property
    def starts_gentle(self) -> bool:
        """During an exacerbation intensive work causes severe pain: the session is gentle."""
        return self.gentle or self.exacerbation


@dataclass(frozen=True)
class SessionPlan:
    protocol: Protocol
    options: SessionOptions
    steps: tuple[Step, ...]
    budget: TimeBudget
    emphasis: Technique
    first_sessions: bool
    regions_left_out: tuple[str, ...]

    @property
    def settings(self) -> ClinicSettings:
        return self.protocol.settings

    def step_as_done(self, index: int, gentle: bool) -> Step:
        step = self.steps[index]
        return step.gentle(self.settings) if gentle else step


def _technique_regions(stage_regions: tuple[str, ...], technique: TechniqueStep) -> tuple[str, ...]:
    return technique.regions or stage_regions


def build_plan(protocol: Protocol, options: SessionOptions) -> SessionPlan:
    """Flatten the protocol's stages into steps for this session of the course."""
    affected = set(protocol.affected_regions) if options.exacerbation else set()
    left_out: list[str] = []
    steps: list[Step] = []
    for stage_number, stage in enumerate(protocol.stages, start=1):
        first = True
        items: list[tuple[tuple[str, ...], TechniqueStep | None]] = [
            (_technique_regions(stage.regions, t), t) for t in stage.techniques
        ] or [(stage.regions, None)]
        for regions, technique in items:
            kept = tuple(r for r in regions if r not in affected)
            left_out.extend(r for r in regions if r in affected and r not in left_out)
            if not kept:
                continue
            steps.append(
                Step(
                    index=len(steps),
                    stage_number=stage_number,
                    stage_name=stage.name,
                    stage_note=stage.note,
                    first_in_stage=first,
                    regions=kept,
                    technique=technique.technique if technique else None,
                    variants=technique.variants if technique else (),
                    direction=technique.direction if technique else None,
                    repetitions=technique.repetitions if technique else None,
                    per_side=technique.per_side if technique else False,
                    note=technique.note if technique else None,
                )
            )
            first = False
    rules = protocol.rules
    first_sessions = options.session_number <= protocol.settings.first_sessions_count
    budget = TimeBudget(
        rules.first_sessions_minutes if first_sessions else rules.later_sessions_minutes,
        protocol.settings.budget_warning_lead_minutes,
    )
    return SessionPlan(
        protocol=protocol,
        options=options,
        steps=tuple(steps),
        budget=budget,
        emphasis=rules.first_sessions_emphasis if first_sessions else rules.later_sessions_emphasis,
        first_sessions=first_sessions,
        regions_left_out=tuple(left_out),
    )
