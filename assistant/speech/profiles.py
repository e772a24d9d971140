"""Voice profiles (engine voice, rate, volume) as data, and the session's voice adjustments."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from assistant.datafile import load_model
from assistant.resources import voices_dir

MIN_RATE_WPM = 80
MAX_RATE_WPM = 400
RATE_STEP_WPM = 20
VOLUME_STEP = 0.1


class VoiceProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    language: str = Field(min_length=2)
    engine_voice: str | None = None
    """espeak-ng voice id, name or language (e.g. "en-us", "English (America)")."""
    rate_wpm: int = Field(ge=MIN_RATE_WPM, le=MAX_RATE_WPM)
    volume: float = Field(ge=0.0, le=1.0)


class VoiceProfiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # profiles before default: fields validate in this order, and default is checked
    # against the profiles (as a field check, so the error points at the default: line).
    profiles: list[VoiceProfile] = Field(min_length=1)
    default: str

    @field_validator("profiles")
    @classmethod
    def _unique_names(cls, profiles: list[VoiceProfile]) -> list[VoiceProfile]:
        names = [profile.name for profile in profiles]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"profile names must be unique; repeated: {', '.join(duplicates)}")
        return profiles

    @field_validator("default")
    @classmethod
    def _default_exists(cls, default: str, info: ValidationInfo) -> str:
        profiles = info.data.get("profiles")
        if profiles is None:
            return default
        names = [profile.name for profile in profiles]
        if default not in names:
            raise ValueError(
                f"default profile {default!r} is not one of the profiles: {', '.join(names)}"
            )
        return default

    def get(self, name: str | None = None) -> VoiceProfile:
        """The named profile (the default one for None); KeyError names the choices."""
        wanted = self.default if name is None else name
        for profile in self.profiles:
            if profile.name == wanted:
                return profile
        choices = ", ".join(profile.name for profile in self.profiles)
        raise KeyError(f"no voice profile {wanted!r}; choose one of: {choices}")


def builtin_profiles_path() -> Path:
    return voices_dir() / "profiles.yaml"


def load_profiles(path: Path | str | None = None) -> VoiceProfiles:
    """Load and validate a profiles file (the built-in one by default); raises DataFileError."""
    return load_model(builtin_profiles_path() if path is None else path, VoiceProfiles)


def louder(profile: VoiceProfile) -> VoiceProfile:
    return profile.model_copy(update={"volume": round(min(1.0, profile.volume + VOLUME_STEP), 2)})


def quieter(profile: VoiceProfile) -> VoiceProfile:
    # Never all the way to silence: a spoken "louder" must stay possible to act on.
    floor = VOLUME_STEP
    return profile.model_copy(update={"volume": round(max(floor, profile.volume - VOLUME_STEP), 2)})


def faster(profile: VoiceProfile) -> VoiceProfile:
    return profile.model_copy(
        update={"rate_wpm": min(MAX_RATE_WPM, profile.rate_wpm + RATE_STEP_WPM)}
    )


def slower(profile: VoiceProfile) -> VoiceProfile:
    return profile.model_copy(
        update={"rate_wpm": max(MIN_RATE_WPM, profile.rate_wpm - RATE_STEP_WPM)}
    )
