"""Group invitations end to end on the in-memory network: the admin invites through the 1:1
conversation, the invitee sees it, accepts (joins) and reads the group; a forwarded or
unsolicited invitation gives nothing, declining forgets it, a blocked contact's is hidden."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.groups import Groups
from session_core.errors import GroupInviteError, GroupOperationError, NotGroupAdminError
from session_core.identity import Identity
from session_core.testing.memnet import MemNetwork, MemTransport


def make(net: MemNetwork, tmp: Path, name: str, addr: str) -> Client:
    cfg = ClientConfig([net.seed_url], tmp / name, poll_interval=0.05, request_timeout=2.0, sync=False)
    return Client(Identity.generate(), name, cfg, transport=MemTransport(net, addr), rng=random.Random())


async def befriend(a: Client, b: Client) -> None:
    await a.send_friend_request(b.session_id, "hi")
    assert [e.kind for e in await b.poll_swarm()] == ["request"]
    await b.accept(a.session_id)
    assert [e.kind for e in await a.poll_swarm()] == ["accepted"]


@pytest.fixture
async def pair(tmp_path: Path):  # type: ignore[no-untyped-def]
    net = MemNetwork(12)
    ann, ben, cal = (make(net, tmp_path, n, f"192.0.2.{i + 1}") for i, n in enumerate(("ann", "ben", "cal")))
    for c in (ann, ben, cal):
        await c.start(loops=False)
    await befriend(ann, ben)
    yield ann, ben, cal
    for c in (ann, ben, cal):
        await c.stop()


async def test_invited_member_accepts_and_reads_the_group(pair) -> None:  # type: ignore[no-untyped-def]
    ann, ben, cal = pair
    ga, gb = Groups(ann), Groups(ben)
    gid, _ = await ga.create([ben.session_id, cal.session_id], name="Climbers")
    outcome = await ga.invite(gid, [ben.session_id, cal.session_id])
    assert outcome[ben.session_id] == "async"
    assert outcome[cal.session_id].startswith("not invited")  # not a contact of ann: tell them by hand
    events = await ben.poll_swarm()
    assert [(e.kind, e.peer, e.text, e.name) for e in events] == [("group_invite", ann.session_id, gid, "Climbers")]
    assert [(p.group_id, p.name, p.sender) for p in gb.invites()] == [(gid, "Climbers", ann.session_id)]
    assert gid not in gb.groups  # nothing joined before the user says so
    g = gb.accept_invite(gid)
    assert g.group_id == gid and gb.name(gid) == "Climbers" and gb.invites() == []
    assert [e.kind for e in await gb.poll(gid)] == ["members"]
    await gb.send(gid, "thanks for the invite")
    assert [e.text for e in await ga.poll(gid) if e.kind == "message"] == ["thanks for the invite"]
    with pytest.raises(GroupOperationError, match="no pending invitation"):
        gb.accept_invite(gid)  # answered already


async def test_declining_forgets_and_members_cannot_invite(pair) -> None:  # type: ignore[no-untyped-def]
    ann, ben, _ = pair
    ga, gb = Groups(ann), Groups(ben)
    gid, _ = await ga.create([ben.session_id])
    await ga.invite(gid, [ben.session_id])
    await ben.poll_swarm()
    assert gb.decline_invite(gid) and gb.invites() == [] and not gb.decline_invite(gid)
    assert gid not in gb.groups
    gb.join(gid)
    with pytest.raises(NotGroupAdminError, match="only the admin"):
        await gb.invite(gid, [ann.session_id])


async def test_a_name_out_of_bounds_is_refused_before_anything_is_stored(pair) -> None:  # type: ignore[no-untyped-def]
    ann, _, _ = pair
    ga = Groups(ann)
    with pytest.raises(GroupInviteError, match="group name"):
        await ga.create([], name="x" * 101)
    assert ga.groups == {}


async def test_invites_survive_a_restart_until_answered(tmp_path: Path) -> None:
    net = MemNetwork(12)
    ann, ben = make(net, tmp_path, "ann", "192.0.2.1"), make(net, tmp_path, "ben", "192.0.2.2")
    for c in (ann, ben):
        await c.start(loops=False)
    await befriend(ann, ben)
    gid, _ = await Groups(ann).create([ben.session_id], name="g")
    await Groups(ann).invite(gid, [ben.session_id])
    await ben.poll_swarm()
    await ben.stop()
    again = Client(ben.identity, "ben", ben.cfg, transport=MemTransport(net, "192.0.2.2"), rng=random.Random())
    await again.start(loops=False)
    assert [p.group_id for p in Groups(again).invites()] == [gid]
    await again.stop()
    await ann.stop()


async def test_a_blocked_contacts_invitation_is_hidden(tmp_path: Path) -> None:
    net = MemNetwork(12)
    ann = make(net, tmp_path, "ann", "192.0.2.1")
    cfg = ClientConfig([net.seed_url], tmp_path / "ben", poll_interval=0.05, request_timeout=2.0, sync=False,
                       multi_device=True)  # blocking is an account setting (contacts config)
    ben = Client(Identity.generate(), "ben", cfg, transport=MemTransport(net, "192.0.2.2"), rng=random.Random())
    for c in (ann, ben):
        await c.start(loops=False)
    await befriend(ann, ben)
    gid, _ = await Groups(ann).create([ben.session_id])
    ben.block(ann.session_id)
    await Groups(ann).invite(gid, [ben.session_id])
    assert [e.kind for e in await ben.poll_swarm()] == []
    assert Groups(ben).invites() == []
    for c in (ann, ben):
        await c.stop()
