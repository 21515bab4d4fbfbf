"""Checking an ``ons_resolve`` answer (sans-IO): is this mapping really on the chain?

An answer is oxend's ``{"encrypted_value", "nonce"}`` plus what our chain adds: the
``expiration_height`` and ``owner`` the leaf commits to and ``proof`` (base64 of an
:class:`~session_core.names.merkle.InclusionProof`).  :func:`verify_answer` rebuilds the leaf
from the answer and the name the client asked for, checks the proof against the ``names_root``
of the header the client synced for ``proof.height``, that the record is live at that height,
and decrypts the value.  A node that forges a value, an owner or an expiry, or that replays an
answer proven against an older block than the client's synced tip (``min_height``), is caught
here; :func:`agree` then requires every node asked to give the same proven answer.

An answer without an ``encrypted_value`` says "not registered" and must prove it: the name's two
neighbours in the block's sorted tree (:mod:`session_core.names.absence`).  So three colluding
nodes can no longer hide a registered name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_core.errors import NameDisagreementError, NameNotFoundError, NameProofError, NameValueError
from session_core.names.absence import verify_absence
from session_core.names.merkle import parse_proof_b64, verify_inclusion
from session_core.names.name import name_hash
from session_core.names.records import BlockHeader, NameRecord, hex_field
from session_core.names.value import decrypt_value

__all__ = ["VerifiedAnswer", "ProvenName", "ProvenAbsent", "verify_answer", "agree", "parse_proof_b64"]


@dataclass(frozen=True, slots=True)
class ProvenName:
    session_id: str
    owner: str
    expiration_height: int
    height: int  # the block it was proven against


@dataclass(frozen=True, slots=True)
class ProvenAbsent:
    """The name is not registered (or expired) at block ``height``: proven by its neighbours."""

    height: int


#: A checked answer: the proven mapping, or the proven absence.
VerifiedAnswer = ProvenName | ProvenAbsent


def verify_answer(
    name: str, result: Any, header_at: Callable[[int], BlockHeader], min_height: int,
) -> VerifiedAnswer:
    """The proven mapping in *result* (an ``ons_resolve`` result), or its proven absence.

    *header_at(h)* returns the client's synced header at height h (raising
    :class:`NameProofError` when it has none); an answer proven against a block below
    *min_height* is stale.  Raises :class:`NameProofError` for anything that does not check out.
    """
    if not isinstance(result, Mapping):
        raise NameProofError("the answer is not an object")
    if "encrypted_value" not in result:
        return ProvenAbsent(verify_absence(name_hash(name), result.get("absence"), header_at, min_height))
    proof = parse_proof_b64(result.get("proof"))
    if proof.height < min_height:
        raise NameProofError(f"stale answer: proven at block {proof.height}, the chain is at {min_height}")
    expiration = result.get("expiration_height")
    if not isinstance(expiration, int) or isinstance(expiration, bool) or expiration < 0:
        raise NameProofError("`expiration_height` must be a non-negative integer")
    nonce = hex_field(result, "nonce", 24) if "nonce" in result else b""
    record = NameRecord(name_hash(name), hex_field(result, "owner", 32), expiration, hex_field(result, "encrypted_value", None), nonce)
    header = header_at(proof.height)
    verify_inclusion(record.leaf(), proof, header.names_root)
    if not record.live_at(proof.height):
        raise NameProofError(f"the record expired at block {expiration}, before block {proof.height}")
    try:
        sid = decrypt_value(name, record.encrypted_value, record.nonce or None)
    except NameValueError as exc:
        # Committed on the chain, yet unreadable: the registrant stored garbage. Not the node's fault.
        raise NameValueError(f"the name's value on the chain is unreadable: {exc}") from None
    return ProvenName(sid, record.owner.hex(), expiration, proof.height)


def agree(name: str, answers: Sequence[tuple[str, VerifiedAnswer | NameProofError]]) -> ProvenName:
    """The one mapping the nodes' proven answers give, from ``(node, verified answer or its
    error)`` pairs.

    Every answer is proven (a mapping, or an absence), so two valid answers differ only if the
    name changed between their blocks (a block was made while we asked): the latest block wins.
    Raises :class:`NameDisagreementError` naming the nodes whose answers failed verification,
    and :class:`NameNotFoundError` when the latest proven answer is the name's absence.
    """
    culprits = [node for node, a in answers if isinstance(a, NameProofError)]
    if culprits:
        why = "; ".join(f"{node[:12]}…: {a}" for node, a in answers if isinstance(a, NameProofError))
        raise NameDisagreementError(
            f"{len(culprits)} of {len(answers)} nodes gave a bad answer for {name!r} ({why})", tuple(culprits),
        )
    proven = [a for _, a in answers if not isinstance(a, NameProofError)]
    if not proven:
        raise NameNotFoundError(f"no answer for the name {name!r}")
    # At one height there is one root: a mapping and an absence cannot both verify.
    latest = max(proven, key=lambda a: (a.height, isinstance(a, ProvenName)))
    if isinstance(latest, ProvenAbsent):
        raise NameNotFoundError(f"the name {name!r} is not registered (or its registration expired): "
                                f"proven at block {latest.height}")
    return latest
