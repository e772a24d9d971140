"""Speech output latency: step change to first audio, synthesis speed, stop to silence.

Runs the real synthesizer and player against a private PulseAudio server (its null sink is the
speaker, recorded to check the stop time independently) and prints one JSON object.
Usage: python benchmarks/bench_tts.py [--runs 30]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.speech.audio import frame_rms, read_wav
from assistant.speech.playback import SoundDevicePlayer
from assistant.speech.private_pulse import PrivatePulseAudio
from assistant.speech.synthesis import Pyttsx3Synthesizer
from assistant.speech.worker import SpeechEvent, SpeechWorker

ANNOUNCEMENT = (
    "Stage one, upper back. Stroking, from the lower edge of the shoulder blades to the neck, "
    "six to seven times on each side."
)
VOICE = "en-us"
RATE_WPM = 175
SOUND_THRESHOLD = 0.005
# Silence between runs; longer than any pause inside the first second of the announcement.
GAP_BETWEEN_RUNS = 0.6
SPLIT_AT_SILENCE = 0.3


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p95": round(p95 * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
    }


def _wait(events: queue.Queue[SpeechEvent], kind: str, timeout: float = 10.0) -> SpeechEvent:
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        if event.kind == kind:
            return event
        if event.kind == "failed":
            raise RuntimeError(f"speech failed: {event.reason}")


def _sound_segments(path: Path) -> list[float]:
    """Durations of the sounding stretches in a recording, split at long silences."""
    audio = read_wav(path)
    frame = 0.01
    loud = frame_rms(audio, frame) > SOUND_THRESHOLD
    durations = []
    start: int | None = None
    quiet = 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            if start is None:
                start = index
            quiet = 0
            last_loud = index
        elif start is not None:
            quiet += 1
            if quiet * frame >= SPLIT_AT_SILENCE:
                durations.append((last_loud + 1 - start) * frame)
                start = None
    if start is not None:
        durations.append((last_loud + 1 - start) * frame)
    return durations


def measure_synthesis(runs: int) -> tuple[list[float], float]:
    synthesizer = Pyttsx3Synthesizer(voice=VOICE, rate_wpm=RATE_WPM)
    synthesizer.synthesize(ANNOUNCEMENT)  # loads the voice
    seconds = []
    audio_seconds = 0.0
    for _ in range(runs):
        began = time.perf_counter()
        audio = synthesizer.synthesize(ANNOUNCEMENT)
        seconds.append(time.perf_counter() - began)
        audio_seconds = audio.duration
    synthesizer.close()
    return seconds, audio_seconds


def measure_playback(server: PrivatePulseAudio, runs: int, workdir: Path) -> dict[str, object]:
    events: queue.Queue[SpeechEvent] = queue.Queue()
    player = SoundDevicePlayer()
    latency = player.output_latency
    worker = SpeechWorker(Pyttsx3Synthesizer(voice=VOICE, rate_wpm=RATE_WPM), player, events.put)
    worker.start()
    first_audio: list[float] = []
    stop_confirmed: list[float] = []
    played_until_stop: list[float] = []
    recording = workdir / "speaker.wav"
    try:
        # One warm-up run, not counted: the first announcement loads the voice.
        worker.say(ANNOUNCEMENT)
        _wait(events, "started")
        worker.interrupt()
        _wait(events, "interrupted")
        time.sleep(GAP_BETWEEN_RUNS)
        with server.record_speaker(recording):
            for _ in range(runs):
                step_change = time.monotonic()
                worker.say(ANNOUNCEMENT)
                started = _wait(events, "started")
                first_audio.append(started.at - step_change)
                # Stop at varying points so the stop lands anywhere within an audio block.
                time.sleep(random.uniform(0.4, 0.9))
                stop_requested = time.monotonic()
                worker.interrupt()
                interrupted = _wait(events, "interrupted")
                # The event time includes the device latency; the callback came that much earlier.
                stop_confirmed.append(interrupted.at - latency - stop_requested)
                played_until_stop.append(stop_requested - started.at)
                time.sleep(GAP_BETWEEN_RUNS)
    finally:
        worker.close()
    segments = _sound_segments(recording)
    result: dict[str, object] = {
        "first_audio_ms": _ms(first_audio),
        "stop_to_silence_ms": _ms(stop_confirmed),
        "output_latency_ms": round(latency * 1000, 1),
    }
    if len(segments) == len(played_until_stop):
        # Sound in the recording lasts from the first block to the first silent block; the
        # device latency cancels, leaving how long sound went on after interrupt(). Slightly
        # negative values come from the near-silent first milliseconds of each utterance.
        late = [heard - played for heard, played in zip(segments, played_until_stop, strict=True)]
        result["stop_to_silence_recorded_ms"] = _ms(late)
    else:
        result["stop_to_silence_recorded_ms"] = None
        result["recording_note"] = (
            f"found {len(segments)} sound segments for {len(played_until_stop)} runs"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    synth_seconds, audio_seconds = measure_synthesis(args.runs)
    with PrivatePulseAudio() as server, tempfile.TemporaryDirectory() as scratch:
        playback = measure_playback(server, args.runs, Path(scratch))
    result = {
        "benchmark": "tts",
        "runs": args.runs,
        "announcement_words": len(ANNOUNCEMENT.split()),
        "announcement_audio_s": round(audio_seconds, 2),
        **playback,
        "synthesis_ms": _ms(synth_seconds),
        "synthesis_rtf": round(float(np.median(synth_seconds)) / audio_seconds, 4),
        "targets": {"first_audio_p95_ms": 100, "stop_to_silence_p95_ms": 50},
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
