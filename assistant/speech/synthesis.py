"""Text to audio with pyttsx3's espeak-ng driver, rendered to memory instead of spoken."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import wave
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.speech.audio import Audio, read_wav

MIN_RATE_WPM = 80
MAX_RATE_WPM = 450
DEFAULT_RATE_WPM = 175


class SpeechUnavailable(Exception):
    """The speech engine cannot be used at all; str() is one line that says the fix."""


class SynthesisError(Exception):
    """One utterance could not be synthesized; the engine itself is still usable."""


@dataclass(frozen=True)
class EngineVoice:
    id: str
    name: str
    languages: tuple[str, ...]


# espeak-ng can be initialised only once per process and pyttsx3 routes its audio callback
# to the most recently built driver, so the whole process shares one engine behind a lock.
_engine_lock = threading.Lock()
_engine: Any = None
_espeak: Any = None
_engine_errors: list[BaseException] = []
_engine_finished = threading.Event()
_engine_completed: list[bool] = []
_default_voice: str | None = None

# pyttsx3 starts espeak-ng in its asynchronous mode: settings and text go through a command
# queue served by espeak-ng's own thread, runAndWait() can return before the audio file is
# written, and runAndWait() cancels whatever that queue still holds (settings included) if it
# is busy when the loop ends. So each call waits for the queue to empty after changing a
# setting and before runAndWait(), and waits for "finished-utterance" after it.
_FINISH_TIMEOUT_BASE = 5.0
_FINISH_TIMEOUT_PER_CHAR = 0.01
_IDLE_TIMEOUT = 5.0
_IDLE_POLL = 0.0005


def _ignore_print(*_args: object, **_kwargs: object) -> None:
    return None


def _record_error(**kwargs: Any) -> None:
    exception = kwargs.get("exception")
    _engine_errors.append(
        exception if isinstance(exception, BaseException) else RuntimeError(str(kwargs))
    )


def _record_finished(**kwargs: Any) -> None:
    _engine_completed.append(bool(kwargs.get("completed", False)))
    _engine_finished.set()


def _wait_until_idle() -> bool:
    """Wait for espeak-ng's command queue to drain (its own Synchronize() polls every 20 ms)."""
    deadline = time.monotonic() + _IDLE_TIMEOUT
    while _espeak.IsPlaying():
        if time.monotonic() > deadline:
            return False
        time.sleep(_IDLE_POLL)
    return True


def _shared_engine() -> Any:
    """The process-wide pyttsx3 engine on the espeak driver; call with `_engine_lock` held."""
    global _engine, _espeak, _default_voice
    if _engine is not None:
        return _engine
    try:
        import pyttsx3
    except ImportError:
        raise SpeechUnavailable("pyttsx3 is not installed: pip install 'pyttsx3==2.99'") from None
    try:
        engine = pyttsx3.init("espeak")
    except (ImportError, OSError) as error:
        raise SpeechUnavailable(
            f"espeak-ng is not installed ({error}): sudo apt-get install espeak-ng"
        ) from None
    except RuntimeError as error:
        if "installed" in str(error):
            raise SpeechUnavailable(
                "espeak-ng is not installed: sudo apt-get install espeak-ng"
            ) from None
        raise SpeechUnavailable(
            f"espeak-ng cannot start ({error}): "
            "sudo apt-get install --reinstall espeak-ng espeak-ng-data"
        ) from None
    import pyttsx3.drivers._espeak as espeak_binding
    import pyttsx3.drivers.espeak as espeak_driver

    # The driver print()s "Audio saved to ..." after every file. Redirecting sys.stdout around
    # the call would also swallow whatever other threads print meanwhile, so silence only the
    # driver module's own print.
    espeak_driver.print = _ignore_print  # type: ignore[attr-defined]
    _espeak = espeak_binding
    engine.connect("error", _record_error)
    engine.connect("finished-utterance", _record_finished)
    _default_voice = engine.getProperty("voice")
    # A new engine queues settings until its first loop has run; run an empty one so that
    # from now on setProperty() reaches espeak-ng at once.
    _wait_until_idle()
    engine.runAndWait()
    _engine = engine
    return engine


def _voices(engine: Any) -> list[EngineVoice]:
    return [
        EngineVoice(
            id=str(voice.id),
            name=str(voice.name),
            languages=tuple(str(language) for language in (voice.languages or [])),
        )
        for voice in engine.getProperty("voices")
    ]


def list_engine_voices() -> list[EngineVoice]:
    """Every voice espeak-ng offers here (raises SpeechUnavailable when it cannot start)."""
    with _engine_lock:
        return _voices(_shared_engine())


def resolve_voice(requested: str, voices: list[EngineVoice]) -> EngineVoice | None:
    """Find a voice by id ("gmw/en-us"), name ("English (America)") or language ("en-us")."""
    wanted = requested.strip().lower()
    tests = (
        lambda voice: voice.id.lower() == wanted,
        lambda voice: voice.name.lower() == wanted,
        lambda voice: wanted in (language.lower() for language in voice.languages),
        lambda voice: voice.id.lower().rsplit("/", 1)[-1] == wanted,
    )
    for test in tests:
        for voice in voices:
            if test(voice):
                return voice
    return None


class Pyttsx3Synthesizer:
    """Renders text to Audio with espeak-ng; meant to be used from one thread."""

    def __init__(
        self,
        voice: str | None = None,
        rate_wpm: int = DEFAULT_RATE_WPM,
        volume: float = 1.0,
    ) -> None:
        with _engine_lock:
            engine = _shared_engine()
            voices = _voices(engine)
        self._voice_id: str | None = None
        if voice is not None:
            found = resolve_voice(voice, voices)
            if found is None:
                raise SpeechUnavailable(
                    f"espeak-ng has no voice {voice!r}: pick one listed by `espeak-ng --voices`"
                )
            self._voice_id = found.id
        self._rate_wpm = DEFAULT_RATE_WPM
        self._volume = 1.0
        self.rate_wpm = rate_wpm
        self.volume = volume
        self._workdir = Path(tempfile.mkdtemp(prefix="massage-assistant-tts-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._workdir, True)

    @property
    def voice_id(self) -> str | None:
        """The espeak-ng voice identifier in use (None: espeak-ng's default voice)."""
        return self._voice_id

    @property
    def rate_wpm(self) -> int:
        return self._rate_wpm

    @rate_wpm.setter
    def rate_wpm(self, value: int) -> None:
        if not MIN_RATE_WPM <= value <= MAX_RATE_WPM:
            raise ValueError(
                f"rate must be {MIN_RATE_WPM}..{MAX_RATE_WPM} words per minute, got {value}"
            )
        self._rate_wpm = int(value)

    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"volume must be 0..1, got {value}")
        self._volume = float(value)

    def synthesize(self, text: str) -> Audio:
        """Render `text` (empty text gives empty audio); raises SynthesisError on failure."""
        if self._finalizer.alive is False:
            raise SynthesisError("the synthesizer is closed")
        if not text.strip():
            return Audio.silence(0.0, 22050)
        target = self._workdir / "utterance.wav"
        target.unlink(missing_ok=True)
        volume_percent = round(self._volume * 100)
        with _engine_lock:
            engine = _shared_engine()
            _engine_errors.clear()
            voice = self._voice_id or _default_voice
            if voice is not None:
                engine.setProperty("voice", voice)
            engine.setProperty("rate", self._rate_wpm)
            engine.setProperty("volume", self._volume)
            if not _wait_until_idle():
                raise SynthesisError("espeak-ng is stuck: it did not take new settings")
            applied = (_espeak.GetParameter(_espeak.RATE), _espeak.GetParameter(_espeak.VOLUME))
            if applied != (self._rate_wpm, volume_percent) or _engine_errors:
                reason = _engine_errors[0] if _engine_errors else f"got {applied}"
                raise SynthesisError(f"espeak-ng did not take the voice settings: {reason}")
            _engine_finished.clear()
            _engine_completed.clear()
            engine.save_to_file(text, str(target))
            try:
                engine.runAndWait()
            except Exception as error:
                raise SynthesisError(f"espeak-ng failed: {error}") from None
            timeout = _FINISH_TIMEOUT_BASE + _FINISH_TIMEOUT_PER_CHAR * len(text)
            finished = _engine_finished.wait(timeout)
            errors = list(_engine_errors)
            completed = all(_engine_completed)
        if errors:
            raise SynthesisError(f"espeak-ng failed: {errors[0]}")
        if not finished:
            raise SynthesisError(f"espeak-ng did not finish within {timeout:.0f} s")
        if not completed:
            raise SynthesisError("espeak-ng cancelled the utterance")
        try:
            return read_wav(target)
        except (OSError, EOFError, ValueError, wave.Error) as error:
            raise SynthesisError(f"espeak-ng produced no readable audio: {error}") from None

    def close(self) -> None:
        """Remove the scratch directory; the shared engine stays for the rest of the process."""
        self._finalizer()
