"""Checking an ``ons_resolve`` answer (sans-IO): is this mapping really on the chain?

An answer is oxend's ``{"encrypted_value", "nonce"}`` plus what our chain adds: the
``expiration_height`` and ``owner`` the leaf commits to and ``proof`` (base64 of an
:class:`~session_core.names.merkle.InclusionProof`).  :func:`verify_answer` rebuilds the leaf
from the answer and the name the client asked for, checks the proof against the ``names_root``
of the header the client synced for ``proof.height``, that the record is live at that height,
and decrypts the value.  A node that forges a value, an owner or an expiry, or that replays an
answer proven against an older block than the client's synced tip (``min_height``), is caught
here; :func:`agree` then requires every node asked to give the same proven answer.

An answer without an ``encrypted_value`` says "not registered"; it carries no proof (absence
proofs are not implemented), so it only stands when every node asked says the same and none
proves the contrary.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_core.errors import NameDisagreementError, NameNotFoundError, NameProofError, NameValueError
from session_core.names.merkle import InclusionProof, verify_inclusion
from session_core.names.name import name_hash
from session_core.names.records import BlockHeader, NameRecord, hex_field
from session_core.names.value import decrypt_value

__all__ = ["VerifiedAnswer", "ProvenName", "NOT_FOUND", "verify_answer", "agree", "parse_proof_b64"]


@dataclass(frozen=True, slots=True)
class ProvenName:
    session_id: str
    owner: str
    expiration_height: int
    height: int  # the block it was proven against


#: What a node says when the name is not registered (oxend: an empty result).
NOT_FOUND = None
#: A checked answer: the proven mapping, or NOT_FOUND.
VerifiedAnswer = ProvenName | None


def parse_proof_b64(value: object) -> InclusionProof:
    if not isinstance(value, str):
        raise NameProofError("the answer carries no `proof`")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NameProofError("`proof` is not valid base64") from None
    return InclusionProof.from_bytes(raw)


def verify_answer(
    name: str, result: Any, header_at: Callable[[int], BlockHeader], min_height: int,
) -> VerifiedAnswer:
    """The proven mapping in *result* (an ``ons_resolve`` result), or None for "not registered".

    *header_at(h)* returns the client's synced header at height h (raising
    :class:`NameProofError` when it has none); an answer proven against a block below
    *min_height* is stale.  Raises :class:`NameProofError` for anything that does not check out.
    """
    if not isinstance(result, Mapping):
        raise NameProofError("the answer is not an object")
    if "encrypted_value" not in result:
        return NOT_FOUND
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
    """The one mapping every node gave, from ``(node, verified answer or its error)`` pairs.

    Raises :class:`NameDisagreementError` naming the nodes whose answers failed verification
    or that claimed "not registered" against another node's proof, and
    :class:`NameNotFoundError` when every node said "not registered".
    """
    culprits = [node for node, a in answers if isinstance(a, NameProofError)]
    proven = [(node, a) for node, a in answers if isinstance(a, ProvenName)]
    absent = [node for node, a in answers if a is None]
    if proven and absent:
        culprits += absent  # a valid proof of the name beats an unproven "not registered"
    if culprits:
        why = "; ".join(f"{node[:12]}…: {a}" for node, a in answers if isinstance(a, NameProofError))
        raise NameDisagreementError(
            f"{len(culprits)} of {len(answers)} nodes gave a bad answer for {name!r}" + (f" ({why})" if why else ""),
            tuple(culprits),
        )
    if not proven:
        raise NameNotFoundError(f"the name {name!r} is not registered (or its registration expired)")
    # Two valid proofs differ only if the name changed between their blocks (a block was made
    # while we asked): the later block wins.  One block has one root, so one value per block.
    return max((a for _, a in proven), key=lambda a: a.height)
