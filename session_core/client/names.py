"""Names on the client: registering them with the chain, and resolving them through nodes.

Theory of operation
-------------------
*Headers.* :class:`HeaderSync` fetches block headers from the chain RPC
(``get_block_headers_range``) and keeps them only if each links to the one before by hash, from
genesis on; it never takes a header from a service node.  With a ``cache`` file the headers
synced so far are kept on disk and only newer ones are fetched next time: the cache is checked
link by link when read and its last header must be the chain's at that height (so, by the
links, all of them are); a cache the chain does not continue (a new devnet under the same URL)
is dropped and the sync starts over.

*Resolving.* :class:`NameResolver` syncs the headers up to the chain's tip T, then asks 3
random service nodes, each through its own onion path, ``oxend_request`` /
``ons_resolve {type: 0, name_hash}`` (what Session apps send; the node forwards it to its chain).
Each answer must carry a Merkle proof of the record against the synced header of its block
(syncing further when the node saw a newer block), be live there and not older than T
(:func:`session_core.names.verify_answer`).  All three must then agree
(:func:`session_core.names.agree`): a node answering a forged, altered, expired or stale
mapping is named in :class:`~session_core.errors.NameDisagreementError`, never believed.  A
node that cannot be reached is replaced by another; that is not blamed on it.

*Registering* talks to the chain RPC, like a wallet to its daemon: read the name's record
(``ons_record``: version, owner, fee), check what can be checked before paying (valid name, not
someone else's, not expired), sign the operation with the identity's Ed25519 key and submit it.
It applies in the next block.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nacl.signing import SigningKey

from session_core.client.onion_client import RpcResult
from session_core.client.snode import Snode
from session_core.errors import (
    ChainError, NameOperationError, NameProofError, OnionRequestFailedError,
)
from session_core.identity import Identity
from session_core.names import (
    BlockHeader, NameOp, ProvenName, VerifiedAnswer, agree, check_header_chain, encrypt_value, name_hash_b64,
    normalize_name, verify_answer,
)
from session_core.names.merkle import parse_proof_b64

__all__ = ["HeaderSync", "NameResolver", "Resolution", "NameRegistrar", "RESOLVE_COPIES", "header_cache_path"]

log = logging.getLogger("session_core.client.names")

RESOLVE_COPIES = 3  # as Session's apps: ask 3 nodes, require the same answer
_HEADERS_PER_CALL = 1000
ChainCall = Callable[[str, Any], Awaitable[Any]]


class Requester(Protocol):
    """What the resolver needs of an :class:`~session_core.client.onion_client.OnionClient`."""

    async def request(self, dest: Snode, method: str, params: dict[str, Any]) -> RpcResult: ...


def header_cache_path(directory: Path, chain_url: str) -> Path:
    """Where the headers of the chain at ``chain_url`` are cached under ``directory``."""
    return directory / "chain_headers" / (hashlib.sha256(chain_url.encode()).hexdigest()[:16] + ".json")


class HeaderSync:
    def __init__(self, call: ChainCall, cache: Path | None = None) -> None:
        self._call = call
        self.headers: list[BlockHeader] = []
        self._lock = asyncio.Lock()  # three answers may ask for newer headers at once
        self._cache = cache
        self._cache_read = cache is None
        self._from_cache = 0  # how many of self.headers came from the cache

    @property
    def tip(self) -> BlockHeader | None:
        return self.headers[-1] if self.headers else None

    def at(self, height: int) -> BlockHeader:
        if not 0 <= height < len(self.headers):
            raise NameProofError(f"no synced header at block {height} (synced up to {len(self.headers) - 1})")
        return self.headers[height]

    async def chain_tip(self) -> int:
        info = await self._call("get_info", {})
        height = info.get("height") if isinstance(info, dict) else None
        if not isinstance(height, int) or height < 1:
            raise ChainError("chain get_info: no height")
        return height - 1  # oxend's height counts blocks

    async def sync(self, upto: int | None = None) -> BlockHeader:
        """Fetch and check headers up to *upto* (default: the chain's tip); returns the last."""
        target = await self.chain_tip() if upto is None else upto
        async with self._lock:
            if not self._cache_read:
                await self._read_cache(target)
            had = len(self.headers)
            try:
                await self._fetch(target)
            except NameProofError:
                if not self._from_cache:
                    raise
                log.info("the chain does not continue the cached headers: syncing from genesis")
                self.headers, self._from_cache = [], 0
                await self._fetch(target)
            if len(self.headers) != had:
                self._write_cache()
        tip = self.tip
        assert tip is not None
        return tip

    async def _read_cache(self, target: int) -> None:
        """Start from the cached headers if they link from genesis and the chain (up to
        ``target``, its tip) has the same header at the cached tip: by the hash links, then it
        has every cached header."""
        self._cache_read = True
        assert self._cache is not None
        try:
            cached = [BlockHeader.from_json(h) for h in json.loads(self._cache.read_text())]
            check_header_chain(None, cached)
            if cached:
                last = cached[-1].height
                if last > target:
                    raise NameProofError(f"the cache goes to block {last}, past the chain's tip {target}")
                res = await self._call("get_block_headers_range", {"start_height": last, "end_height": last})
                if BlockHeader.from_json(res["headers"][0]).header_hash() != cached[-1].header_hash():
                    raise NameProofError("the cached headers are of another chain")
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, IndexError, NameProofError, ChainError) as exc:
            log.info("ignored the header cache %s: %s", self._cache, exc)
            return
        self.headers, self._from_cache = cached, len(cached)

    def _write_cache(self) -> None:
        if self._cache is None:
            return
        try:
            self._cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache.with_suffix(".tmp")
            tmp.write_text(json.dumps([h.to_json() for h in self.headers]))
            os.replace(tmp, self._cache)
        except OSError as exc:  # a cache: the resolve itself has succeeded
            log.info("could not write the header cache %s: %s", self._cache, exc)

    async def _fetch(self, target: int) -> None:
        while len(self.headers) <= target:
            start = len(self.headers)
            end = min(target, start + _HEADERS_PER_CALL - 1)
            res = await self._call("get_block_headers_range", {"start_height": start, "end_height": end})
            raw = res.get("headers") if isinstance(res, dict) else None
            if not isinstance(raw, list) or not raw:
                raise NameProofError(f"the chain has no headers from block {start}")
            got = [BlockHeader.from_json(h) for h in raw]
            check_header_chain(self.tip, got)
            self.headers.extend(got)


@dataclass(frozen=True)
class Resolution:
    name: str
    session_id: str
    owner: str  # Ed25519 key that may renew or transfer it
    expiration_height: int
    height: int  # the block the answers were proven against
    nodes: tuple[str, ...]  # who answered (Ed25519)


class NameResolver:
    def __init__(self, oc: Requester, headers: HeaderSync, nodes: Callable[[], Sequence[Snode]], *,
                 rng: random.Random | None = None, copies: int = RESOLVE_COPIES, max_tries: int = 9) -> None:
        self.oc = oc
        self.headers = headers
        self._nodes = nodes
        self.rng = rng or random.Random()
        self.copies = copies
        self.max_tries = max_tries

    async def resolve(self, text: str) -> Resolution:
        """The Session ID of the name *text*, proven and agreed by ``copies`` random nodes.

        Raises InvalidNameError (bad name), NameNotFoundError (not registered or expired),
        NameDisagreementError (a node lied: ``culprits``), OnionRequestFailedError (too few nodes
        answered)."""
        name = normalize_name(text)
        tip = (await self.headers.sync()).height
        params = {"endpoint": "ons_resolve", "params": {"type": 0, "name_hash": name_hash_b64(name)}}
        candidates = list(self._nodes())
        self.rng.shuffle(candidates)
        if not candidates:
            raise OnionRequestFailedError("no service nodes known to ask")
        want = min(self.copies, len(candidates))
        answers: list[tuple[str, VerifiedAnswer | NameProofError]] = []
        failures: list[str] = []
        tried = 0
        while len(answers) < want and candidates and tried < self.max_tries:
            batch = [candidates.pop() for _ in range(min(want - len(answers), len(candidates)))]
            tried += len(batch)
            got = await asyncio.gather(*(self._ask(n, name, params, tip) for n in batch))
            for node, a in zip(batch, got):
                if isinstance(a, str):
                    failures.append(f"{node.short()}: {a}")
                else:
                    answers.append((node.ed25519, a))
        if len(answers) < want:
            raise OnionRequestFailedError(
                f"only {len(answers)} of {want} nodes answered for {name!r}: {'; '.join(failures[-3:])}"
            )
        proven: ProvenName = agree(name, answers)
        return Resolution(name, proven.session_id, proven.owner, proven.expiration_height, proven.height,
                          tuple(n for n, _ in answers))

    async def _ask(self, node: Snode, name: str, params: dict[str, Any], tip: int) -> VerifiedAnswer | NameProofError | str:
        """The node's verified answer, its NameProofError, or a str saying why it did not answer."""
        try:
            r = await self.oc.request(node, "oxend_request", params)
        except OnionRequestFailedError as exc:
            return str(exc)
        if r.status != 200:
            return f"status {r.status} {r.body.strip()[:80]}"
        try:
            doc = json.loads(r.body)
        except ValueError:
            return NameProofError("the answer is not JSON")
        result = doc.get("result") if isinstance(doc, dict) else None
        try:
            proof_height = _proof_height(result)
            if proof_height is not None and proof_height > tip:
                await self.headers.sync(proof_height)  # the node saw a newer block; the chain must know it
            return verify_answer(name, result, self.headers.at, tip)
        except NameProofError as exc:
            return exc
        except ChainError as exc:  # asking the chain for a header the node made up
            return NameProofError(f"proven against a block the chain does not have: {exc}")


def _proof_height(result: Any) -> int | None:
    """The block an answer is proven against (a mapping's proof, or an absence's height)."""
    if not isinstance(result, dict):
        return None
    if "encrypted_value" in result:
        return parse_proof_b64(result.get("proof")).height
    absence = result.get("absence")
    height = absence.get("height") if isinstance(absence, dict) else None
    return height if isinstance(height, int) and not isinstance(height, bool) and height >= 0 else None


class NameRegistrar:
    """Signed name operations of one identity, sent to the chain RPC."""

    def __init__(self, call: ChainCall, identity: Identity) -> None:
        self._call = call
        self.identity = identity
        self._key = SigningKey(identity.ed25519_seed)
        self.me = identity.ed25519_public_key.hex()

    async def record(self, name: str) -> dict[str, Any]:
        res = await self._call("ons_record", {"name_hash": name_hash_b64(name)})
        if not isinstance(res, dict) or not isinstance(res.get("seq"), int):
            raise ChainError("chain ons_record: malformed answer")
        return res

    async def _submit(self, method: str, op: NameOp) -> dict[str, Any]:
        res = await self._call(method, op.sign(self._key))
        return res if isinstance(res, dict) else {}

    async def register(self, text: str, session_id: str | None = None, *, fee: int | None = None) -> dict[str, Any]:
        """Register *text* for *session_id* (default: ours); burns the chain's fee."""
        name = normalize_name(text)
        rec = await self.record(name)
        if rec.get("pending"):
            raise NameOperationError(f"a {rec['pending']} of {name!r} is already waiting for the next block")
        if rec.get("registered"):
            whose = "yours" if rec.get("owner") == self.me else "someone else's"
            raise NameOperationError(f"{name!r} is taken ({whose}) until block {rec.get('expiration_height')}")
        ct, nonce = encrypt_value(name, session_id or self.identity.session_id)
        op = NameOp("register", name_hash_b64(name), self.me, int(rec["seq"]), fee if fee is not None else int(rec["fee"]),
                    ct.hex(), nonce.hex())
        return await self._submit("ons_register", op)

    async def _own(self, name: str, verb: str) -> dict[str, Any]:
        rec = await self.record(name)
        if rec.get("pending"):
            raise NameOperationError(f"a {rec['pending']} of {name!r} is already waiting for the next block")
        if rec.get("owner") is None:
            raise NameOperationError(f"{name!r} is not registered")
        if not rec.get("registered"):
            raise NameOperationError(f"{name!r} expired at block {rec.get('expiration_height')}; register it again")
        if rec.get("owner") != self.me:
            raise NameOperationError(f"{name!r} belongs to someone else: you cannot {verb} it")
        return rec

    async def renew(self, text: str) -> dict[str, Any]:
        name = normalize_name(text)
        rec = await self._own(name, "renew")
        op = NameOp("renew", name_hash_b64(name), self.me, int(rec["seq"]), int(rec["fee"]))
        return await self._submit("ons_renew", op)

    async def update(self, text: str, session_id: str | None = None, new_owner: str = "") -> dict[str, Any]:
        """Point the name at *session_id* and/or hand it to *new_owner* (an Ed25519 key, hex)."""
        name = normalize_name(text)
        rec = await self._own(name, "transfer" if new_owner else "update")
        ct, nonce = encrypt_value(name, session_id) if session_id else (b"", b"")
        if new_owner:
            try:
                if len(bytes.fromhex(new_owner)) != 32:
                    raise ValueError(new_owner)
            except ValueError:
                raise NameOperationError("the new owner is an Ed25519 public key: 64 hex characters") from None
        op = NameOp("update", name_hash_b64(name), self.me, int(rec["seq"]), 0, ct.hex(), nonce.hex(), new_owner.lower())
        return await self._submit("ons_update", op)
