"""The Python fuzz targets (fuzz/py/) replay their checked-in seed corpora here, so a target
whose imports or checks went stale fails in the test suite, not only in tools/fuzz.sh."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from session_core.onion import api as onion_api
from c_required import require_c

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
TARGETS = ["onion", "wire", "storage_rpc", "protocol", "groups"]


@pytest.mark.parametrize("name", TARGETS)
def test_target_accepts_its_seed_corpus(name: str) -> None:
    if name == "onion":
        require_c(onion_api._c, "onion")  # the target compares the two backends
    sys.path.insert(0, str(FUZZ / "py"))
    try:
        target = importlib.import_module(f"fuzz_{name}")
    finally:
        sys.path.remove(str(FUZZ / "py"))
    seeds = sorted((FUZZ / "corpus" / name).iterdir())
    assert seeds, f"no seeds for {name}"
    for seed in seeds:
        target.test_one(seed.read_bytes())


def test_every_target_has_seeds() -> None:
    for path in [*(FUZZ / "py").glob("fuzz_*.py"), *(FUZZ / "c").glob("fuzz_*.c")]:
        name = path.stem.removeprefix("fuzz_")
        assert any((FUZZ / "corpus" / name).iterdir()), name
