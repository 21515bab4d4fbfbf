"""Device linking, the client side (docs/devices.md): the existing device offers, the new one
imports, and the offer can be revoked before it expires.

:func:`offer_link` stores a link record (the account seed under a one-time key,
:mod:`session_core.protocol.link`) in the own swarm and returns the code to show;
:func:`import_link` finds the record in the swarm the code names, opens it and acks it;
:func:`link_acks` counts the acks.  :func:`revoke_links` takes the records of the offers not
expired yet out of the swarm (a signed ``expire`` to now, the only deletion our nodes do): a code
shown to the wrong person, or not used after all, is worthless from then on.  The offers are
remembered in the profile's database by record hash and expiry only (never the key), so a later
run can revoke an offer made with ``--no-wait``.
"""

from __future__ import annotations

from dataclasses import dataclass

from session_core.client.clock import NetworkClock
from session_core.client.db import ClientDB
from session_core.client.router import Retrieved, SwarmRouter
from session_core.errors import ClientError, DeliveryError, LinkCodeError, LinkExpiredError
from session_core.identity import Identity
from session_core.protocol.link import LINK_TTL_MS, LinkCode, ack_for, is_link_record, make_link, open_link

__all__ = ["LinkOffer", "import_link", "link_acks", "offer_link", "outstanding_offers", "revoke_links"]

_OFFERS = "link_offers"


@dataclass(frozen=True)
class LinkOffer:
    """A link record in the own swarm: the node's hash of it and when it expires."""

    record_hash: str
    expires_ms: int


async def offer_link(router: SwarmRouter, clock: NetworkClock, identity: Identity,
                     ttl_ms: int = LINK_TTL_MS, *, db: ClientDB | None = None) -> LinkCode:
    """Store a link record in the own swarm; the code returned is what to show the new device.
    With ``db`` (the profile's), the offer is remembered for :func:`revoke_links`."""
    now = clock.now_ms()
    code, record = make_link(identity, now_ms=now, ttl_ms=ttl_ms)
    rep = await router.store(identity.session_id, record, ttl_ms)
    if db is not None and rep.message_hash:
        _remember(db, outstanding_offers(db, now) + [LinkOffer(rep.message_hash, now + ttl_ms)])
    return code


def outstanding_offers(db: ClientDB, now_ms: int) -> list[LinkOffer]:
    """The offers remembered in ``db`` that have not expired."""
    saved = db.get(_OFFERS)
    offers = [LinkOffer(str(h), int(at)) for h, at in saved] if isinstance(saved, list) else []
    return [o for o in offers if o.expires_ms > now_ms]


async def revoke_links(router: SwarmRouter, clock: NetworkClock, identity: Identity, db: ClientDB) -> int:
    """Take every outstanding offer's record out of the own swarm; returns how many offers were
    revoked (each confirmed by at least one swarm member's signed answer).  An offer no member
    confirmed stays remembered, so revoking again retries it."""
    now = clock.now_ms()
    offers = outstanding_offers(db, now)
    left = []
    for offer in offers:
        try:
            confirmed = await router.expire(identity, [(offer.record_hash, now)])
        except ClientError:
            confirmed = 0
        if not confirmed:
            left.append(offer)
    _remember(db, left)
    return len(offers) - len(left)


def _remember(db: ClientDB, offers: list[LinkOffer]) -> None:
    db.put(_OFFERS, [[o.record_hash, o.expires_ms] for o in offers])


async def import_link(router: SwarmRouter, clock: NetworkClock, code: LinkCode) -> Identity:
    """The account behind ``code``: its record from the account's swarm, opened and acked."""
    router.last_hash.clear()  # read the whole swarm: the record may be anywhere in it
    expired: LinkExpiredError | None = None
    for item in await _read_all(router, code.session_id):
        if not is_link_record(item.data):
            continue
        try:
            identity = open_link(code, item.data, now_ms=clock.now_ms())
        except LinkExpiredError as exc:
            expired = exc
            continue
        except LinkCodeError:
            continue  # another offer's record: keep looking
        await router.store(code.session_id, ack_for(code), LINK_TTL_MS)
        return identity
    if expired is not None:
        raise expired
    raise DeliveryError("no link record for this code in the account's swarm (expired, or not stored yet)")


async def link_acks(router: SwarmRouter, code: LinkCode) -> int:
    """How many devices acked ``code`` so far (read from the whole own swarm)."""
    ack = ack_for(code)
    saved = dict(router.last_hash)
    router.last_hash.clear()
    try:
        got = await _read_all(router, code.session_id)
    finally:
        router.last_hash.clear()
        router.last_hash.update(saved)
    return len({item.hash for item in got if item.data == ack})


async def _read_all(router: SwarmRouter, pubkey: str, max_polls: int = 50) -> list[Retrieved]:
    """Everything in ``pubkey``'s swarm from the router's last hashes on (one poll stops after
    10 pages per node)."""
    out: list[Retrieved] = []
    for _ in range(max_polls):
        got = await router.poll(pubkey)
        if not got:
            break
        out += got
    return out
