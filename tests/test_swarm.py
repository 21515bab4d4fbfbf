"""session_core.swarm: swarm space, SwarmMap lookups (both backends), new_swarm_id, mt19937_64."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import session_core
from session_core import _backend, swarm
from session_core.swarm import lookup as swarm_lookup
from session_core.swarm import _swarm_py
from session_core.errors import (
    EmptySwarmMapError,
    ExtensionUnavailableError,
    InvalidInputError,
    InvalidSwarmIdError,
    InvalidSwarmKeyError,
    SessionCoreError,
)
from session_core.swarm.ids import MAX_ID, new_swarm_id_sorted
from session_core.swarm.rng import MT19937_64, uniform_distribution_portable

DATA = Path(__file__).parent / "data"
U64 = (1 << 64) - 1


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_c_backend_is_chosen_when_built() -> None:
    if _backend.NO_EXTENSIONS:
        assert swarm.backend_info()["implementation"] == "python"
        return
    assert swarm_lookup._c is not None, _backend.load_error("swarm")
    assert swarm.backend_info()["implementation"] == "c"
    assert swarm.SwarmMap([1, 2]).implementation == "c"
    assert session_core.backend()["swarm"]["implementation"] == "c"


# ---- §2.1 pubkey -> swarm space -------------------------------------------------------------


@pytest.mark.parametrize("pubkey,expected", load("swarm_space_vectors.json")["cases"])
def test_swarm_space_vectors(pubkey: str, expected: str) -> None:
    assert swarm.swarm_space(pubkey) == int(expected)
    raw = bytes.fromhex(pubkey)
    assert swarm.swarm_space(raw) == int(expected)  # 33 raw bytes
    assert swarm.swarm_space(raw[1:]) == int(expected)  # 32 raw bytes
    assert swarm.swarm_space(pubkey.upper()) == int(expected)


def test_space_of_key_arrays_matches_scalar() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    spaces = swarm.spaces_of_keys(keys)
    assert [int(s) for s in spaces] == [swarm.swarm_space(bytes(k)) for k in keys]


@pytest.mark.parametrize(
    "bad",
    ["05" + "ab" * 31, "05" + "ab" * 33, "ab" * 32, "05" + "zz" * 32, "05" + "ab" * 31 + " a",
     b"\x05" * 31, b"\x05" * 34, b"", 12, None, ["05" + "ab" * 32]],
)
def test_swarm_space_rejects_bad_keys(bad: Any) -> None:
    with pytest.raises(InvalidSwarmKeyError) as info:
        swarm.swarm_space(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SessionCoreError)


def test_64_hex_key_gets_a_hint() -> None:
    with pytest.raises(InvalidSwarmKeyError, match="network prefix"):
        swarm.swarm_space("ab" * 32)


# ---- §2.3 (b) nearest swarm -----------------------------------------------------------------


def _vector_cases() -> list[tuple[list[int], int, int]]:
    out = []
    for group in load("swarm_lookup_vectors.json")["groups"]:
        ids = [int(s) for s in group["swarms"]]
        for x, expected in group["cases"]:
            out.append((ids, int(x, 16), int(expected)))
    return out


@pytest.mark.parametrize("ids,space,expected", _vector_cases())
def test_lookup_vectors(backend: str, ids: list[int], space: int, expected: int) -> None:
    smap = swarm.SwarmMap(ids, backend=backend)
    pubkey = "05" + "00" * 24 + f"{space:016x}"
    assert swarm.swarm_space(pubkey) == space
    assert smap.lookup(pubkey) == expected
    assert smap.lookup(space) == expected
    assert smap.lookup(bytes.fromhex(pubkey)) == expected
    assert smap.lookup_many(np.array([space], dtype=np.uint64)).tolist() == [expected]
    key = np.frombuffer(bytes.fromhex(pubkey)[1:], dtype=np.uint8).reshape(1, 32)
    assert smap.lookup_many(key).tolist() == [expected]


def test_lookup_many_matches_scalar_and_brute_force(backend: str) -> None:
    rng = np.random.default_rng(11)
    ids = np.unique(rng.integers(0, U64 - 1, 500, dtype=np.uint64, endpoint=True))
    smap = swarm.SwarmMap(ids, backend=backend)
    spaces = np.concatenate([
        rng.integers(0, U64, 2000, dtype=np.uint64, endpoint=True),
        np.array([0, 1, U64, U64 - 1], dtype=np.uint64),
        smap.ids_array, smap.ids_array + np.uint64(1), smap.ids_array - np.uint64(1),
    ])
    got = smap.lookup_many(spaces)
    brute = brute_many(smap.ids_array, spaces)
    assert got.tolist() == brute.tolist()
    assert [smap.lookup(int(s)) for s in spaces[:200]] == [_brute(smap.ids, int(s)) for s in spaces[:200]]


def _brute(ids: tuple[int, ...], space: int) -> int:
    """Nearest id by scanning every swarm: circle distance, ties to the left/lower side."""
    best, best_key = -1, None
    for sid in ids:
        d = min((sid - space) % (1 << 64), (space - sid) % (1 << 64))
        left = (space - sid) % (1 << 64) == d  # reached going down from space
        key = (d, 0 if left else 1)
        if best_key is None or key < best_key:
            best, best_key = sid, key
    return best


def brute_many(ids: np.ndarray, spaces: np.ndarray) -> np.ndarray:
    """Vectorised brute force over every (space, swarm) pair, independent of any search."""
    d_down = spaces[:, None] - ids[None, :]  # uint64: wraps mod 2^64
    d_up = ids[None, :] - spaces[:, None]
    dist = np.minimum(d_down, d_up)
    best = dist.min(axis=1, keepdims=True)
    on_left = (dist == best) & (d_down == best)  # at most one id can be that far below
    pick = np.where(on_left.any(axis=1), on_left.argmax(axis=1), (dist == best).argmax(axis=1))
    return ids[pick]


def test_clustered_ids_use_bucket_fallback(backend: str) -> None:
    # All ids inside one radix bucket: the C kernel must fall back to its in-bucket search.
    ids = list(range(1000, 1000 + 3 * 400, 3))
    smap = swarm.SwarmMap(ids, backend=backend)
    spaces = np.arange(900, 2400, dtype=np.uint64)
    assert smap.lookup_many(spaces).tolist() == brute_many(smap.ids_array, spaces).tolist()


def test_single_swarm_takes_everything(backend: str) -> None:
    smap = swarm.SwarmMap([12345], backend=backend)
    spaces = np.array([0, 12345, U64, 1 << 63], dtype=np.uint64)
    assert smap.lookup_many(spaces).tolist() == [12345] * 4


def test_lookup_many_empty_batch_and_noncontiguous(backend: str) -> None:
    smap = swarm.SwarmMap([10, 20, 30], backend=backend)
    assert smap.lookup_many(np.empty(0, dtype=np.uint64)).shape == (0,)
    assert smap.lookup_many(np.empty((0, 32), dtype=np.uint8)).shape == (0,)
    strided = np.arange(0, 80, dtype=np.uint64)[::2]
    assert smap.lookup_many(strided).tolist() == [smap.lookup(int(s)) for s in strided]
    assert smap.lookup_many([11, 26]).tolist() == [10, 30]


def test_swarm_map_value_semantics() -> None:
    a = swarm.SwarmMap([30, 10, 20])
    b = swarm.SwarmMap((10, 20, 30), backend="python")
    assert a.ids == (10, 20, 30) and list(a) == [10, 20, 30] and len(a) == 3
    assert a == b and hash(a) == hash(b) and 20 in a and 25 not in a
    with pytest.raises(ValueError):
        a.ids_array[0] = 5  # read-only: the map is immutable


@pytest.mark.parametrize(
    "ids,error",
    [([1, 1], InvalidSwarmIdError), ([U64], InvalidSwarmIdError), ([-1], InvalidSwarmIdError),
     ([1 << 64], InvalidSwarmIdError), (["5"], InvalidSwarmIdError), ([1.0], InvalidSwarmIdError),
     ([True], InvalidSwarmIdError), (np.array([1, 2], dtype=np.int64), InvalidSwarmIdError),
     (np.array([3, U64], dtype=np.uint64), InvalidSwarmIdError)],
)
def test_swarm_map_rejects_bad_ids(ids: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        swarm.SwarmMap(ids)


def test_empty_map_refuses_lookups(backend: str) -> None:
    smap = swarm.SwarmMap([], backend=backend)
    assert len(smap) == 0
    with pytest.raises(EmptySwarmMapError):
        smap.lookup("05" + "00" * 32)
    with pytest.raises(EmptySwarmMapError):
        smap.lookup_many(np.zeros(3, dtype=np.uint64))


@pytest.mark.parametrize(
    "batch",
    [np.zeros(3, dtype=np.int64), np.zeros((3, 33), dtype=np.uint8), np.zeros((3, 32), dtype=np.uint16),
     np.zeros((2, 2, 32), dtype=np.uint8), np.zeros(3, dtype=np.float64), [1, -1], [1 << 64], ["zz"]],
)
def test_lookup_many_rejects_bad_batches(backend: str, batch: Any) -> None:
    smap = swarm.SwarmMap([1, 2, 3], backend=backend)
    with pytest.raises(InvalidSwarmKeyError):
        smap.lookup_many(batch)


@pytest.mark.parametrize("bad", [-1, 1 << 64, 1.5, None, True])
def test_lookup_rejects_bad_scalars(bad: Any) -> None:
    with pytest.raises(InvalidSwarmKeyError):
        swarm.SwarmMap([1]).lookup(bad)


def test_unknown_backend_name() -> None:
    with pytest.raises(ValueError):
        swarm.SwarmMap([1], backend="fortran")


def test_forcing_missing_c_backend_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swarm_lookup, "_c", None)
    with pytest.raises(ExtensionUnavailableError):
        swarm.SwarmMap([1], backend="c")


def test_legacy_2020_scan_differs_only_near_the_wrap() -> None:
    ids = [100, 200, 300, 399, 498, 596, 694]
    index = _swarm_py.Index(np.array(ids, dtype=np.uint64))
    # Away from the wrap the old linear scan and the new rule agree (ties to the lower id).
    for space in list(range(0, 800)) + [1 << 40]:
        assert _swarm_py.legacy_nearest_2020(ids, space) == index.lookup_one(space)
    # docs/interop.md §2.3: the old code measured the wrap against 2^64-2, off by one or two.
    mid = (1 << 63) + 397  # true midpoint of the wrap gap between 694 and 100 (tie -> 694)
    assert index.lookup_one(mid) == 694
    assert _swarm_py.legacy_nearest_2020(ids, mid) == 100


def test_c_baselines_agree_with_references() -> None:
    if swarm_lookup._c is None:
        pytest.skip("C extension not built") if _backend.NO_EXTENSIONS else pytest.fail("not built")
    rng = np.random.default_rng(3)
    ids = np.unique(rng.integers(0, U64 - 1, 300, dtype=np.uint64, endpoint=True))
    spaces = rng.integers(0, U64, 3000, dtype=np.uint64, endpoint=True)
    assert swarm_lookup._c.baseline_bsearch(ids, spaces).tolist() == _swarm_py.Index(ids).lookup_spaces(spaces).tolist()
    legacy = [_swarm_py.legacy_nearest_2020([int(i) for i in ids], int(s)) for s in spaces[:300]]
    assert swarm_lookup._c.baseline_linear2020(ids, spaces[:300]).tolist() == legacy


# ---- §2.4 get_new_swarm_id ------------------------------------------------------------------


@pytest.mark.parametrize("ids,expected", load("swarm_new_id_vectors.json")["cases"])
def test_new_swarm_id_vectors(ids: list[str], expected: str) -> None:
    assert MAX_ID == int(load("swarm_new_id_vectors.json")["max_id"])
    assert swarm.new_swarm_id([int(i) for i in ids]) == int(expected)
    assert swarm.new_swarm_id(np.array([int(i) for i in ids][::-1], dtype=np.uint64)) == int(expected)


def test_new_swarm_id_deterministic_run() -> None:
    """core-HEAD deterministic_swarm_ids: 10 000 inserts/erasures driven by mt19937_64(12345)."""
    spec = load("swarm_new_id_vectors.json")["deterministic"]
    rng = MT19937_64(spec["rng_seed"])
    ids = np.empty(0, dtype=np.uint64)
    for _ in range(spec["steps"]):
        n = rng()
        if n < int(spec["remove_below"]):
            assert ids.size
            ids = np.delete(ids, n % ids.size)
        else:
            new = new_swarm_id_sorted(ids)
            pos = int(np.searchsorted(ids, np.uint64(new)))
            assert pos == ids.size or int(ids[pos]) != new
            ids = np.insert(ids, pos, np.uint64(new))
    assert ids.size == spec["final_count"]
    for index, value in spec["ids"].items():
        assert int(ids[int(index)]) == int(value)


@pytest.mark.parametrize("bad", [[1, 1], [U64], [-5], ["x"]])
def test_new_swarm_id_rejects_bad_ids(bad: list[Any]) -> None:
    with pytest.raises(InvalidSwarmIdError):
        swarm.new_swarm_id(bad)


# ---- mt19937_64 / uniform_distribution_portable ---------------------------------------------


def test_mt19937_64_standard_vector() -> None:
    spec = load("swarm_mt19937_64.json")["standard"]
    rng = MT19937_64(int(spec["seed"]))
    for _ in range(spec["index"] - 1):
        rng()
    assert rng() == int(spec["value"])


@pytest.mark.parametrize("case", load("swarm_mt19937_64.json")["cases"], ids=lambda c: c["seed"])
def test_mt19937_64_matches_libstdcxx(case: dict[str, Any]) -> None:
    rng = MT19937_64(int(case["seed"]))
    outputs = [rng() for _ in range(1000)]
    for index, value in case["outputs"].items():
        assert outputs[int(index) - 1] == int(value)


def test_uniform_distribution_portable_rejection_and_division() -> None:
    # Replays the raw outputs: the draw must be the first raw value below the
    # rejection bound, divided (not reduced modulo) by bound // n.
    for n in (1, 2, 3, 7, 10, 1000, (1 << 63) + 5, U64):
        raw, drawn = MT19937_64(99), MT19937_64(99)
        value = uniform_distribution_portable(drawn, n)
        bound = U64 - U64 % n
        x = raw()
        while x >= bound:
            x = raw()
        assert value == x // (bound // n) and 0 <= value < n
        assert raw() == drawn()  # both consumed the same number of outputs


@pytest.mark.parametrize("bad", [0, -1, 1 << 64, 2.0, True])
def test_uniform_distribution_rejects_bad_n(bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        uniform_distribution_portable(MT19937_64(1), bad)


@pytest.mark.parametrize("bad", [-1, 1 << 64, "1", 1.0])
def test_mt_rejects_bad_seed(bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        MT19937_64(bad)


def test_no_extensions_env_forces_python() -> None:
    code = "import session_core.swarm as s; print(s.backend_info()['implementation'], s.SwarmMap([1]).lookup(5))"
    import subprocess
    import sys

    env = dict(os.environ, SESSION_CORE_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["python", "1"]
