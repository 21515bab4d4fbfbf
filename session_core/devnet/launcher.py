"""Start and stop a devnet: one chain process and N node processes on loopback.

Each process picks its own free ports (bind to port 0) and writes a small
"ready" JSON file once it is serving; the launcher waits for those files, so no
port is ever guessed.  The state of a running devnet (pids, URLs, keys) is kept
in ``<dir>/devnet.json`` for ``status`` and ``down``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_core.errors import DevnetError

STATE_FILE = "devnet.json"


@dataclass
class DevnetOptions:
    directory: Path
    nodes: int = 12
    difficulty: int = 1
    block_interval: float = 2.0
    seed: str = "devnet"
    timeout: float = 60.0
    decommission_after: int = 2
    deregister_after_blocks: int = 10
    node_args: tuple[str, ...] = ()
    #: Test aids (session_core/testing/, passed as hidden ``node run`` options): each node logs
    #: to <node dir>/observe.jsonl; node index -> "drop" | "tamper".
    observe: bool = False
    misbehave: dict[int, str] = field(default_factory=dict)
    #: Also run a file server (attachments); its URL and keys go in the state file.
    fileserver: bool = False
    #: Also run a room server (open groups) with rooms "lobby" and "dev"; URLs in the state file.
    opengroup: bool = False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "session_core.cli", *args]


def _wait_file(path: Path, proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    while time.monotonic() < deadline:
        if path.exists():
            return dict(json.loads(path.read_text()))
        if proc.poll() is not None:
            raise DevnetError(f"process {proc.args!r} exited with {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise DevnetError(f"timed out waiting for {path}")


def rpc_call(url: str, method: str, params: Any = None, timeout: float = 5.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": "0", "method": method, "params": params or {}}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise DevnetError(f"{method}: {reply['error']['message']}")
    return reply["result"]


def http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


class Devnet:
    """A running devnet started by this process (or loaded from its state file)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.chain_url = ""
        self.nodes: list[dict[str, Any]] = []
        self.fileserver: dict[str, Any] | None = None
        self.opengroup: dict[str, Any] | None = None

    # -- starting ---------------------------------------------------------------------------

    def start_chain(self, opt: DevnetOptions) -> None:
        d = self.directory
        ready = d / "chain.ready"
        ready.unlink(missing_ok=True)
        log = open(d / "chain.log", "ab")
        proc = subprocess.Popen(
            _cli("devnet", "chain", "--db", str(d / "chain.db"), "--seed", opt.seed,
                 "--block-interval", str(opt.block_interval), "--ready-file", str(ready),
                 "--decommission-after", str(opt.decommission_after),
                 "--deregister-after-blocks", str(opt.deregister_after_blocks)),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs["chain"] = proc
        self.chain_url = _wait_file(ready, proc, time.monotonic() + opt.timeout)["url"]

    def start_node(self, i: int, opt: DevnetOptions, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        nd = self.directory / f"node-{i:02d}"
        nd.mkdir(parents=True, exist_ok=True)
        ready = nd / "ready.json"
        ready.unlink(missing_ok=True)
        extra += ("--observe", str(nd / "observe.jsonl")) if opt.observe else ()
        extra += ("--misbehave", opt.misbehave[i]) if i in opt.misbehave else ()
        # The child keeps its own copy of the log descriptor; ours is closed at once (a soak
        # restarts nodes thousands of times).
        with open(nd / "node.log", "ab") as log:
            proc = subprocess.Popen(
                _cli("node", "run", "--data-dir", str(nd), "--chain", self.chain_url, "--difficulty",
                     str(opt.difficulty), "--ready-file", str(ready),
                     # The devnet's own servers (file server, rooms) listen on loopback.
                     "--exit-allow-loopback", *opt.node_args, *extra),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.procs[f"node-{i:02d}"] = proc
        info = _wait_file(ready, proc, time.monotonic() + opt.timeout)
        info["name"] = f"node-{i:02d}"
        info["http"] = f"http://{info['ip']}:{info['http_port']}"
        return info

    def _start_server(self, name: str, opt: DevnetOptions, *args: str) -> dict[str, Any]:
        """``session-core NAME run`` in ``<dir>/NAME``; nodes reach it on loopback (they run with
        --exit-allow-loopback).  Returns its ready file."""
        d = self.directory / name
        d.mkdir(parents=True, exist_ok=True)
        ready = d / "ready.json"
        ready.unlink(missing_ok=True)
        log = open(d / f"{name}.log", "ab")
        proc = subprocess.Popen(_cli(name, "run", "--data-dir", str(d), "--ready-file", str(ready), *args),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return _wait_file(ready, proc, time.monotonic() + opt.timeout)

    def start_fileserver(self, opt: DevnetOptions) -> dict[str, Any]:
        """The devnet's file server."""
        info = self._start_server("fileserver", opt)
        # What clients configure (ClientConfig.file_server): the URL with the key, as pointers carry it.
        info["client_url"] = f"{info['url']}#p={info['ed25519']}"
        self.fileserver = info
        return info

    def kill_node(self, i: int) -> None:
        """SIGKILL node *i* (no clean shutdown: what a crash or an OOM kill does) and reap it."""
        p = self.procs.pop(f"node-{i:02d}", None)
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def restart_node(self, i: int, opt: DevnetOptions) -> dict[str, Any]:
        """Start node *i* again on its data dir and its ports (same key, same address)."""
        old = self.nodes[i]
        info = self.start_node(i, opt, ("--http-port", str(old["http_port"]), "--zmq-port", str(old["zmq_port"])))
        self.nodes[i] = info
        return info

    def start_opengroup(self, opt: DevnetOptions) -> dict[str, Any]:
        """The devnet's room server, with rooms lobby and dev."""
        self.opengroup = self._start_server("opengroup", opt, "--room", "lobby:Lobby", "--room", "dev:Development")
        return self.opengroup

    def wait_swarms(self, count: int, timeout: float) -> dict[str, Any]:
        """Wait until *count* nodes are active with a swarm; returns ``get_n_service_nodes``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = rpc_call(self.chain_url, "get_n_service_nodes", {"active_only": True})
            if len(res["service_node_states"]) >= count:
                return dict(res)
            time.sleep(0.2)
        raise DevnetError(f"swarms did not form within {timeout} s")

    def wait_nodes_follow(self, height: int, timeout: float) -> None:
        """Wait until every node has seen at least *height* (so it knows its swarm)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all((http_json(n["http"] + "/status").get("height") or -1) >= height for n in self.nodes):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise DevnetError(f"nodes did not reach height {height} within {timeout} s")

    def up(self, opt: DevnetOptions) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        state = self.directory / STATE_FILE
        if state.exists():
            pids = json.loads(state.read_text()).get("pids", {}).values()
            if any(_alive(p) and _is_ours(p) for p in pids):
                raise DevnetError(f"a devnet is already running from {self.directory}; stop it with `devnet down`")
        try:
            self.start_chain(opt)
            self.nodes = [self.start_node(i, opt) for i in range(opt.nodes)]
            if opt.fileserver:
                self.start_fileserver(opt)
            if opt.opengroup:
                self.start_opengroup(opt)
            res = self.wait_swarms(opt.nodes, opt.timeout)
            self.wait_nodes_follow(int(res["height"]), opt.timeout)
        except BaseException:
            self.down()
            raise
        self.save()

    # -- state --------------------------------------------------------------------------------

    def save(self) -> None:
        state: dict[str, Any] = {
            "chain_rpc": self.chain_url,
            "pids": {name: p.pid for name, p in self.procs.items()},
            "nodes": self.nodes,
        }
        if self.fileserver is not None:
            state["fileserver"] = self.fileserver
        if self.opengroup is not None:
            state["opengroup"] = self.opengroup
        (self.directory / STATE_FILE).write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, directory: Path) -> tuple[Devnet, dict[str, Any]]:
        path = directory / STATE_FILE
        if not path.exists():
            raise DevnetError(f"no devnet is running from {directory} (no {STATE_FILE})")
        state = json.loads(path.read_text())
        net = cls(directory)
        net.chain_url = state["chain_rpc"]
        net.nodes = state["nodes"]
        net.fileserver = state.get("fileserver")
        net.opengroup = state.get("opengroup")
        return net, state

    def status(self) -> dict[str, Any]:
        res = rpc_call(self.chain_url, "get_n_service_nodes", {})
        by_key = {s["pubkey_ed25519"]: s for s in res["service_node_states"]}
        nodes = []
        for n in self.nodes:
            entry = {
                "name": n["name"], "http": n["http"], "ed25519": n["ed25519"], "x25519": n["x25519"],
                "zmq_port": n["zmq_port"],
            }
            chain_state = by_key.get(n["ed25519"], {})
            entry["swarm_id"] = chain_state.get("swarm_id")
            entry["state"] = chain_state.get("state", "unknown")
            try:
                st = http_json(n["http"] + "/status")
                entry.update(height=st["height"], messages=st["messages"], tests_failed=st["tests_failed"])
            except OSError:
                entry.update(height=None, messages=None, state=entry["state"] + " (unreachable)")
            nodes.append(entry)
        out = {"chain_rpc": self.chain_url, "height": res["height"], "block_hash": res["block_hash"], "nodes": nodes}
        if self.fileserver is not None:
            out["fileserver"] = {k: self.fileserver[k] for k in ("url", "ed25519", "x25519", "client_url")}
        if self.opengroup is not None:
            out["opengroup"] = {k: self.opengroup[k] for k in ("url", "x25519", "rooms")}
        return out

    # -- stopping -----------------------------------------------------------------------------

    def stop_proc(self, name: str, timeout: float = 10.0) -> None:
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def down(self, grace: float = 10.0) -> None:
        """Stop every process, the chain last; each gets *grace* seconds after SIGTERM, then SIGKILL."""
        for name in [n for n in self.procs if n != "chain"] + ["chain"]:
            self.stop_proc(name, grace)
        (self.directory / STATE_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it has stopped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _is_ours(pid: int) -> bool:
    try:
        return b"session_core.cli" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return sys.platform != "linux"  # no /proc: trust the state file


def down_from_state(directory: Path, timeout: float = 10.0) -> int:
    """Stop the processes recorded in a devnet's state file; returns how many were signalled."""
    _, state = Devnet.load(directory)
    pids = [pid for name, pid in state["pids"].items() if name != "chain"] + [state["pids"]["chain"]]
    sent = []
    for pid in pids:
        if not _is_ours(pid):
            continue  # gone, and the pid may belong to someone else by now
        try:
            os.kill(pid, signal.SIGTERM)
            sent.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in sent:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    (directory / STATE_FILE).unlink(missing_ok=True)
    return len(sent)
