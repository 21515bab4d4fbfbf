"""The opengroup CLI's member and moderator commands against a room server process, over plain
HTTP (``--direct``): blinded DMs (``dm``, ``inbox``), posts with a file (``post --file``,
``read --save``), reactions (``react``), and ``delete-all``/``unban``; bad input gets one line
with a hint, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from session_core.client.db import ClientDB
from session_core.cli import cli
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

MOD = Identity.generate()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    d = tmp_path_factory.mktemp("og-cli-more")
    ready = d / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "session_core.cli", "opengroup", "run", "--data-dir", str(d),
                             "--ready-file", str(ready), "--room", "lobby:The Lobby", "--room", "dev",
                             "--admin", MOD.session_id, "--rate", "10/60", "--reaction-rate", "4/600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            if ready.exists():
                break
            assert proc.poll() is None, "the room server exited"
            time.sleep(0.05)
        yield json.loads(ready.read_text())
    finally:
        proc.terminate()
        proc.wait(10)


Og = Callable[..., Result]


@pytest.fixture
def og(server: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Og:
    """og(profile, command, *args, ok=True): run ``opengroup COMMAND --profile P --direct ARGS``."""
    monkeypatch.setenv("SESSION_CORE_PASSPHRASE", "pw")
    monkeypatch.chdir(tmp_path)

    def run(profile: str, command: str, *args: str, ok: bool = True) -> Result:
        r = CliRunner().invoke(cli, ["opengroup", command, "--profile", profile, "--home", str(tmp_path), "--direct",
                                     *args])
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


def one_line_error(r: Result, *needles: str) -> None:
    assert r.exit_code in (1, 2), r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, r.output
    for n in needles:
        assert n in errors[0], (n, r.output)


def people(home: Path, server: dict[str, str], og: Og, *names: str) -> dict[str, str]:
    """Profiles that joined the lobby: name -> blinded ID there."""
    store = ProfileStore(home)
    ids = {}
    for n in names:
        ident = MOD if n == "mod" else Identity.generate()
        store.create(n, ident, "pw", display_name=n.title(), created_ms=1)
        out = og(n, "join", server["rooms"]["lobby"]).output
        ids[n] = out.split()[-1]
        assert ids[n].startswith("15")
    return ids


def test_dm_and_inbox_show_contacts_by_session_id(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    ids = people(tmp_path, server, og, "ann", "ben", "cat")
    store = ProfileStore(tmp_path)
    # ben knows ann as a contact; cat is a stranger to him
    ann = store.load("ann", "pw")
    db = ClientDB(store.profile_dir("ben") / "client.db", store.load("ben", "pw"))
    m = db.load_messenger(store.load("ben", "pw"), "Ben")
    m.apply_synced_contact(ann.session_id, approved=True, approved_me=True)
    m.contacts[ann.session_id].display_name = "Ann from work"
    db.save_messenger(m)
    db.close()
    og("ben", "read", "--room", "lobby")  # ben takes part in the room
    out = og("ann", "dm", "--room", "lobby", "--to", ids["ben"], "hi ben, it is ann").output
    assert "sent DM #" in out
    og("cat", "dm", "--room", "lobby", "--to", ids["ben"], "psst from a stranger")
    out = og("ben", "inbox").output.splitlines()
    assert len(out) == 2, out
    assert f"from {ids['ann']} (Ann from work, {ann.session_id}): hi ben, it is ann" in out[0]
    assert f"from {ids['cat']} (not a contact): psst from a stranger" in out[1]
    assert store.load("cat", "pw").session_id not in "\n".join(out)
    assert og("ben", "inbox").output.strip() == "no new DMs"  # read up to there
    lines = [json.loads(x) for x in og("ben", "inbox", "--all", "--json").output.splitlines()]
    assert [(x["sender"], x["session_id"]) for x in lines] == [(ids["ann"], ann.session_id), (ids["cat"], None)]
    # the server holds only opaque bodies: ann's inbox is empty, her outbox not readable as text
    assert og("ann", "inbox").output.strip() == "no new DMs"


def test_dm_bad_input_is_one_line_with_a_hint(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    ids = people(tmp_path, server, og, "dan")
    one_line_error(og("dan", "dm", "--room", "lobby", "--to", "05" + "ab" * 32, "x", ok=False), "not a blinded ID", "15")
    one_line_error(og("dan", "dm", "--room", "lobby", "--to", "15zz", "x", ok=False), "not a blinded ID")
    one_line_error(og("dan", "dm", "--room", "nowhere", "--to", ids["dan"], "x", ok=False), "no joined room")
    one_line_error(og("dan", "dm", "--room", "lobby", "--to", ids["dan"], "x", ok=False), "your own")
    # a well-formed ID nobody on the server uses
    from session_core import blinding

    stranger = blinding.blind15_key_pair(Identity.generate().ed25519_seed, bytes.fromhex(server["x25519"])).blinded_id
    one_line_error(og("dan", "dm", "--room", "lobby", "--to", stranger, "x", ok=False), "cannot get DMs", "hint:")


def test_post_a_file_and_save_it_safely_under_the_profile(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    people(tmp_path, server, og, "eve", "fay")
    src = tmp_path / "notes.txt"
    src.write_bytes(b"meeting at noon\n")
    out = og("eve", "post", "--room", "lobby", "--file", str(src), "see the notes").output
    assert "with file #" in out and "notes.txt" in out
    out = og("fay", "read", "--room", "lobby", "--all").output
    assert "see the notes" in out and "'notes.txt' (16 bytes)" in out and "saved" not in out
    out = og("fay", "read", "--room", "lobby", "--all", "--save").output
    fay_dir = ProfileStore(tmp_path).profile_dir("fay")
    saved = fay_dir / "attachments" / "notes.txt"
    assert f"saved to {saved}" in out and saved.read_bytes() == b"meeting at noon\n"
    og("fay", "read", "--room", "lobby", "--all", "--save")
    assert (fay_dir / "attachments" / "notes (1).txt").read_bytes() == b"meeting at noon\n"  # never overwritten
    one_line_error(og("eve", "post", "--room", "lobby", ok=False), "TEXT", "--file")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    one_line_error(og("eve", "post", "--room", "lobby", "--file", str(empty), ok=False), "empty")


def test_hostile_file_links_are_not_followed_or_written_outside(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    """A post's author chooses its file names and links: names are made safe, and links to other
    servers or rooms are not fetched."""
    import asyncio

    from session_core.client.joined_rooms import JoinedRooms
    from session_core.client.opengroup import RoomClient
    from session_core.client.server_link import DirectLink
    from session_core.rooms.post import RoomFile, RoomPost, file_url

    people(tmp_path, server, og, "gus", "hal")
    og("hal", "read", "--room", "lobby")  # what other tests posted is read already
    ref = JoinedRooms(ProfileStore(tmp_path).profile_dir("gus") / "rooms.json").refs()[0]
    ident = ProfileStore(tmp_path).load("gus", "pw")

    async def hostile_post() -> None:
        link = DirectLink(ref, timeout=10)
        c = RoomClient(ident.ed25519_seed, ref.server_pk, link)
        fid = await c.upload("lobby", b"payload")
        files = [RoomFile(file_url(ref, fid), "../../escape.sh", 7), RoomFile(file_url(ref, fid), "/etc/passwd", 7),
                 RoomFile("http://evil.example/room/lobby/file/1", "x", 1),
                 RoomFile(file_url(ref, fid).replace("/lobby/", "/dev/"), "y", 1)]
        await c.post("lobby", RoomPost("look", files).to_bytes(), files=[fid])
        await link.close()

    asyncio.run(hostile_post())
    out = og("hal", "read", "--room", "lobby", "--save").output
    assert out.count("outside this room") == 2 and "evil.example" in out
    hal_files = ProfileStore(tmp_path).profile_dir("hal") / "attachments"
    saved = sorted(p.name for p in hal_files.iterdir())
    assert saved == ["escape.sh", "passwd"]
    assert [p for p in tmp_path.rglob("escape.sh")] == [hal_files / "escape.sh"]


def test_react_from_the_cli(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    ids = people(tmp_path, server, og, "mod", "ida", "jon")
    msg_id = og("ida", "post", "--room", "lobby", "react to this").output.split()[1].lstrip("#")
    assert "reacted 👍" in og("jon", "react", "--room", "lobby", msg_id, "👍").output
    assert "already reacted" in og("jon", "react", "--room", "lobby", msg_id, "👍").output
    og("mod", "react", "--room", "lobby", msg_id, "👍")
    assert "react to this  👍×2" in og("ida", "read", "--room", "lobby", "--all").output
    og("ida", "read", "--room", "lobby")
    og("mod", "react", "--room", "lobby", msg_id, "👀")  # a reaction alone: read up to it, nothing new
    assert og("ida", "read", "--room", "lobby").output == ""
    assert " 0 new" in og("ida", "rooms").output
    assert "removed 👍" in og("jon", "react", "--room", "lobby", "--remove", msg_id, "👍").output
    assert "had not reacted" in og("jon", "react", "--room", "lobby", "--remove", msg_id, "👍").output
    # bad input: one line each
    one_line_error(og("jon", "react", "--room", "lobby", msg_id, "x" * 13, ok=False), "1 to 12", "hint")
    one_line_error(og("jon", "react", "--room", "lobby", "999999", "👍", ok=False), "404", "hint")
    one_line_error(og("jon", "react", "--room", "lobby", "abc", "👍", ok=False), "MSG_ID")
    og("mod", "ban", "--room", "lobby", ids["jon"])
    one_line_error(og("jon", "react", "--room", "lobby", msg_id, "👍", ok=False), "403", "banned", "hint")
    assert "unbanned" in og("mod", "unban", "--room", "lobby", ids["jon"]).output
    og("jon", "react", "--room", "lobby", msg_id, "🎉")
    og("jon", "react", "--room", "lobby", msg_id, "🚀")  # jon's 4th change in this room: the limit
    one_line_error(og("jon", "react", "--room", "lobby", msg_id, "🍕", ok=False), "429", "too fast", "slow down")
    og("mod", "react", "--room", "lobby", msg_id, "🍕")  # moderators are not limited


def test_delete_all_and_unban(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    ids = people(tmp_path, server, og, "mod", "kim", "lou")
    for i in range(3):
        og("kim", "post", "--room", "lobby", f"spam {i}")
    og("lou", "post", "--room", "lobby", "not spam")
    one_line_error(og("lou", "delete-all", "--room", "lobby", "--user", ids["kim"], ok=False), "403", "hint")
    assert "deleted 3 messages" in og("mod", "delete-all", "--room", "lobby", "--user", ids["kim"]).output
    out = og("lou", "read", "--room", "lobby", "--all").output
    assert "spam 0" not in out and "not spam" in out
    assert "deleted 0 messages" in og("mod", "delete-all", "--room", "lobby", "--user", ids["kim"]).output
    # by Session ID (the server covers both blinded IDs it may have), globally banned, then unbanned
    kim_sid = ProfileStore(tmp_path).load("kim", "pw").session_id
    og("mod", "ban", "--global", kim_sid)
    one_line_error(og("kim", "post", "--room", "lobby", "back", ok=False), "403", "banned")
    assert "unbanned" in og("mod", "unban", "--global", kim_sid).output
    og("kim", "post", "--room", "lobby", "back")
    # bad input
    one_line_error(og("mod", "delete-all", "--room", "lobby", "--user", "15abc", ok=False), "not a blinded", "--ids")
    one_line_error(og("mod", "unban", ids["kim"], ok=False), "--room", "--global")
    one_line_error(og("mod", "unban", "--room", "nowhere", ids["kim"], ok=False), "no joined room")
