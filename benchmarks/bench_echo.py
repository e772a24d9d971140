"""Measure command recognition over the assistant's own voice, with and without echo cancellation.

    python benchmarks/bench_echo.py [--speakers hibari,espeak-us] [--levels 0,6] [--jobs 2]
                                    [--rooms 3] [--other-commands] [--jitter-ms 3]

The assistant's announcements (espeak-us, as the product speaks them) sound through a small
simulated room: convolved with a decaying room response, delayed 20-80 ms behind the moment the
speech worker reports, with the microphone's faint noise. Commands from the corpus are said
over them at echo-to-command levels (dB of the echo above the command); with --jitter-ms each
sentence sounds up to that much earlier or later than the room's delay, as a device's
buffering varies from one sentence to the next (1 to 5 ms on this machine's virtual devices,
under load). Each room is one stream, as in a session: the canceller keeps what it learned from
one announcement to the next, and the listener is told each announcement's text and time as the
runner tells it.

Prints one JSON object: pain recognised over the echo, other commands, the assistant's own
announcements obeyed (false accepts), echo return loss enhancement and the canceller's cost,
each with the canceller on and off.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.intents import Intent
from assistant.listening import Listener, ListenerSettings
from assistant.listening.echo import EchoCanceller, EchoSettings
from assistant.listening.engines import SAMPLE_RATE
from assistant.phrasing import Phraser, load_phrasebook
from assistant.vocabulary import load_vocabulary
from benchmarks import corpus
from benchmarks.overrides import with_overrides

ASSISTANT_VOICE = "espeak-us"
CHUNK = 320  # 20 ms, as the microphone delivers it
GAP_S = 1.5  # room noise between announcements
NOISE_DBFS = -65.0
ECHO_DBFS = -22.0  # the echo's level (RMS over its speech) at the microphone


@dataclass(frozen=True)
class Room:
    name: str
    delay_s: float  # the loudspeaker sounds this long after the reported start
    rt60_s: float
    seed: int


ROOMS: tuple[Room, ...] = (
    Room("small, 20 ms", 0.02, 0.2, 1),
    Room("treatment room, 50 ms", 0.05, 0.3, 2),
    Room("bare room, 80 ms", 0.08, 0.45, 3),
)


@dataclass(frozen=True)
class Trial:
    """One announcement, with a command said over it (or nothing)."""

    announcement: str
    command: str | None
    intent: Intent | None
    speaker: str | None
    level_db: float | None  # echo above command, dB
    offset_s: float  # where the command starts, from the start of the echo


def room_response(room: Room, length_s: float = 0.3) -> np.ndarray:
    """Direct sound, a few early reflections and an exponentially decaying diffuse tail."""
    rng = np.random.default_rng(room.seed)
    n = round(length_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    response = rng.standard_normal(n) * np.exp(-6.9 * t / room.rt60_s) * 0.25
    response[:40] *= np.linspace(0, 1, 40)  # the tail builds up after the direct sound
    response[0] = 1.0
    for _ in range(4):
        response[int(rng.integers(40, 400))] += float(rng.uniform(-0.6, 0.6))
    return response


def announcements() -> tuple[str, ...]:
    """What the assistant says: the session's announcements and its help sentences."""
    phraser = Phraser(load_phrasebook())
    helps = tuple(phraser.phrase(key) for key in ("help_running", "help_paused", "help_pain"))
    return corpus.assistant_announcements() + helps


def _speaker(name: str) -> corpus.Speaker:
    return next(s for s in corpus.SPEAKERS if s.name == name)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _trials(speakers: list[str], levels: list[float], other_commands: bool) -> list[Trial]:
    """Pain phrases (all of them) and one phrase per other command, at each level, plus the
    announcements alone."""
    vocabulary = load_vocabulary()
    voice = _speaker(ASSISTANT_VOICE)
    said = {text: corpus.synthesize(text, voice) for text in announcements()}
    # Commands go over the longer announcements, so that they lie inside the echo.
    long_ones = [t for t, s in said.items() if len(s) / SAMPLE_RATE >= 3.0]
    commands: list[tuple[str, Intent]] = [
        (p, Intent.PAIN) for p in vocabulary.commands[Intent.PAIN]
    ]
    if other_commands:
        commands += [
            (phrases[0], intent)
            for intent, phrases in vocabulary.commands.items()
            if intent is not Intent.PAIN
        ]
    rng = np.random.default_rng(7)
    trials = [Trial(text, None, None, None, None, 0.0) for text in said]
    for speaker in speakers:
        for phrase, intent in commands:
            for level in levels:
                announcement = long_ones[int(rng.integers(len(long_ones)))]
                room_for = len(said[announcement]) / SAMPLE_RATE - 1.8
                offset = float(rng.uniform(0.5, max(0.6, room_for)))
                trials.append(Trial(announcement, phrase, intent, speaker, level, offset))
    return trials


def _stream(
    room: Room, trials: list[Trial], jitter_s: float = 0.0
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The microphone signal of a session in the room, the echo alone, and where each trial lies.

    jitter_s: each sentence sounds up to this much earlier or later than the room's delay, as
    a device's buffering varies from one sentence to the next.
    """
    voice = _speaker(ASSISTANT_VOICE)
    response = room_response(room)
    rng = np.random.default_rng(room.seed + 100)
    jitter = np.random.default_rng(room.seed + 200)
    pieces: list[np.ndarray] = []
    echoes: list[np.ndarray] = []
    layout: list[dict[str, Any]] = []
    at = 0
    noise = 10 ** (NOISE_DBFS / 20)
    for trial in trials:
        played = corpus.synthesize(trial.announcement, voice)
        echo = np.convolve(played, response)
        echo *= 10 ** (ECHO_DBFS / 20) / _rms(echo)
        delay = round((room.delay_s + jitter.uniform(-jitter_s, jitter_s)) * SAMPLE_RATE)
        gap = round(GAP_S * SAMPLE_RATE)
        length = gap + delay + len(echo) + gap
        echo_part = np.zeros(length)
        echo_part[gap + delay : gap + delay + len(echo)] = echo
        near = np.zeros(length)
        command_span = None
        if trial.command is not None and trial.speaker is not None and trial.level_db is not None:
            spoken = corpus.synthesize(trial.command, _speaker(trial.speaker))
            spoken *= 10 ** ((ECHO_DBFS - trial.level_db) / 20) / _rms(spoken)
            first = gap + delay + round(trial.offset_s * SAMPLE_RATE)
            near[first : first + len(spoken)] = spoken
            command_span = ((at + first) / SAMPLE_RATE, (at + first + len(spoken)) / SAMPLE_RATE)
        pieces.append(echo_part + near + rng.standard_normal(length) * noise)
        echoes.append(echo_part)
        layout.append(
            {
                "trial": trial,
                "from": at / SAMPLE_RATE,
                "to": (at + length) / SAMPLE_RATE,
                # As the speech worker reports it: when the device starts, before the room.
                "speaking": ((at + gap) / SAMPLE_RATE, (at + gap + len(played)) / SAMPLE_RATE),
                "played": played,
                "echo": (
                    (at + gap + delay) / SAMPLE_RATE,
                    (at + gap + delay + len(echo)) / SAMPLE_RATE,
                ),
                "command": command_span,
            }
        )
        at += length
    mic = np.concatenate(pieces)
    mic16 = np.clip(np.round(mic * 32767), -32768, 32767).astype(np.int16)
    return mic16, np.concatenate(echoes), layout


def _run_room(
    args: tuple[Room, list[Trial], bool, list[str], list[str], float],
) -> dict[str, Any]:
    """Stream one room's session through a listener, with or without a canceller."""
    room, trials, cancel, overrides, listener_overrides, jitter_s = args
    mic, _echo, layout = _stream(room, trials, jitter_s)
    listener = Listener(settings=with_overrides(ListenerSettings(), listener_overrides))
    canceller = EchoCanceller(with_overrides(EchoSettings(), overrides)) if cancel else None
    # Told as the speech worker tells the voice input: when each announcement starts to play.
    untold = list(layout)
    cleaned: list[np.ndarray] = []
    decisions = []
    cancel_cpu = 0.0
    total_cpu = 0.0
    for i in range(0, len(mic), CHUNK):
        chunk = mic[i : i + CHUNK]
        while untold and untold[0]["speaking"][0] <= (i + CHUNK) / SAMPLE_RATE:
            item = untold.pop(0)
            start, end = item["speaking"]
            listener.assistant_speaking(item["trial"].announcement, start, end)
            if canceller is not None:
                canceller.add_reference(item["played"], start)
        t0 = time.process_time()
        if canceller is not None:
            chunk = canceller.process(chunk)
            if canceller.settling:  # as the voice input tells it
                listener.echo_unsettled(len(chunk) / SAMPLE_RATE)
            listener.echo_residue(len(chunk) / SAMPLE_RATE, canceller.residue)
        t1 = time.process_time()
        decisions += listener.feed(chunk)
        total_cpu += time.process_time() - t0
        cancel_cpu += t1 - t0
        cleaned.append(chunk)
    decisions += listener.flush()
    out = np.concatenate(cleaned).astype(np.float64)
    raw = mic.astype(np.float64)
    results = []
    for item in layout:
        trial: Trial = item["trial"]
        accepted = [d for d in decisions if d.accepted and item["from"] <= d.start < item["to"]]
        result: dict[str, Any] = {
            "announcement": trial.announcement,
            "command": trial.command,
            "intent": trial.intent.value if trial.intent else None,
            "speaker": trial.speaker,
            "level_db": trial.level_db,
            "accepted": [(d.command.value, d.text) for d in accepted if d.command],
            "rejected": [
                f"{d.text}: {d.reason}"
                for d in decisions
                if not d.accepted and d.text and item["from"] <= d.start < item["to"]
            ],
        }
        if trial.command is None:
            first, last = (round(t * SAMPLE_RATE) for t in item["echo"])
            settle = first + SAMPLE_RATE
            result["erle_db"] = _erle(raw[first:last], out[first:last])
            result["erle_after_1s_db"] = _erle(raw[settle:last], out[settle:last])
            onset = first + SAMPLE_RATE // 2
            result["erle_first_half_s_db"] = _erle(raw[first:onset], out[first:onset])
        results.append(result)
    return {
        "room": room.name,
        "cancel": cancel,
        "results": results,
        "audio_s": len(mic) / SAMPLE_RATE,
        "canceller_cpu_s": cancel_cpu,
        "listener_cpu_s": total_cpu - cancel_cpu,
        "delays_found_ms": [round(d * 1000) for d in canceller.delay_estimates]
        if canceller
        else [],
    }


def _erle(before: np.ndarray, after: np.ndarray) -> float | None:
    if not len(after) or float(after @ after) == 0:
        return None
    return round(10 * float(np.log10((before @ before) / (after @ after))), 1)


def _summarise(runs: list[dict[str, Any]], levels: list[float]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for cancel in (True, False):
        label = "canceller_on" if cancel else "canceller_off"
        mine = [r for r in runs if r["cancel"] == cancel]
        results = [x for r in mine for x in r["results"]]
        part: dict[str, Any] = {}
        for level in levels:
            pain = [x for x in results if x["intent"] == "pain" and x["level_db"] == level]
            other = [
                x for x in results if x["intent"] not in (None, "pain") and x["level_db"] == level
            ]
            hit = sum(any(a[0] == "pain" for a in x["accepted"]) for x in pain)
            part[f"pain_at_{level:+g}_db"] = f"{hit}/{len(pain)}"
            if other:
                right = sum([a[0] for a in x["accepted"]] == [x["intent"]] for x in other)
                part[f"other_commands_at_{level:+g}_db"] = f"{right}/{len(other)}"
            wrong = sum(any(a[0] != x["intent"] for a in x["accepted"]) for x in pain + other)
            part[f"wrong_commands_at_{level:+g}_db"] = f"{wrong}/{len(pain) + len(other)}"
        alone = [x for x in results if x["command"] is None]
        part["own_voice_false_accepts"] = f"{sum(bool(x['accepted']) for x in alone)}/{len(alone)}"
        part["own_voice_obeyed"] = sorted({a[1] for x in alone for a in x["accepted"]})
        erle = [x["erle_db"] for x in alone if x.get("erle_db") is not None]
        settled = [x["erle_after_1s_db"] for x in alone if x.get("erle_after_1s_db") is not None]
        if erle:
            part["erle_db_mean"] = round(float(np.mean(erle)), 1)
            part["erle_db_min"] = round(float(np.min(erle)), 1)
            part["erle_after_1s_db_mean"] = round(float(np.mean(settled)), 1)
            onsets = [
                x["erle_first_half_s_db"] for x in alone if x["erle_first_half_s_db"] is not None
            ]
            part["erle_first_half_s_db_mean"] = round(float(np.mean(onsets)), 1)
        audio = sum(r["audio_s"] for r in mine)
        part["listener_rtf"] = round(sum(r["listener_cpu_s"] for r in mine) / audio, 4)
        if cancel:
            part["canceller_rtf"] = round(sum(r["canceller_cpu_s"] for r in mine) / audio, 4)
            part["delays_found_ms"] = {
                r["room"]: dict(Counter(r["delays_found_ms"]).most_common()) for r in mine
            }
        summary[label] = part
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", default=",".join(s.name for s in corpus.SPEAKERS))
    parser.add_argument("--levels", default="0,6", help="echo above the command, dB")
    parser.add_argument("--rooms", type=int, default=len(ROOMS))
    parser.add_argument("--other-commands", action="store_true", help="not only pain")
    parser.add_argument("--set", action="append", default=[], help="EchoSettings field=value")
    parser.add_argument(
        "--listener-set", action="append", default=[], help="ListenerSettings field=value"
    )
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="each sentence's delay varies this much, ±"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--outcomes", type=Path, help="also write every trial's outcome here")
    args = parser.parse_args(argv)
    levels = [float(x) for x in args.levels.split(",")]
    speakers = args.speakers.split(",")
    trials = _trials(speakers, levels, args.other_commands)  # synthesises once, here
    rooms = ROOMS[: args.rooms]
    jobs = [
        (room, trials, cancel, args.set, args.listener_set, args.jitter_ms / 1000)
        for room in rooms
        for cancel in (True, False)
    ]
    with multiprocessing.get_context("spawn").Pool(max(1, min(args.jobs, len(jobs)))) as pool:
        runs = pool.map(_run_room, jobs)
    summary = _summarise(runs, levels)
    summary["trials_per_room"] = len(trials)
    summary["rooms"] = [f"{r.name} (RT60 {r.rt60_s} s)" for r in rooms]
    summary["echo_dbfs"] = ECHO_DBFS
    summary["settings"] = args.set
    summary["listener_settings"] = args.listener_set
    summary["delay_jitter_ms"] = args.jitter_ms
    summary["cores"] = os.cpu_count()
    summary["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if args.outcomes:
        args.outcomes.write_text(json.dumps(runs, default=str))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
