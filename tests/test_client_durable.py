"""Durable commits off the event loop (client/durable.py): the WAL is fsynced in a thread, and an
envelope (a sync message, its receipt) leaves only after the fsync of the state that made it."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from session_core.client.durable import WalSync
from session_core.testing.memnet import MemNetwork
from tests.test_client import befriend, make, wait_event
from tests.test_client_long_poll import SLOW


def record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


async def test_flush_syncs_the_wal_and_the_directory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE t (v INTEGER)")
    con.execute("INSERT INTO t VALUES (1)")
    synced = record_fsyncs(monkeypatch)
    w = WalSync(db)
    await w.flush()
    await w.flush()
    assert synced == [str(db) + "-wal", str(tmp_path), str(db) + "-wal"]
    assert w.flushes == 2
    con.close()  # the last connection checkpoints and removes the WAL: the database file is synced
    assert not Path(str(db) + "-wal").exists()
    synced.clear()
    await w.flush()
    assert synced == [str(db)]


async def test_a_sync_message_and_its_receipt_leave_only_after_their_fsync(tmp_path: Path) -> None:
    net = MemNetwork(12)
    a, b = make(net, tmp_path, "a", **SLOW), make(net, tmp_path, "b", **SLOW)
    await a.start(); await b.start()
    await befriend(a, b)
    await a.send_text(b.session_id, "first")  # async: carries a's route
    await wait_event(a, lambda e: e.kind == "status")
    log: list[str] = []

    def trace(c: Any, who: str) -> None:
        # Each envelope made is named by its bytes, so the listen_put carrying it is recognised
        # (other envelopes of the same client may be on their way meanwhile).
        for name in ("send_text", "send_receipt"):
            def made(*x: Any, _i: Any = getattr(c.messenger, name), _n: str = name, **k: Any) -> Any:
                out = _i(*x, **k)
                names[base64.b64encode(out.data).decode()] = f"{who} {_n}"
                log.append(f"{who} {_n}")
                return out
            setattr(c.messenger, name, made)
        flush, request = c.disk.flush, c.oc.request

        async def flushed() -> None:
            await flush()
            log.append(f"{who} on disk")

        async def req(dest: Any, method: str, params: Any, *x: Any, **k: Any) -> Any:
            if method == "listen_put":
                log.append("sent " + names.get(params["data"], "?"))
            return await request(dest, method, params, *x, **k)

        c.disk.flush, c.oc.request = flushed, req

    names: dict[str, str] = {}
    trace(a, "a"); trace(b, "b")
    rep = await a.send_text(b.session_id, "second")
    assert rep.route == "sync"
    for what in ("a send_text", "b send_receipt"):
        who = what.split()[0]
        made, sent = log.index(what), log.index("sent " + what)
        assert f"{who} on disk" in log[made:sent], log
    await a.stop(); await b.stop()
