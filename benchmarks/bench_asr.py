"""Measure command recognition: accuracy per condition, false accepts, latency, cost.

    python benchmarks/bench_asr.py [--conditions clean,music_10db] [--speakers hibari,espeak-us]
                                   [--set min_confidence=0.4] [--jobs 2] [--vosk-model PATH]

Prints one JSON object. The corpus comes from benchmarks/corpus.py and is cached outside the repo.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.intents import Intent, Listening
from assistant.listening import Listener, ListenerSettings
from assistant.listening.engines import SAMPLE_RATE
from assistant.vocabulary import CommandVocabulary, load_vocabulary, normalize
from benchmarks import corpus
from benchmarks.overrides import with_overrides

DISTRACTOR_CONDITIONS = ("clean", "pink_10db", "music_10db")
DISTRACTOR_SPEAKERS = ("hibari", "hibari-low", "espeak-us")
# Each set of distractors with the kind it is scored as, in the order they stream.
DISTRACTOR_SETS: tuple[tuple[tuple[str, ...], str], ...] = (
    (corpus.THERAPIST_SENTENCES, "distractor"),
    (corpus.PATIENT_REPLIES, "reply"),
    (corpus.ASIDES, "aside"),
    (corpus.LATER_ASIDES, "later aside"),
    (corpus.UNSEEN_ASIDES, "unseen aside"),
    (corpus.NEW_ASIDES, "new aside"),
    (corpus.HELD_OUT_ASIDES, "held-out aside"),
    (corpus.LAST_HELD_OUT_ASIDES, "last held-out aside"),
    (corpus.THIRD_HELD_OUT_ASIDES, "third held-out aside"),
    (corpus.FOURTH_HELD_OUT_ASIDES, "fourth held-out aside"),
    (corpus.FIFTH_HELD_OUT_ASIDES, "fifth held-out aside"),
    (corpus.SIXTH_HELD_OUT_ASIDES, "sixth held-out aside"),
)


def _heard_in_their_moments(
    vocabulary: CommandVocabulary,
) -> tuple[tuple[str, Listening, dict[Intent, tuple[str, ...]]], ...]:
    """What is listened for only at a moment of the session, each with the kind it is scored as
    and what the listener listens for then: answers while a question waits, pain scores and
    "false alarm" after pain."""
    return (
        ("answer", Listening.ANSWERS, vocabulary.answers),
        ("pain level", Listening.PAIN_LEVEL, {Intent.PAIN_LEVEL: vocabulary.pain_levels}),
        ("false alarm", Listening.PAIN_LEVEL, {Intent.FALSE_ALARM: vocabulary.false_alarm}),
    )


def _run_clips(args: tuple[str, list[str], list[str], list[str], str | None]) -> dict[str, Any]:
    """Stream one condition's clips through one listener; returns raw per-clip outcomes."""
    condition, speakers, overrides, kinds, vosk_model = args
    chosen = [s for s in corpus.SPEAKERS if s.name in speakers]
    clips: list[corpus.Clip] = []
    if "command" in kinds:
        clips += corpus.command_clips(chosen, [condition])
    if "distractor" in kinds and condition in DISTRACTOR_CONDITIONS:
        talkers = [s for s in corpus.SPEAKERS if s.name in DISTRACTOR_SPEAKERS]
        for sentences, kind in DISTRACTOR_SETS:
            clips += corpus.sentence_clips(sentences, kind, talkers, [condition])
        clips += corpus.human_clips([condition])
    listener = Listener(
        settings=with_overrides(ListenerSettings(), overrides), vosk_model=vosk_model
    )
    vocabulary = listener.vocabulary
    listed = {*vocabulary.answer_table(), *vocabulary.other_speech_phrases()}
    # Answers and pain scores are heard only in their moments: each kind streams through a
    # listener of its own, listening for it as the session would.
    streams: list[tuple[Listener, str | None, list[corpus.Clip]]] = [(listener, None, clips)]
    for kind, listening, phrases in _heard_in_their_moments(vocabulary):
        if kind in kinds:
            own = Listener(vocabulary, engine=listener.engine, settings=listener.settings)
            own.listen_for(listening)
            streams.append((own, kind, list(corpus.command_clips(chosen, [condition], phrases))))
    outcomes = []
    cpu = 0.0
    audio_s = 0.0
    step = int(0.02 * SAMPLE_RATE)
    for stream, stream_kind, stream_clips in streams:
        for clip in stream_clips:
            outcome, used = _stream_clip(stream, clip, step)
            outcome["kind"] = stream_kind or _kind(clip, listed)
            outcome["text"] = clip.text
            outcomes.append(outcome)
            cpu += used
            audio_s += len(clip.audio) / SAMPLE_RATE
    if "pain after speech" in kinds:
        # Pain a moment after other words, in the same stream: it must not be lost among them.
        for clip in corpus.pain_after_speech_clips(chosen, [condition]):
            outcome, _ = _stream_clip(listener, clip, step)
            lead_in = clip.name.split("/", 2)[2].removesuffix(" " + clip.text)
            outcome.update(kind="pain after speech", text=clip.text, lead_in=lead_in)
            outcomes.append(outcome)
    if "first command" in kinds:
        # Pain as the first thing a new listener hears: nothing before it has tuned the engine.
        pain = {Intent.PAIN: vocabulary.commands[Intent.PAIN]}
        for clip in corpus.command_clips(chosen, [condition], pain):
            fresh = Listener(vocabulary, settings=listener.settings, vosk_model=vosk_model)
            outcome, _ = _stream_clip(fresh, clip, step)
            outcome.update(kind="first command", text=clip.text)
            outcomes.append(outcome)
    return {
        "condition": condition,
        "outcomes": outcomes,
        "cpu_s": cpu,
        "audio_s": audio_s,
        "engine": listener.choice.name,
        "engine_reason": listener.choice.reason,
    }


def _stream_clip(listener: Listener, clip: corpus.Clip, step: int) -> tuple[dict[str, Any], float]:
    """Feed one clip 20 ms at a time; its outcome, and the CPU seconds the listener took."""
    offset = listener.stream_time
    accepted: list[str] = []
    heard: list[str] = []
    confidences: list[float] = []
    rejected: list[str] = []
    latencies: list[float] = []
    cpu = 0.0
    # As from a microphone, each chunk arrives when its last sample has been said. Where the
    # listener took longer than that over the chunks before, it comes to this one late, and a
    # decision in it is as late (a command held for quiet after it is decided while the quiet
    # comes in, and its decoding counts only where it outlasts the quiet).
    ready_at = 0.0
    for i in range(0, len(clip.audio), step):
        arrives = min(i + step, len(clip.audio)) / SAMPLE_RATE
        behind = max(0.0, ready_at - arrives)
        t0 = time.process_time()
        w0 = time.perf_counter()
        decisions = listener.feed(clip.audio[i : i + step])
        wall = time.perf_counter() - w0
        cpu += time.process_time() - t0
        ready_at = arrives + behind + wall
        for d in decisions:
            if d.accepted:
                accepted.append(d.command.value)  # type: ignore[union-attr]
                heard.append(d.text)
                confidences.append(round(d.confidence, 3))
                late = d.emitted_at - (offset + clip.speech_end) + behind + wall
                latencies.append(late * 1000)
            else:
                rejected.append(f"{d.text}:{d.reason}")
    outcome = {
        "name": clip.name,
        "intent": clip.intent.value if clip.intent else None,
        "accepted": accepted,
        "heard": heard,
        "confidences": confidences,
        "rejected": rejected,
        "latency_ms": latencies,
    }
    return outcome, cpu


def _kind(clip: corpus.Clip, listed: set[str]) -> str:
    """A reply or aside is scored apart by whether the vocabulary lists it as other speech."""
    if clip.kind not in ("reply", "aside", "later aside"):
        return clip.kind
    return f"{clip.kind} ({'listed' if normalize(clip.text) in listed else 'not listed'})"


_IDLE_PROBE = """
import json, resource, sys, time
import numpy as np
from assistant.listening import Listener
listener = Listener(vosk_model=sys.argv[1] or None)
rng = np.random.default_rng(0)
seconds = 20
chunk = 320
quiet = (rng.standard_normal(seconds * 16000) * 30).astype(np.int16)
t0 = time.process_time()
for i in range(0, len(quiet), chunk):
    listener.feed(quiet[i:i + chunk])
cpu = time.process_time() - t0
print(json.dumps({"cpu_share_silence": cpu / seconds,
                  "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _idle_probe(vosk_model: str | None) -> dict[str, float]:
    """CPU share and peak memory of a bare listener, in a fresh process so the corpus tools don't count."""
    out = subprocess.run(
        [sys.executable, "-c", _IDLE_PROBE, vosk_model or ""],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _percentiles(values: list[float]) -> dict[str, float | None]:
    return {
        f"p{q}": round(float(np.percentile(values, q)), 1) if values else None for q in (50, 95)
    }


def _summarise(results: list[dict[str, Any]], show_errors: bool) -> dict[str, Any]:
    per_condition: dict[str, Any] = {}
    latencies: list[float] = []
    pain_latencies: list[float] = []
    distractors = 0
    false_accepts = 0
    false_by_condition: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_by_command: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    # Answers and pain scores: [right, wrong (another answer or score taken), utterances].
    spoken_values: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0, 0])
    )
    first_pain: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pain_after_speech: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pain_after_lead_in: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    # Pain scored on its own, not in the accuracy: [heard, said] per condition, by kind.
    pain_alone = {
        "first command": ("FIRST", first_pain),
        "pain after speech": ("AFTER", pain_after_speech),
    }
    for result in results:
        condition = result["condition"]
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in result["outcomes"]:
            if o["kind"] in pain_alone:
                label, tally = pain_alone[o["kind"]]
                counts = tally[condition]
                counts[0] += o["accepted"] == [o["intent"]]
                counts[1] += 1
                if "lead_in" in o:
                    pain_after_lead_in[o["lead_in"]][0] += o["accepted"] == [o["intent"]]
                    pain_after_lead_in[o["lead_in"]][1] += 1
                if show_errors and o["accepted"] != [o["intent"]]:
                    errors.append(f"{label} {o['name']}: {o['accepted']} {o['rejected']}")
                continue
            if o["kind"] in ("answer", "pain level", "false alarm"):
                # A pain score is right only with its number: the phrase heard must be the one said.
                right = o["accepted"] == [o["intent"]] and (
                    o["kind"] == "answer" or o["heard"] == [normalize(o["text"])]
                )
                counts = spoken_values[o["kind"]][condition]
                counts[0] += right
                counts[1] += bool(o["accepted"]) and not right
                counts[2] += 1
                if show_errors and not right:
                    errors.append(f"{o['kind'].upper()} {o['name']}: {o['heard']} {o['rejected']}")
                continue
            if o["kind"] == "command":
                ok = o["accepted"] == [o["intent"]]
                hits[o["intent"]][0] += ok
                hits[o["intent"]][1] += 1
                if ok:
                    latencies += o["latency_ms"]
                    if o["intent"] == Intent.PAIN.value:
                        pain_latencies += o["latency_ms"]
                elif show_errors:
                    errors.append(f"MISS {o['name']}: {o['accepted']} {o['rejected']}")
            else:
                distractors += 1
                false_by_condition[condition][1] += 1
                false_by_kind[o["kind"]][1] += 1
                if o["accepted"]:
                    false_accepts += 1
                    false_by_condition[condition][0] += 1
                    false_by_kind[o["kind"]][0] += 1
                    for command in o["accepted"]:
                        false_by_command[command] += 1
                    if show_errors:
                        errors.append(f"FA {o['name']}: {o['accepted']}")
        if hits:
            total = [sum(v[0] for v in hits.values()), sum(v[1] for v in hits.values())]
            per_condition[condition] = {
                "overall": round(total[0] / total[1], 4),
                "utterances": total[1],
                "per_intent": {
                    intent.value: round(hits[intent.value][0] / hits[intent.value][1], 3)
                    for intent in Intent
                    if hits[intent.value][1]
                },
            }
    cpu = sum(r["cpu_s"] for r in results)
    audio = sum(r["audio_s"] for r in results)
    summary: dict[str, Any] = {
        "engine": results[0]["engine"],
        "engine_reason": results[0]["engine_reason"],
        "accuracy": per_condition,
        "false_accepts_per_100_distractors": round(100 * false_accepts / distractors, 2)
        if distractors
        else None,
        "distractor_utterances": distractors,
        "false_accepts_by_condition": {
            c: f"{v[0]}/{v[1]}" for c, v in sorted(false_by_condition.items())
        },
        # distractor: the therapist's sentences; reply: a patient's short answers, listed in the
        # vocabulary's other_speech (or answers) or not; aside: words said in passing, listed or
        # not; later aside: more of them, listed or not; unseen aside and new aside: still more,
        # none listed (corpus.py says what was tuned on which); held-out aside, last held-out
        # aside, third, fourth, fifth and sixth held-out aside: none listed (corpus.py says which
        # were tuned on); human: recorded readings and card names
        "false_accepts_by_kind": {c: f"{v[0]}/{v[1]}" for c, v in sorted(false_by_kind.items())},
        # What the distractors were taken for: pain, a false alarm that stops the technique
        # until the therapist says "false alarm", resume or next, or a command that moves the
        # session on.
        "false_accepts_by_command": dict(sorted(false_by_command.items())),
        # Each pain phrase by each speaker, heard by a new listener as the first thing it hears.
        "pain_as_first_command": {c: f"{v[0]}/{v[1]}" for c, v in sorted(first_pain.items())},
        # Each pain phrase by each voice 0.25 s after "Thank you." and after "Okay.", in the
        # stream; by condition, then by what was said before it.
        "pain_after_speech": {c: f"{v[0]}/{v[1]}" for c, v in sorted(pain_after_speech.items())},
        "pain_after_speech_by_lead_in": {
            w: f"{v[0]}/{v[1]}" for w, v in sorted(pain_after_lead_in.items())
        },
        # From the end of speech to the decision, as if the audio came in as it is said.
        "latency_ms": _percentiles(latencies),
        "pain_latency_ms": _percentiles(pain_latencies),
        "real_time_factor": round(cpu / audio, 4) if audio else None,
        # Heard in their moments (a question waiting; after pain or the last step): right and
        # wrong (another answer, score or command taken) out of the utterances, per condition.
        "answers_and_pain_scores": {
            kind: {c: f"{v[0]} right, {v[1]} wrong of {v[2]}" for c, v in sorted(by.items())}
            for kind, by in spoken_values.items()
        },
    }
    if show_errors:
        summary["errors"] = errors
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", default=",".join(corpus.CONDITIONS))
    parser.add_argument("--speakers", default=",".join(s.name for s in corpus.SPEAKERS))
    parser.add_argument(
        "--kinds",
        default="command,distractor,answer,pain level,false alarm,pain after speech,first command",
    )
    parser.add_argument("--set", action="append", default=[], help="ListenerSettings field=value")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--vosk-model", default=None)
    parser.add_argument("--errors", action="store_true", help="list every miss and false accept")
    parser.add_argument("--outcomes", type=Path, help="also write every clip's outcome here (JSON)")
    args = parser.parse_args(argv)
    conditions = args.conditions.split(",")
    speakers = args.speakers.split(",")
    kinds = args.kinds.split(",")
    # Synthesis happens once, here, so the workers only read the cache.
    chosen = [s for s in corpus.SPEAKERS if s.name in speakers]
    vocabulary = load_vocabulary()
    for phrases in (None, *(phrases for _, _, phrases in _heard_in_their_moments(vocabulary))):
        for _ in corpus.command_clips(chosen, [], phrases):
            pass
    talkers = [s for s in corpus.SPEAKERS if s.name in DISTRACTOR_SPEAKERS]
    every_sentence = tuple(text for sentences, _ in DISTRACTOR_SETS for text in sentences)
    for _ in corpus.sentence_clips(every_sentence, "distractor", talkers, []):
        pass
    jobs = [(c, speakers, args.set, kinds, args.vosk_model) for c in conditions]
    with multiprocessing.get_context("spawn").Pool(max(1, min(args.jobs, len(jobs)))) as pool:
        results = pool.map(_run_clips, jobs)
    summary = _summarise(results, args.errors)
    if args.outcomes:
        args.outcomes.write_text(json.dumps(results))
    summary.update(_idle_probe(args.vosk_model))
    summary["cores"] = os.cpu_count()
    summary["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    summary["settings"] = args.set
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
