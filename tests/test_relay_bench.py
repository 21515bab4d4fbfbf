"""The relay bench's denominator: each row's raw peel is of the layer that row's node peels."""

from __future__ import annotations

import json

import pytest

from session_core import onion
from session_core.bench.relay_bench import MODES, measured_layer


@pytest.mark.parametrize("mode", MODES)
def test_measured_layer_is_the_layer_the_node_peels(mode: str) -> None:
    body, secret, hop = measured_layer(mode)
    step = onion.peel(body, secret, hop=hop)
    assert hop == {"guard": 0, "relay": 1, "final": 2}[mode]
    if mode == "final":
        assert isinstance(step, onion.Final)
        assert json.loads(step.payload)["method"] == "retrieve"
    else:
        assert isinstance(step, onion.Relay)
        assert step.hop == hop + 1
