"""The built-in protocols hold every instruction of the source text, and bad files are explained."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.catalog import load_protocol
from assistant.datafile import DataFileError, load_model
from assistant.protocol import Protocol, Technique, Variant

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "seed"
    / "therapeutic-massage-osteochondrosis.txt"
)


def techniques(
    protocol: Protocol, stage: str
) -> list[tuple[str, tuple[str, ...], str | None, bool, str | None]]:
    found = [s for s in protocol.stages if s.name == stage]
    assert found, f"no stage {stage!r}"
    return [
        (
            t.technique.value,
            tuple(v.value for v in t.variants),
            f"{t.repetitions.min}-{t.repetitions.max}" if t.repetitions else None,
            t.per_side,
            t.direction,
        )
        for t in found[0].techniques
    ]


@pytest.fixture(scope="module")
def cervical() -> Protocol:
    return load_protocol("cervical")[0]


@pytest.fixture(scope="module")
def lumbosacral() -> Protocol:
    return load_protocol("lumbosacral")[0]


def test_every_repetition_range_of_the_source_is_in_the_protocols_and_no_other(
    cervical: Protocol, lumbosacral: Protocol
) -> None:
    if not SOURCE.exists():
        pytest.skip(f"source text not beside the checkout: {SOURCE}")
    import re

    text = SOURCE.read_text()
    cervical_text, lumbosacral_text = text.split("osteochondrosis of the lumbosacral")
    for protocol, part in ((cervical, cervical_text), (lumbosacral, lumbosacral_text)):
        in_source = {f"{low}-{high}" for low, high in re.findall(r"(\d+)-(\d+) times", part)}
        encoded = {
            f"{t.repetitions.min}-{t.repetitions.max}"
            for stage in protocol.stages
            for t in stage.techniques
            if t.repetitions
        }
        assert encoded == in_source, protocol.id


def test_cervical_position_and_stage_order(cervical: Protocol) -> None:
    assert "supine" in cervical.position.patient
    assert any("relaxed" in s for s in cervical.position.setup)
    assert [s.name for s in cervical.stages] == [
        "Upper back",
        "Neck",
        "Upper back again",
        "Neck and upper back, wider range of techniques",
        "Grinding along the spine",
        "Upper back, shoulders and neck again",
        "Chest",
    ]


def test_cervical_techniques_directions_and_counts(cervical: Protocol) -> None:
    assert techniques(cervical, "Upper back") == [
        ("stroking", (), "6-7", True, "from the lower edge of the shoulder blades to the neck"),
        ("squeezing", (), "3-4", False, None),
        ("kneading", ("ordinary",), "3-4", False, None),
        ("kneading", ("double ring",), "3-4", False, None),
        ("stroking", (), None, False, None),
    ]
    assert techniques(cervical, "Neck") == [("squeezing", (), "3-4", False, "from head to back")]
    again = cervical.stages[2]
    assert [
        (t.technique.value, t.variants, t.regions, t.repetitions.min, t.repetitions.max)
        for t in again.techniques
        if t.repetitions
    ] == [
        ("stroking", (), ("both sides of the spinal column",), 4, 5),
        ("squeezing", (Variant.FINGERTIPS,), ("both sides of the spinal column",), 4, 5),
        ("stroking", (), ("shoulder area",), 4, 5),
        ("squeezing", (Variant.FINGERTIPS,), ("shoulder area",), 4, 5),
    ]
    wider = techniques(cervical, "Neck and upper back, wider range of techniques")
    assert ("kneading", ("fingertips",), None, False, None) in wider
    assert ("kneading", ("palm edge",), None, False, None) in wider
    grinding = techniques(cervical, "Grinding along the spine")
    assert [g[1] for g in grinding] == [("rectilinear",), ("circular",)]
    assert cervical.stages[-1].regions == ("chest area",)


def test_lumbosacral_position_and_techniques(lumbosacral: Protocol) -> None:
    assert "stomach" in lumbosacral.position.patient and "arms" in lumbosacral.position.patient
    assert any("rigid" in s and "table" in s for s in lumbosacral.position.setup)
    assert techniques(lumbosacral, "Back muscles") == [
        ("stroking", (), "6-8", False, None),
        ("squeezing", ("gentle",), "4-5", False, None),
    ]
    assert {t[1] for t in techniques(lumbosacral, "Buttocks and hips")} == {("combined",)}
    alternating = lumbosacral.stages[2]
    grinding = next(t for t in alternating.techniques if t.technique is Technique.GRINDING)
    assert grinding.note and "very carefully" in grinding.note and "individually" in grinding.note
    assert techniques(lumbosacral, "Sacral section")[:7] == [
        ("stroking", (), "4-5", False, None),
        ("squeezing", (), "5-7", False, None),
        ("kneading", ("ordinary",), "3-4", False, None),
        ("kneading", ("palm edge",), "3-4", False, None),
        ("kneading", ("circular",), "3-4", False, None),
        ("shaking", (), None, False, None),
        ("stroking", (), None, False, None),
    ]
    sacrum = lumbosacral.stages[3].techniques[-1]
    assert sacrum.technique is Technique.GRINDING and Variant.VARIOUS in sacrum.variants
    assert lumbosacral.stages[-1].regions == ("lower back", "gluteal muscles")


@pytest.mark.parametrize("name", ["cervical", "lumbosacral"])
def test_general_rules_survive(name: str) -> None:
    rules = load_protocol(name)[0].rules
    assert (rules.first_sessions_minutes.min, rules.first_sessions_minutes.max) == (5, 7)
    assert (rules.later_sessions_minutes.min, rules.later_sessions_minutes.max) == (15, None)
    assert rules.first_sessions_emphasis is Technique.STROKING
    assert rules.later_sessions_emphasis is Technique.GRINDING  # rubbing
    assert rules.sessions_per_day == 2
    text = " ".join(rules.general)
    for fragment in (
        "neighbouring areas",
        "exacerbation has passed",
        "tough techniques",
        "untrained",
        "5 to 7 minutes",
        "15 minutes or more",
        "rubbing",
        "2 times a day",
        "physiotherap",
        "courses",
    ):
        assert fragment in text, fragment


# --- validation -------------------------------------------------------------------------------

GOOD = (Path(__file__).resolve().parents[1] / "protocols" / "cervical.yaml").read_text()


def broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in GOOD
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


BAD_FILES = [
    (
        "type error in a count",
        "repetitions: 6-7",
        "repetitions: lots",
        "repetitions: lots",
        "stages[0].techniques[0].repetitions",
        "a range like 6-7",
    ),
    (
        "minimum above maximum",
        "repetitions: 6-7",
        "repetitions: {min: 7, max: 6}",
        "repetitions: {min: 7",
        "stages[0].techniques[0].repetitions",
        "minimum (7) exceeds the maximum (6)",
    ),
    (
        "unknown technique",
        "technique: squeezing\n        repetitions: 3-4",
        "technique: pummelling\n        repetitions: 3-4",
        "pummelling",
        "stages[0].techniques[1].technique",
        "unknown value 'pummelling'",
    ),
    (
        "unknown key",
        "        per_side: true",
        "        per_side: true\n        colour: red",
        "colour: red",
        "stages[0].techniques[0].colour",
        "unknown key",
    ),
    (
        "YAML syntax error",
        "  - name: Neck\n",
        "  - name: Neck: cervical\n",
        "name: Neck: cervical",
        "",
        "YAML syntax error",
    ),
    (
        "missing field",
        "    regions: [neck]\n    techniques:\n      - technique: squeezing\n        direction: from head",
        "    techniques:\n      - technique: squeezing\n        direction: from head",
        "- name: Neck",
        "stages[1].regions",
        "required",
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "needle", "field", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_each_kind_of_bad_file_names_file_line_and_field(
    tmp_path: Path, case: str, old: str, new: str, needle: str, field: str, message: str
) -> None:
    path = broken(tmp_path, old, new)
    with pytest.raises(DataFileError) as caught:
        load_model(path, Protocol)
    text = str(caught.value)
    assert f"{path}:{line_of(path, needle)}:" in text
    assert field in text
    assert message in text


def test_a_bad_file_error_crosses_process_boundaries_whole(tmp_path: Path) -> None:
    path = broken(tmp_path, "repetitions: 3-4", "repetitions: 4-3")
    with pytest.raises(DataFileError) as caught:
        load_model(path, Protocol)
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, DataFileError) and str(again) == str(caught.value)
    assert again.path == path and again.problems == caught.value.problems


def test_validate_command_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = broken(tmp_path, "repetitions: 3-4", "repetitions: 4-3")
    ok = subprocess.run(
        [sys.executable, "-m", "assistant", "validate", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    failed = subprocess.run(
        [sys.executable, "-m", "assistant", "validate", str(bad)], capture_output=True, text=True
    )
    assert failed.returncode != 0
    assert f"{bad}:{line_of(bad, 'repetitions: 4-3')}:" in failed.stderr
    assert "Traceback" not in failed.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "assistant", "validate", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
    )
    assert (
        missing.returncode != 0
        and "cannot read" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, "  - name: Neck\n", "  - name: Neck\n    name: Throat\n")
    with pytest.raises(DataFileError, match="duplicate key 'name'"):
        load_model(path, Protocol)
