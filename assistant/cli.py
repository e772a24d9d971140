"""The massage-assistant command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.catalog import builtin_protocols, load_protocol
from assistant.cli_records import (
    add_record_commands,
    history_summaries,
    patient_argument,
    patient_session_options,
)
from assistant.datafile import DataFileError
from assistant.demo import demo_command
from assistant.listen_command import listen_command, open_voice_input, vosk_model_command
from assistant.listening import VOSK_MODEL_ENV
from assistant.patients import patient_name, set_exacerbation
from assistant.phrasing import Phraser, load_phrasebook
from assistant.plan import SessionOptions, build_plan
from assistant.protocol import Protocol
from assistant.runner import KeyboardInput, SessionRunner, begin_session
from assistant.screen import LiveScreen, ScreenState
from assistant.session import Session, SessionSettings
from assistant.speech.profiles import load_profiles
from assistant.speech.synthesis import list_engine_voices
from assistant.spoken import OutputUnavailable, SpeechUnavailable, SpokenGuidance, open_speech
from assistant.store import SessionStore, default_db_path
from assistant.vocabulary import load_vocabulary
from assistant.voice_input import VoiceInput


class UsageProblem(Exception):
    """A mistake in how the command was called; the message says what to do instead."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="massage-assistant",
        description="Offline, hands-free, voice-guided therapeutic massage sessions.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="list the built-in protocols")

    show = commands.add_parser("show", help="print a protocol's whole plan")
    show.add_argument("protocol", help="a built-in protocol name or a YAML file")
    show.add_argument("--session-number", type=_positive, default=1)
    show.add_argument("--exacerbation", action="store_true")

    validate = commands.add_parser("validate", help="check a protocol file")
    validate.add_argument("paths", nargs="+", metavar="PATH")

    run = commands.add_parser("run", help="run a session")
    run.add_argument("protocol", nargs="?", help="a built-in protocol name or a YAML file")
    run.add_argument(
        "--text",
        action="store_true",
        help="type commands, read the guidance (with --speak-to: also to the WAV)",
    )
    run.add_argument(
        "--session-number", type=_positive, help="the session's place in the course (default 1)"
    )
    run.add_argument(
        "--exacerbation",
        action=argparse.BooleanOptionalAction,
        help="work the neighbouring areas only (with --patient: remembered until --no-exacerbation)",
    )
    run.add_argument("--patient", type=patient_argument, metavar="NAME_OR_ID", help="the patient")
    run.add_argument("--resume", action="store_true", help="continue the last interrupted session")
    run.add_argument(
        "--skip-screen",
        action="store_true",
        help="do not ask the contraindication questions (recorded with the session)",
    )
    run.add_argument("--count", action="store_true", help="count repetitions aloud")
    run.add_argument("--count-interval", type=float, default=2.0, metavar="SECONDS")
    run.add_argument("--db", type=Path, help="the session database (default: your data folder)")
    run.add_argument(
        "--voice", metavar="PROFILE", help="a voice profile (massage-assistant voices lists them)"
    )
    run.add_argument("--no-voice", action="store_true", help="print the guidance, do not speak it")
    run.add_argument(
        "--speak-to", type=Path, metavar="FILE.wav", help="render the speech into a WAV file"
    )
    run.add_argument(
        "--output-device", metavar="DEVICE", help="a sound output device name or number"
    )
    run.add_argument("--no-listen", action="store_true", help="do not listen; commands are typed")
    run.add_argument(
        "--no-echo-cancel",
        action="store_true",
        help="do not take the assistant's own voice out of the microphone signal",
    )
    run.add_argument(
        "--show-ignored", action="store_true", help="print what was heard but not obeyed, and why"
    )
    run.add_argument(
        "--plain",
        action="store_true",
        help="line by line output, no live session screen (for pipes and screen readers)",
    )
    _add_listening_arguments(run)

    listen = commands.add_parser("listen", help="print each spoken command as it is recognised")
    listen.add_argument("--json", action="store_true", help="one JSON object per line")
    listen.add_argument(
        "--rejected", action="store_true", help="also print what was heard but not obeyed"
    )
    _add_listening_arguments(listen)

    vosk_model = commands.add_parser("vosk-model", help="which speech engine listens, and why")
    vosk_model.add_argument(
        "--download",
        nargs="?",
        const="vosk-model-small-en-us-0.15",
        metavar="NAME",
        help="let vosk download a model into its cache (needs a network connection)",
    )
    _add_engine_arguments(vosk_model)

    demo = commands.add_parser(
        "demo", help="a whole session steered by a simulated therapist, no devices needed"
    )
    demo.add_argument(
        "--protocol", default="cervical", help="a built-in protocol (default cervical)"
    )
    demo.add_argument(
        "--out", type=Path, metavar="DIR", help="keep the WAV, the transcript and the report here"
    )
    demo.add_argument("--db", type=Path, help="the session database (default: your data folder)")
    demo.add_argument(
        "--no-echo-cancel",
        action="store_true",
        help="do not take the assistant's own voice out of what the microphone hears",
    )

    commands.add_parser("voices", help="list the voice profiles and the installed engine voices")

    history = commands.add_parser("history", help="list recorded sessions")
    history.add_argument("--json", action="store_true")
    history.add_argument("--db", type=Path)
    history.add_argument("--patient", type=patient_argument, metavar="NAME_OR_ID")
    _COMMANDS.update(add_record_commands(commands))
    return parser


def _add_listening_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audio-file", type=Path, metavar="FILE.wav", help="a recording instead of the microphone"
    )
    parser.add_argument("--input-device", metavar="DEVICE", help="a microphone name or number")
    _add_engine_arguments(parser)


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vosk-model",
        metavar="PATH",
        help=f"a vosk model folder (default: ${VOSK_MODEL_ENV}, then vosk's cache, else PocketSphinx)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:
        # The reader went away (massage-assistant voices | head): not an error.
        sys.stdout = None  # type: ignore[assignment]
        return 0
    except DataFileError as error:
        print(error.describe(), file=sys.stderr)
        return 2
    except UsageProblem as problem:
        print(f"massage-assistant: {problem}", file=sys.stderr)
        return 2


def _list(_: argparse.Namespace) -> int:
    for name, path in builtin_protocols().items():
        try:
            protocol, _path = load_protocol(str(path))
            print(f"{name:14} {protocol.title}")
        except DataFileError as error:
            print(f"{name:14} (invalid: {error.problems[0].message})")
    return 0


def _validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.paths:
        try:
            protocol, _path = load_protocol(path)
        except DataFileError as error:
            print(error.describe(), file=sys.stderr)
            failed = True
        else:
            steps = len(build_plan(protocol, SessionOptions()).steps)
            listed = protocol.contraindications
            asked = len(listed.absolute) + len(listed.relative)
            print(
                f"{path}: valid ({len(protocol.stages)} stages, {steps} steps,"
                f" {asked} contraindications asked)"
            )
    return 1 if failed else 0


def _show(args: argparse.Namespace) -> int:
    protocol, _path = load_protocol(args.protocol)
    print(describe_plan(protocol, SessionOptions(args.session_number, args.exacerbation)))
    return 0


def describe_plan(protocol: Protocol, options: SessionOptions) -> str:
    """The whole plan as readable text: position, rules, then every step as it will be spoken."""
    phraser = Phraser(load_phrasebook())
    plan = build_plan(protocol, options)
    lines = [protocol.title, "=" * len(protocol.title), ""]
    lines.append(f"Position: {protocol.position.patient}")
    lines.extend(f"  {item}" for item in protocol.position.setup)
    lines.append(
        f"Session {options.session_number}: {phraser.budget(plan.budget)}"
        f" Emphasis: {protocol.rules.first_sessions_emphasis.value if plan.first_sessions else protocol.rules.later_sessions_emphasis.value}."
    )
    if options.exacerbation:
        lines.append(f"Exacerbation: left out {', '.join(plan.regions_left_out)}.")
    listed = protocol.contraindications
    lines.append("")
    lines.append("Asked before the first step (a yes to an absolute one blocks the session):")
    lines.extend(f"  - absolute: {c.question}" for c in listed.absolute)
    lines.extend(f"  - relative: {c.question}" for c in listed.relative)
    stage = None
    gentle = options.starts_gentle
    for step in (plan.step_as_done(i, gentle) for i in range(len(plan.steps))):
        if step.stage_number != stage:
            stage = step.stage_number
            lines.append("")
            lines.append(f"Stage {step.stage_number}: {step.stage_name}")
            if step.stage_note:
                lines.append(f"  {step.stage_note}")
        lines.append(f"  {step.index + 1:2}. {phraser.step(step)}")
    lines.append("")
    lines.append("Rules:")
    lines.extend(f"  - {rule}" for rule in protocol.rules.general)
    settings = protocol.settings
    lines.append("")
    lines.append("Therapist's settings (not from the source text):")
    lines.append(f"  - first sessions: sessions 1 to {settings.first_sessions_count}")
    lines.append(
        f"  - time warning {settings.budget_warning_lead_minutes} minute(s) before the budget"
    )
    replaced = ", ".join(
        f"{a.value} -> {b.value}" for a, b in settings.gentle_variant.replace.items()
    )
    lines.append(f"  - after pain: {replaced}; repetitions {settings.gentle_variant.repetitions}")
    return "\n".join(lines)


def _open_store(db: Path | None) -> SessionStore:
    return SessionStore(db or default_db_path())


def _run(args: argparse.Namespace) -> int:
    store = _open_store(args.db)
    with store:
        resume = None
        if args.resume:
            stored = store.last_interrupted()
            if stored is None:
                raise UsageProblem("there is no interrupted session to resume")
            protocol, _path = load_protocol(stored.protocol_path or stored.protocol)
            options = SessionOptions(stored.session_number, stored.exacerbation, stored.gentle)
            session_id = stored.id
            resume = store.resume_point(stored.id)
        else:
            if not args.protocol:
                raise UsageProblem(
                    "name a protocol (massage-assistant list shows them), or use --resume"
                )
            protocol, path = load_protocol(args.protocol)
            number, exacerbation = patient_session_options(
                store, args.patient, protocol.id, args.session_number, args.exacerbation
            )
            options = SessionOptions(number, exacerbation)
            patient = patient_name(store, args.patient) if args.patient else None
            session_id = begin_session(store, protocol, path, options, patient)
        plan = build_plan(protocol, options)
        session = Session(
            plan, SessionSettings(args.count, args.count_interval, screen=not args.skip_screen)
        )
        runner = SessionRunner(
            session, Phraser(load_phrasebook()), load_vocabulary(), store, session_id
        )
        if args.speak_to or not (args.text or args.no_voice):
            spoken = _spoken_guidance(args, runner)
            if spoken is not None:
                runner.guidance = spoken
                # The profile's language chooses the wording and the command phrases.
                runner.phraser = Phraser(load_phrasebook(spoken.profile.language))
                runner.vocabulary = load_vocabulary(spoken.profile.language)
        voice = None
        if args.audio_file or not (args.text or args.no_listen):
            voice = open_voice_input(args, runner.post, runner.vocabulary)
        if voice is not None:
            if isinstance(runner.guidance, SpokenGuidance):
                runner.guidance.listeners.append(voice.on_speech)
            runner.keyboard_ends_session = False
            runner.show_ignored = args.show_ignored
            runner.listening_listeners.append(voice.listener.listen_for)
            runner.note_taker = _note_taker(voice, store, session_id)
            voice.clock = runner.clock
            voice.start()
        KeyboardInput(sys.stdin, runner.post).start()
        screen = None if args.plain or not sys.stdout.isatty() else _live_screen(runner, voice)
        try:
            if screen is not None:
                screen.start()
            result = runner.run(resume)
        finally:
            if screen is not None:
                screen.stop()
            if voice is not None:
                voice.stop()
        stored_session = store.session(session_id)
        if (
            stored_session is not None
            and stored_session.patient
            and session.plan.options.exacerbation
            and not options.exacerbation
        ):
            # The screen found an exacerbation: the patient's record keeps it until cleared.
            set_exacerbation(store, stored_session.patient, True)
    return 0 if result.outcome in ("completed", "stopped", "interrupted", "blocked") else 1


def _note_taker(
    voice: VoiceInput, store: SessionStore, session_id: int
) -> Callable[[float, str], bool]:
    """Voice notes go beside the database, one owner-only folder per session."""
    folder = store.path.resolve().parent / "notes" / f"session-{session_id}"
    return lambda seconds, name: voice.take_note(seconds, folder / f"{name}.wav")


def _live_screen(runner: SessionRunner, voice: VoiceInput | None) -> LiveScreen:
    """The session screen above the printed log; the runner keeps it up to date."""
    engine = f"{voice.listener.choice.name} listening" if voice is not None else "keyboard only"
    state = ScreenState(runner.session.plan.protocol.title, engine)
    level = (lambda: voice.level_db) if voice is not None else None
    screen = LiveScreen(state, runner.phraser, runner.clock, level)
    runner.display = screen
    return screen


def _spoken_guidance(args: argparse.Namespace, runner: SessionRunner) -> SpokenGuidance | None:
    """The voice for this session, or None (after a one-line explanation) to go on in print."""
    try:
        profile = load_profiles().get(args.voice)
        worker = open_speech(profile, args.output_device, args.speak_to)
    except DataFileError as error:
        print(
            f"Voice profiles unusable, guidance will be printed: {error.describe()}",
            file=sys.stderr,
        )
        return None
    except KeyError as error:
        print(f"{error.args[0]}; guidance will be printed.", file=sys.stderr)
        return None
    except (SpeechUnavailable, OutputUnavailable) as error:
        print(f"{error}; guidance will be printed.", file=sys.stderr)
        return None
    return SpokenGuidance(worker, profile, runner.post, runner.clock, runner.out)


def _voices(_: argparse.Namespace) -> int:
    voice_profiles = load_profiles()
    print("Voice profiles (voices/profiles.yaml):")
    for profile in voice_profiles.profiles:
        mark = "*" if profile.name == voice_profiles.default else " "
        print(
            f" {mark} {profile.name:10} voice {profile.engine_voice or 'default':10}"
            f" {profile.rate_wpm} words a minute, volume {profile.volume:.1f}"
        )
    try:
        engine_voices = list_engine_voices()
    except SpeechUnavailable as error:
        print(f"Engine voices: unavailable ({error})")
        return 0
    print(f"Engine voices installed ({len(engine_voices)}):")
    for voice in engine_voices:
        print(f"   {voice.id:28} {voice.name:32} {', '.join(voice.languages)}")
    return 0


def _history(args: argparse.Namespace) -> int:
    with _open_store(args.db) as store:
        summaries = history_summaries(store, args.patient)
    if args.json:
        print(json.dumps([s.to_json() for s in summaries], indent=2))
        return 0
    if not summaries:
        print("No sessions recorded yet.")
    for summary in summaries:
        s = summary.session
        ended = s.ended_at or "interrupted"
        print(
            f"#{s.id:<4} {s.started_at[:16]}  {s.protocol:12} session {s.session_number:<3}"
            f" steps {summary.steps_completed}/{s.steps_total}  pain {summary.pain_events}  {s.outcome or ''} {ended if not s.ended_at else ''}"
        )
    return 0


_COMMANDS = {
    "list": _list,
    "show": _show,
    "validate": _validate,
    "run": _run,
    "history": _history,
    "voices": _voices,
    "listen": listen_command,
    "vosk-model": vosk_model_command,
    "demo": demo_command,
}
