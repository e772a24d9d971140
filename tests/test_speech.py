"""Speech output for real: espeak-ng synthesis, playback into a private PulseAudio server,
the speech worker's events, the WAV timeline, voice profiles."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pulse import SOUND_THRESHOLD, recorded_sound

from assistant.datafile import DataFileError
from assistant.speech.audio import Audio, read_wav, rms, sound_span
from assistant.speech.playback import OutputUnavailable, SoundDevicePlayer
from assistant.speech.private_pulse import PrivatePulseAudio
from assistant.speech.profiles import (
    MAX_RATE_WPM,
    MIN_RATE_WPM,
    faster,
    load_profiles,
    louder,
    quieter,
    slower,
)
from assistant.speech.synthesis import (
    Pyttsx3Synthesizer,
    SpeechUnavailable,
    SynthesisError,
    list_engine_voices,
)
from assistant.speech.wav_sink import WavTimelineSink
from assistant.speech.worker import SpeechEvent, SpeechWorker

SHORT = "Stage one, upper back."
LONG = (
    "Stage one, upper back. Stroking, from the lower edge of the shoulder blades to the neck, "
    "six to seven times on each side."
)


def _words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def synthesizer() -> Pyttsx3Synthesizer:
    return Pyttsx3Synthesizer(voice="en-us", rate_wpm=175, volume=1.0)


class _Events:
    """Collects worker events and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[SpeechEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: SpeechEvent) -> None:
        with self._changed:
            self.items.append(event)
            self._changed.notify_all()

    def wait_for(self, kind: str, count: int = 1, timeout: float = 20.0) -> SpeechEvent:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [event for event in self.items if event.kind == kind]
                if len(matching) >= count:
                    return matching[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {kind!r} event #{count}; got {self.kinds()}")
                self._changed.wait(remaining)

    def kinds(self) -> list[tuple[str, int | None]]:
        return [(event.kind, event.utterance_id) for event in self.items]


# --- synthesis -------------------------------------------------------------------------


def test_synthesis_is_audible_and_as_long_as_the_text(synthesizer: Pyttsx3Synthesizer) -> None:
    short = synthesizer.synthesize(SHORT)
    long = synthesizer.synthesize(LONG)
    for text, audio in ((SHORT, short), (LONG, long)):
        assert audio.samples.dtype.name == "float32"
        assert rms(audio.samples) > 0.03, "speech should be clearly above silence"
        seconds_per_word = audio.duration / _words(text)
        # 175 words per minute is 0.34 s a word, plus pauses at commas and the end.
        assert 0.2 < seconds_per_word < 0.8, f"{text!r}: {audio.duration:.2f} s"
    ratio = long.duration / short.duration
    word_ratio = _words(LONG) / _words(SHORT)
    assert 0.5 * word_ratio < ratio < 1.5 * word_ratio


def test_volume_scales_the_samples(synthesizer: Pyttsx3Synthesizer) -> None:
    quiet = Pyttsx3Synthesizer(voice="en-us", rate_wpm=175, volume=0.5).synthesize(SHORT)
    full = synthesizer.synthesize(SHORT)
    assert 0.4 < rms(quiet.samples) / rms(full.samples) < 0.6


def test_rate_changes_the_duration() -> None:
    slow = Pyttsx3Synthesizer(voice="en-us", rate_wpm=120).synthesize(LONG)
    fast = Pyttsx3Synthesizer(voice="en-us", rate_wpm=240).synthesize(LONG)
    assert 1.5 < slow.duration / fast.duration < 2.5


def test_engine_voices_and_voice_lookup() -> None:
    voices = list_engine_voices()
    american = [voice for voice in voices if "en-us" in voice.languages]
    assert american, "espeak-ng should offer an American English voice"
    by_name = Pyttsx3Synthesizer(voice=american[0].name)
    by_language = Pyttsx3Synthesizer(voice="en-us")
    assert by_name.voice_id == by_language.voice_id == american[0].id
    with pytest.raises(SpeechUnavailable, match="espeak-ng --voices"):
        Pyttsx3Synthesizer(voice="no-such-voice")


def test_empty_text_gives_empty_audio(synthesizer: Pyttsx3Synthesizer) -> None:
    assert synthesizer.synthesize("   ").duration == 0.0


# --- playback into the private PulseAudio server ---------------------------------------


@pytest.mark.audio
def test_playback_reaches_the_speaker(
    pulse_audio: PrivatePulseAudio, synthesizer: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    audio = synthesizer.synthesize(SHORT)
    voiced = sound_span(audio, SOUND_THRESHOLD)
    assert voiced is not None
    done = threading.Event()
    times: dict[str, float] = {}

    def on_end(at: float, completed: bool) -> None:
        times["end"] = at
        times["completed"] = float(completed)
        done.set()

    recording = tmp_path / "speaker.wav"
    with SoundDevicePlayer() as player, pulse_audio.record_speaker(recording):
        requested = time.monotonic()
        player.play(audio, on_start=lambda at: times.setdefault("start", at), on_end=on_end)
        assert player.is_playing
        assert done.wait(audio.duration + 2.0)
        assert not player.is_playing
        time.sleep(0.2)
    assert times["completed"] == 1.0
    assert 0.0 <= times["start"] - requested < 0.1, "playback should begin at the next block"
    assert times["end"] - times["start"] == pytest.approx(audio.duration, abs=0.1)
    heard = recorded_sound(recording)
    assert heard is not None, "nothing reached the speaker"
    recorded = read_wav(recording)
    start, end = heard
    assert (
        rms(recorded.samples[int(start * recorded.sample_rate) : int(end * recorded.sample_rate)])
        > 0.03
    )
    assert end - start == pytest.approx(voiced[1] - voiced[0], abs=0.1)


@pytest.mark.audio
def test_missing_output_device_is_reported(pulse_audio: PrivatePulseAudio) -> None:
    with pytest.raises(OutputUnavailable, match="no-such-speaker"):
        SoundDevicePlayer(device="no-such-speaker")
    with pytest.raises(OutputUnavailable):
        SoundDevicePlayer(device=999)


@pytest.mark.audio
def test_worker_speaks_then_reports_finished(
    pulse_audio: PrivatePulseAudio, synthesizer: Pyttsx3Synthesizer
) -> None:
    events = _Events()
    expected = synthesizer.synthesize(SHORT).duration
    # The worker owns (and closes) its synthesizer and output.
    worker = SpeechWorker(Pyttsx3Synthesizer(voice="en-us"), SoundDevicePlayer(), on_event=events)
    worker.start()
    try:
        said_at = time.monotonic()
        worker.say(SHORT, utterance_id=1)
        assert time.monotonic() - said_at < 0.05, "say() must not wait for the speech"
        started = events.wait_for("started")
        assert worker.speaking
        finished = events.wait_for("finished")
        assert not worker.speaking
    finally:
        worker.close()
    assert events.kinds() == [("started", 1), ("finished", 1)]
    assert started.at - said_at < 0.1
    assert finished.at - started.at == pytest.approx(expected, abs=0.1)


@pytest.mark.audio
def test_interrupt_silences_the_speaker_at_once(
    pulse_audio: PrivatePulseAudio, synthesizer: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    events = _Events()
    full_length = synthesizer.synthesize(LONG).duration
    worker = SpeechWorker(Pyttsx3Synthesizer(voice="en-us"), SoundDevicePlayer(), on_event=events)
    worker.start()
    recording = tmp_path / "interrupted.wav"
    try:
        with pulse_audio.record_speaker(recording):
            worker.say(LONG, utterance_id=7)
            worker.say("This should never be heard.", utterance_id=8)
            started = events.wait_for("started")
            time.sleep(1.0)
            stop_requested = time.monotonic()
            worker.interrupt()
            interrupted = events.wait_for("interrupted", count=2)
            time.sleep(0.3)
    finally:
        worker.close()
    assert events.kinds() == [("started", 7), ("interrupted", 7), ("interrupted", 8)]
    assert not worker.speaking
    first_interrupted = events.items[1]
    assert first_interrupted.at - stop_requested < 0.05 + 0.03, "silence should follow within 50 ms"
    assert interrupted.utterance_id == 8
    heard = recorded_sound(recording)
    assert heard is not None
    sounding = heard[1] - heard[0]
    assert sounding < full_length / 2, "the announcement went on after interrupt()"
    # The recording starts sounding when the first block plays and stops when the silence
    # plays; the device latency cancels out, leaving how late the silence came.
    assert sounding - (stop_requested - started.at) < 0.1


# --- the worker without a sound device -------------------------------------------------


class _FailsOn(Pyttsx3Synthesizer):
    """The real synthesizer, except that one text fails as a broken engine would."""

    def synthesize(self, text: str) -> Audio:
        if text == "fail here":
            raise SynthesisError("espeak-ng failed: simulated")
        return super().synthesize(text)


def test_worker_reports_a_failure_and_keeps_going(tmp_path: Path) -> None:
    events = _Events()
    sink = WavTimelineSink(tmp_path / "out.wav", realtime=False)
    worker = SpeechWorker(_FailsOn(voice="en-us"), sink, on_event=events)
    worker.start()
    worker.say("fail here", utterance_id=1)
    worker.say(SHORT, utterance_id=2)
    worker.close()
    assert events.kinds() == [("failed", 1), ("started", 2), ("finished", 2)]
    assert events.items[0].reason == "espeak-ng failed: simulated"


def test_worker_applies_rate_and_volume_from_the_next_utterance(tmp_path: Path) -> None:
    events = _Events()
    path = tmp_path / "settings.wav"
    clock_value = [0.0]
    sink = WavTimelineSink(path, clock=lambda: clock_value[0], realtime=False)
    worker = SpeechWorker(Pyttsx3Synthesizer(voice="en-us", rate_wpm=175), sink, on_event=events)
    worker.start()
    worker.say(SHORT, utterance_id=1)
    events.wait_for("finished", 1)
    clock_value[0] = 10.0
    worker.set_volume(0.4)
    worker.set_rate(120)
    worker.say(SHORT, utterance_id=2)
    worker.close()
    first, second = events.items[1], events.items[3]
    assert (first.kind, second.kind) == ("finished", "finished")
    first_length = first.at - events.items[0].at
    second_length = second.at - events.items[2].at
    assert 1.3 < second_length / first_length < 1.7, "120 wpm should take ~175/120 as long"
    audio = read_wav(path)
    rate = audio.sample_rate
    before = audio.samples[: int(first.at * rate)]
    after = audio.samples[int(10.0 * rate) :]
    assert 0.3 < rms(after) / rms(before) < 0.55, "volume 0.4 should be ~0.4 times as loud"
    with pytest.raises(ValueError):
        worker.set_rate(MAX_RATE_WPM + 100)


def test_worker_interrupt_drops_the_queue_headless(tmp_path: Path) -> None:
    events = _Events()
    sink = WavTimelineSink(tmp_path / "realtime.wav", realtime=True)
    worker = SpeechWorker(Pyttsx3Synthesizer(voice="en-us"), sink, on_event=events)
    worker.start()
    for number in (1, 2, 3):
        worker.say(LONG, utterance_id=number)
    started = events.wait_for("started")
    time.sleep(0.5)
    worker.interrupt()
    events.wait_for("interrupted", count=3)
    worker.say(SHORT, utterance_id=4)
    events.wait_for("finished")
    worker.close()
    assert events.kinds() == [
        ("started", 1),
        ("interrupted", 1),
        ("interrupted", 2),
        ("interrupted", 3),
        ("started", 4),
        ("finished", 4),
    ]
    assert events.items[1].at - started.at == pytest.approx(0.5, abs=0.1)


# --- the WAV timeline ------------------------------------------------------------------


def test_wav_timeline_places_and_truncates_utterances(
    synthesizer: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    clock_value = [100.0]
    path = tmp_path / "timeline.wav"
    sink = WavTimelineSink(path, clock=lambda: clock_value[0], realtime=False)
    first = synthesizer.synthesize(SHORT)
    second = synthesizer.synthesize(LONG)
    reported: list[tuple[str, float, bool]] = []

    clock_value[0] = 100.5
    sink.play(first, on_end=lambda at, done: reported.append(("first", at, done)))
    clock_value[0] = 104.0
    sink.play(second, on_start=lambda at: reported.append(("second-start", at, True)))
    clock_value[0] = 105.2
    sink.stop()
    sink.close()

    assert reported[0] == ("first", pytest.approx(100.5 + first.duration), True)
    assert reported[1] == ("second-start", pytest.approx(104.0), True)
    audio = read_wav(path)
    assert audio.duration == pytest.approx(5.2, abs=0.01), "ends where the second was cut"
    rate = audio.sample_rate
    assert rms(audio.samples[: int(0.5 * rate)]) == 0.0, "silence before the first utterance"
    first_span = sound_span(Audio(audio.samples[: int(4.0 * rate)], rate), SOUND_THRESHOLD)
    assert first_span is not None
    assert first_span[0] == pytest.approx(0.5, abs=0.03)
    assert rms(audio.samples[int((0.5 + first.duration) * rate) : int(4.0 * rate)]) == 0.0
    second_span = sound_span(Audio(audio.samples[int(4.0 * rate) :], rate), SOUND_THRESHOLD)
    assert second_span is not None
    assert second_span[0] == pytest.approx(0.0, abs=0.03)
    assert second_span[1] == pytest.approx(1.2, abs=0.03)


def test_wav_timeline_in_real_time_reports_the_end_when_it_comes(
    synthesizer: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    audio = synthesizer.synthesize(SHORT)
    ended = threading.Event()
    ends: list[tuple[float, bool]] = []

    def on_end(at: float, completed: bool) -> None:
        ends.append((at, completed))
        ended.set()

    sink = WavTimelineSink(tmp_path / "rt.wav")
    began = time.monotonic()
    sink.play(audio, on_end=on_end)
    assert sink.is_playing
    assert ended.wait(audio.duration + 1.0)
    assert time.monotonic() - began >= audio.duration - 0.01
    assert ends[0][1] is True
    sink.close()


# --- voice profiles --------------------------------------------------------------------


def test_builtin_profiles_load_and_work_with_the_engine() -> None:
    profiles = load_profiles()
    assert profiles.get().name == profiles.default
    assert len(profiles.profiles) >= 2
    for profile in profiles.profiles:
        synthesizer = Pyttsx3Synthesizer(profile.engine_voice, profile.rate_wpm, profile.volume)
        assert rms(synthesizer.synthesize("Next.").samples) > 0.01
    with pytest.raises(KeyError, match="choose one of"):
        profiles.get("nonexistent")


def test_broken_profile_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "default: calm\n"
        "profiles:\n"
        "  - name: calm\n"
        "    language: en\n"
        "    rate_wpm: 1000\n"
        "    volume: 0.5\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_profiles(path)
    assert f"{path}:5: profiles[0].rate_wpm:" in str(caught.value)

    path.write_text(
        "default: calm\nprofiles:\n  - name: calm\n    language: en\n"
        "    rate_wpm: 150\n    volume: 0.5\n    pitch: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_profiles(path)
    assert f"{path}:7: profiles[0].pitch: unknown key" in str(caught.value)

    path.write_text(
        "profiles:\n  - {name: calm, language: en, rate_wpm: 150, volume: 0.5}\n"
        "  - {name: calm, language: en, rate_wpm: 170, volume: 0.5}\n"
        "default: loud\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_profiles(path)
    message = str(caught.value)
    assert f"{path}:2: profiles: profile names must be unique; repeated: calm" in message

    path.write_text(
        "profiles:\n  - {name: calm, language: en, rate_wpm: 150, volume: 0.5}\ndefault: loud\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_profiles(path)
    assert f"{path}:3: default: default profile 'loud' is not one of the profiles: calm" in str(
        caught.value
    )


def test_profile_steps_are_bounded() -> None:
    calm = load_profiles().get("calm")
    assert louder(calm).volume == pytest.approx(min(1.0, calm.volume + 0.1))
    assert quieter(calm).volume == pytest.approx(calm.volume - 0.1)
    assert faster(calm).rate_wpm == calm.rate_wpm + 20
    assert slower(calm).rate_wpm == calm.rate_wpm - 20
    loudest = calm
    quietest = calm
    fastest = calm
    slowest = calm
    for _ in range(50):
        loudest, quietest = louder(loudest), quieter(quietest)
        fastest, slowest = faster(fastest), slower(slowest)
    assert loudest.volume == 1.0
    assert quietest.volume > 0.0, "never so quiet that the therapist cannot hear to undo it"
    assert (slowest.rate_wpm, fastest.rate_wpm) == (MIN_RATE_WPM, MAX_RATE_WPM)


# --- spoken guidance --------------------------------------------------------------------


def test_spoken_guidance_reports_when_a_spoken_announcement_ends(tmp_path: Path) -> None:
    import io

    from assistant.runner import Notice
    from assistant.session import AnnouncementDone
    from assistant.speech.profiles import load_profiles
    from assistant.spoken import SpokenGuidance

    posted: list[object] = []
    heard: list[SpeechEvent] = []
    sink = WavTimelineSink(tmp_path / "guidance.wav", realtime=True)
    worker = SpeechWorker(Pyttsx3Synthesizer(voice="en-us"), sink)
    guidance = SpokenGuidance(
        worker, load_profiles().get(), posted.append, time.monotonic, io.StringIO()
    )
    guidance.listeners.append(heard.append)
    guidance.say(SHORT, announces_step=False)
    guidance.say(SHORT, announces_step=True)
    guidance.close()
    # Counting aloud waits for this: it comes once, when the announcement has been heard out.
    done = [event for event in posted if isinstance(event, AnnouncementDone)]
    assert len(done) == 1 and not [event for event in posted if isinstance(event, Notice)]
    assert [event.kind for event in heard] == ["started", "finished", "started", "finished"]
    assert done[0].at >= heard[-1].at


def test_an_unwritable_speak_to_file_is_refused_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OutputUnavailable, match="cannot write"):
        WavTimelineSink(blocker / "session.wav")
