"""Attachments end to end on a real loopback devnet started with ``devnet up --fileserver``: the
CLI sends a file (through onion paths over node processes to the file server process) and the
recipient's ``inbox`` saves it under the profile."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_core.attachments import BUCKETS, CHUNK_PLAINTEXT
from session_core.cli import cli
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("attach-devnet") / "net"
    r = CliRunner().invoke(cli, ["devnet", "up", "--dir", str(d), "--nodes", "4", "--block-interval", "0.5",
                                 "--fileserver", "--detach"])
    try:
        assert r.exit_code == 0, r.output
        assert "file server http://127.0.0.1:" in r.output
        yield d
    finally:
        CliRunner().invoke(cli, ["devnet", "down", "--dir", str(d)])


def test_send_file_and_receive_it_through_the_devnet(devnet_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run = CliRunner().invoke
    status = json.loads(run(cli, ["devnet", "status", "--dir", str(devnet_dir), "--json"]).output)
    fs = status["fileserver"]
    assert len(fs["x25519"]) == 64 and fs["client_url"].endswith("#p=" + fs["ed25519"])

    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    store = ProfileStore(tmp_path)
    ids = {n: Identity.generate() for n in ("ann", "ben")}
    for n, ident in ids.items():
        store.create(n, ident, "pw", display_name=n.title(), created_ms=1)
    common = ["--home", str(tmp_path), "--devnet", str(devnet_dir)]
    assert run(cli, ["send", "--profile", "ann", *common, "--to", ids["ben"].session_id, "--request", "hi"]).exit_code == 0
    r = run(cli, ["inbox", "--profile", "ben", *common, "--wait", "5", "--accept", ids["ann"].session_id])
    assert r.exit_code == 0 and "accepted" in r.output, r.output
    assert run(cli, ["inbox", "--profile", "ann", *common, "--wait", "5"]).exit_code == 0

    src = tmp_path / "holiday photos.tar"
    src.write_bytes(os.urandom(CHUNK_PLAINTEXT + 5000))  # two chunks
    r = run(cli, ["send", "--profile", "ann", *common, "--to", ids["ben"].session_id, "--file", str(src), "photos"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["inbox", "--profile", "ben", *common, "--wait", "5"])
    assert r.exit_code == 0 and "photos [file: holiday photos.tar" in r.output, r.output
    saved = store.profile_dir("ben") / "attachments" / "holiday photos.tar"
    assert saved.read_bytes() == src.read_bytes()
    blobs = [p for p in (devnet_dir / "fileserver" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 3 and all(p.stat().st_size in BUCKETS for p in blobs)  # two chunks + manifest
