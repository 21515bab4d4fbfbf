"""The opengroup CLI's pins (``pin``, ``unpin``, ``rooms``, ``read --pinned``) and whispers
(``post --whisper-to/--whisper-mods``, marked in ``read``) against a room server process over
plain HTTP; every refusal or bad input is one ``Error:`` line, never a traceback."""

from __future__ import annotations

from pathlib import Path

from session_core.identity import Identity
from session_core.identity_store import ProfileStore
from tests.test_opengroup_cli_more import Og, og, one_line_error, people, server  # noqa: F401 (fixtures)


def _id_of(output: str) -> str:
    """The message id in "posted #12 (seqno 3) ..." / "whisper to ... #12 ..."."""
    return next(w for w in output.split() if w.startswith("#")).lstrip("#")


def test_pin_show_and_unpin_from_the_cli(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    people(tmp_path, server, og, "mod", "ann", "ben")
    first = _id_of(og("ann", "post", "--room", "lobby", "first rule").output)
    second = _id_of(og("ann", "post", "--room", "lobby", "second rule").output)
    assert "nothing is pinned" in og("ben", "read", "--room", "lobby", "--pinned").output
    assert f"pinned #{first} in lobby (pins, oldest first: #{first})" in \
        og("mod", "pin", "--room", "lobby", first).output
    assert f"oldest first: #{first} #{second}" in og("mod", "pin", "--room", "lobby", second).output
    assert f"oldest first: #{second} #{first}" in og("mod", "pin", "--room", "lobby", first).output  # re-pin
    assert f"pinned #{second} #{first}" in og("ben", "rooms").output
    lines = og("ben", "read", "--room", "lobby", "--pinned").output.splitlines()
    assert [line.split()[0] for line in lines] == [f"#{second}", f"#{first}"]
    assert "second rule" in lines[0] and "(pinned " in lines[0]
    read = og("ben", "read", "--room", "lobby", "--all").output
    assert "(pinned) first rule" in read and "(pinned) second rule" in read
    assert f"unpinned #{first}" in og("mod", "unpin", "--room", "lobby", first).output
    assert f"#{first} was not pinned" in og("mod", "unpin", "--room", "lobby", first).output
    assert "unpinned 1 message in lobby" in og("mod", "unpin", "--room", "lobby", "--all").output
    assert "pinned" not in og("ben", "rooms").output
    # refusals and bad input: one line each
    one_line_error(og("ann", "pin", "--room", "lobby", first, ok=False), "403", "admin", "hint")
    one_line_error(og("mod", "pin", "--room", "lobby", "999999", ok=False), "404", "hint")
    one_line_error(og("mod", "pin", "--room", "lobby", "abc", ok=False), "MSG_ID")
    one_line_error(og("mod", "pin", "--room", "lobby", "0", ok=False), "MSG_ID")
    one_line_error(og("mod", "unpin", "--room", "lobby", ok=False), "MSG_ID or --all")
    one_line_error(og("mod", "unpin", "--room", "lobby", "--all", first, ok=False), "MSG_ID or --all")
    one_line_error(og("mod", "pin", "--room", "nowhere", first, ok=False), "no joined room")


def test_whisper_from_the_cli(server: dict[str, str], og: Og, tmp_path: Path) -> None:
    ids = people(tmp_path, server, og, "mod", "cat", "dan")
    for n in ("cat", "dan"):
        og(n, "read", "--room", "lobby")  # read what other tests posted
    out = og("mod", "post", "--room", "lobby", "--whisper-to", ids["cat"], "cat, calm down").output
    assert out.startswith(f"whisper to {ids['cat'][:12]}… #")
    cat_sid = ProfileStore(tmp_path).load("cat", "pw").session_id
    og("mod", "post", "--room", "lobby", "--whisper-to", cat_sid, "--whisper-mods", "noted for the mods too")
    og("mod", "post", "--room", "lobby", "--whisper-mods", "mods only")
    og("mod", "post", "--room", "lobby", "everyone")
    cat = og("cat", "read", "--room", "lobby").output
    assert "(whisper to you) cat, calm down" in cat
    assert "(whisper to you and the moderators) noted for the mods too" in cat
    assert "mods only" not in cat and "everyone" in cat
    dan = og("dan", "read", "--room", "lobby").output
    assert "calm down" not in dan and "noted" not in dan and "mods only" not in dan and "everyone" in dan
    assert "(whisper to the moderators) mods only" in og("mod", "read", "--room", "lobby", "--all").output
    # refusals and bad input: one line each
    one_line_error(og("dan", "post", "--room", "lobby", "--whisper-to", ids["cat"], "psst", ok=False),
                   "403", "moderators", "hint")
    one_line_error(og("dan", "post", "--room", "lobby", "--whisper-mods", "psst", ok=False), "403")
    one_line_error(og("mod", "post", "--room", "lobby", "--whisper-to", "15abc", "x", ok=False),
                   "--whisper-to", "not a blinded")
    one_line_error(og("mod", "post", "--room", "lobby", "--whisper-to", "15" + "ab" * 32, "x", ok=False), "400")
    one_line_error(og("mod", "post", "--room", "lobby", "--whisper-to", "05" + "11" * 32, "x", ok=False),
                   "400", "not a usable")
    stranger = Identity.generate().session_id  # a real Session ID this server never saw
    one_line_error(og("mod", "post", "--room", "lobby", "--whisper-to", stranger, "x", ok=False),
                   "404", "has used this server")
