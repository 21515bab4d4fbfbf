"""session_core.node.testing_aids: the observation log ties lines to the request that caused them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from session_core.node.testing_aids import TestingAids, read_observations


def test_batch_lines_share_a_req_and_the_block_ends_it(tmp_path: Path) -> None:
    log = tmp_path / "observe.jsonl"
    aids = TestingAids("me", None, log)
    with aids.incoming_batch(iter([b"a", b"b"])):
        aids.forwarded("next", b"c")
    aids.forwarded("next", b"d")  # after the block: not tied to that request
    with pytest.raises(RuntimeError), aids.incoming_batch([b"e"]):
        raise RuntimeError  # the request ends even when its handling fails
    aids.forwarded("next", b"f")
    aids.close()
    lines = [(o["event"], o["source"], o["req"]) for o in read_observations(log)]
    assert lines == [
        ("in", "node", 1), ("in", "node", 1), ("forward", "node", 1),
        ("forward", "node", 0), ("in", "node", 2), ("forward", "node", 0),
    ]


def test_not_observing_reads_nothing() -> None:
    def bodies() -> Iterator[bytes]:
        raise AssertionError("iterated although nobody observes")
        yield b""

    aids = TestingAids("me", None, None)
    with aids.incoming_batch(bodies()):
        aids.forwarded("next", b"x")
    assert not aids.observing
