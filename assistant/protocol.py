"""The protocol model: what a massage protocol file may contain, validated by pydantic."""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Technique(str, Enum):
    """The technique families the source text names (rubbing is the same as grinding there)."""

    STROKING = "stroking"
    SQUEEZING = "squeezing"
    KNEADING = "kneading"
    GRINDING = "grinding"
    SHAKING = "shaking"


class Variant(str, Enum):
    ORDINARY = "ordinary"
    DOUBLE_RING = "double ring"
    FINGERTIPS = "fingertips"
    PALM_EDGE = "palm edge"
    RECTILINEAR = "rectilinear"
    CIRCULAR = "circular"
    COMBINED = "combined"
    GENTLE = "gentle"
    VARIOUS = "various"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_RANGE_TEXT = re.compile(r"^\s*(\d+)\s*(?:-|\u2013|to)\s*(\d+)\s*$")


class Repetitions(Strict):
    """A repetition count as a range; a single count has min == max."""

    min: Annotated[int, Field(ge=1, strict=True)]
    max: Annotated[int, Field(ge=1, strict=True)]

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("expected a whole number, a range like 6-7, or {min: 6, max: 7}")
        if isinstance(value, int):
            return {"min": value, "max": value}
        if isinstance(value, str):
            match = _RANGE_TEXT.match(value)
            if match:
                return {"min": int(match[1]), "max": int(match[2])}
            if value.strip().isdigit():
                return {"min": int(value), "max": int(value)}
            raise ValueError(
                f"expected a whole number, a range like 6-7, or {{min: 6, max: 7}}; got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Repetitions:
        if self.min > self.max:
            raise ValueError(f"the minimum ({self.min}) exceeds the maximum ({self.max})")
        return self

    def capped_at_minimum(self) -> Repetitions:
        return Repetitions(min=self.min, max=self.min)


class TechniqueStep(Strict):
    """One technique of a stage: what to do, how, where to, how often."""

    technique: Technique
    variants: tuple[Variant, ...] = ()
    regions: tuple[str, ...] = ()
    direction: str | None = None
    repetitions: Repetitions | None = None
    per_side: bool = False
    note: str | None = None

    @field_validator("variants", mode="before")
    @classmethod
    def _single_variant(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Stage(Strict):
    name: str
    regions: Annotated[tuple[str, ...], Field(min_length=1)]
    note: str | None = None
    # Empty where the source names the areas of a stage but no technique for it.
    techniques: tuple[TechniqueStep, ...] = ()


class Position(Strict):
    """How the patient lies and how the table is set up."""

    patient: str
    setup: tuple[str, ...] = ()


class MinutesRange(Strict):
    """A session duration in minutes; max is None for "or more"."""

    min: Annotated[int, Field(ge=1, strict=True)]
    max: Annotated[int | None, Field(ge=1, strict=True)] = None

    @model_validator(mode="after")
    def _ordered(self) -> MinutesRange:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"the minimum ({self.min}) exceeds the maximum ({self.max})")
        return self


class CourseRules(Strict):
    """The source's general rules, as data the session engine acts on."""

    first_sessions_minutes: MinutesRange
    later_sessions_minutes: MinutesRange
    first_sessions_emphasis: Technique
    later_sessions_emphasis: Technique
    sessions_per_day: Annotated[int, Field(ge=1, strict=True)]
    general: tuple[str, ...] = ()


class GentleVariant(Strict):
    """How the session is softened after a pain event, on exacerbation or a relative contraindication."""

    replace: dict[Technique, Technique] = {}
    repetitions: str = "minimum"

    @field_validator("repetitions")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in ("minimum", "unchanged"):
            raise ValueError("expected 'minimum' or 'unchanged'")
        return value


class ClinicSettings(Strict):
    """Choices the source leaves to the therapist; each is marked as such in the protocol file."""

    first_sessions_count: Annotated[int, Field(ge=1, strict=True)]
    budget_warning_lead_minutes: Annotated[int, Field(ge=0, strict=True)] = 1
    gentle_variant: GentleVariant = GentleVariant()


_ID = r"^[a-z0-9][a-z0-9_-]*$"


class Contraindication(Strict):
    """A condition asked about before the first step, as a question answered yes or no."""

    id: Annotated[str, Field(pattern=_ID)]
    name: str  # how it is named when the session is blocked or softened because of it
    question: str
    # Yes means the affected areas are left out and their neighbours worked (an exacerbation).
    neighbouring_areas_only: bool = False


class Contraindications(Strict):
    """Absolute ones block the session; relative ones are recorded and make it gentle."""

    source: str | None = None
    absolute: tuple[Contraindication, ...] = ()
    relative: tuple[Contraindication, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Contraindications:
        ids = [c.id for c in (*self.absolute, *self.relative)]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        blocking = [c.id for c in self.absolute if c.neighbouring_areas_only]
        if blocking:
            raise ValueError(
                f"neighbouring_areas_only is for relative contraindications: {', '.join(blocking)}"
            )
        return self

    def with_general(self, general: Contraindications) -> Contraindications:
        """The general list first, then this one's; an entry here replaces a general one of its id."""
        own = {c.id for c in (*self.absolute, *self.relative)}
        return Contraindications(
            source=self.source,
            absolute=(*(c for c in general.absolute if c.id not in own), *self.absolute),
            relative=(*(c for c in general.relative if c.id not in own), *self.relative),
        )


class Protocol(Strict):
    id: Annotated[str, Field(pattern=_ID)]
    title: str
    source: str | None = None
    spine_section: str
    position: Position
    affected_regions: Annotated[tuple[str, ...], Field(min_length=1)]
    stages: Annotated[tuple[Stage, ...], Field(min_length=1)]
    rules: CourseRules
    settings: ClinicSettings
    contraindications: Contraindications = Contraindications()
