"""The repository's shape: one naming rule for the Testinfra files of every Molecule scenario.

A role's default scenario tests live in test_<role>.py, another scenario's in test_<scenario>.py;
a scenario with more than one file names the others <that stem>_<topic>.py, so they sort after it
(pytest runs the files in name order, and the extra files build on the main one's host state).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in ROOT.glob("roles/*/molecule/*") if (p / "tests").is_dir())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_testinfra_files_are_named_after_the_role_or_the_scenario(scenario):
    role = scenario.parts[-3]
    stem = f"test_{role}" if scenario.name == "default" else f"test_{scenario.name}"
    files = sorted(p.stem for p in (scenario / "tests").glob("test_*.py"))
    assert stem in files, f"{scenario.relative_to(ROOT)}/tests has no {stem}.py (it has {files})"
    assert all(name == stem or name.startswith(f"{stem}_") for name in files), files
