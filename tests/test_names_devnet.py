"""Names end to end on a real loopback devnet (chain + node processes): ``session-core name
register`` signs and pays on the chain; ``session-core name resolve`` asks 3 nodes through
onion paths, which forward ``oxend_request`` to their chain, and checks the proofs against
headers synced from the chain RPC.  The devnet is stopped whatever happens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core.cli import cli
from session_core.devnet.launcher import Devnet, DevnetOptions, rpc_call
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    d = tmp_path_factory.mktemp("names-devnet")
    net = Devnet(d)
    net.up(DevnetOptions(d, nodes=4, block_interval=0.3, timeout=60))
    try:
        yield net
    finally:
        net.down()


def test_cli_register_resolve_renew_and_errors(devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path)
    ann, ben = Identity.generate(), Identity.generate()
    store.create("ann", ann, "pw", display_name="Ann", created_ms=1)
    store.create("ben", ben, "pw", display_name="Ben", created_ms=1)
    run = CliRunner().invoke
    net = ["--devnet", str(devnet.directory)]
    burned = rpc_call(devnet.chain_url, "get_info")["ons_burned"]

    r = run(cli, ["name", "register", "Ann_1", "--profile", "ann", "--home", str(tmp_path), *net])
    assert r.exit_code == 0, r.output
    assert "applies in block" in r.output and "done: owner" in r.output
    assert rpc_call(devnet.chain_url, "get_info")["ons_burned"] == burned + 20

    r = run(cli, ["name", "resolve", "ann_1", "--json", *net])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["session_id"] == ann.session_id and len(doc["nodes"]) == 3
    assert doc["owner"] == ann.ed25519_public_key.hex()

    r = run(cli, ["name", "register", "ann_1", "--profile", "ben", "--home", str(tmp_path), *net])
    assert r.exit_code == 1 and "taken (someone else's)" in r.output
    r = run(cli, ["name", "renew", "ann_1", "--profile", "ben", "--home", str(tmp_path), *net])
    assert r.exit_code == 1 and "belongs to someone else" in r.output
    r = run(cli, ["name", "resolve", "bad name", *net])
    assert r.exit_code == 1 and "may only use" in r.output
    r = run(cli, ["name", "resolve", "nobody-here", *net])
    assert r.exit_code == 1 and "not registered" in r.output

    r = run(cli, ["name", "transfer", "ann_1", "--owner", ben.ed25519_public_key.hex(), "--to", ben.session_id,
                  "--profile", "ann", "--home", str(tmp_path), *net])
    assert r.exit_code == 0, r.output
    r = run(cli, ["name", "resolve", "ANN_1", *net])
    assert r.exit_code == 0 and r.output.splitlines()[0] == ben.session_id
    r = run(cli, ["name", "renew", "ann_1", "--profile", "ben", "--home", str(tmp_path), *net])
    assert r.exit_code == 0, r.output
