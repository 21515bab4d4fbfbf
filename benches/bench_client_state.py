"""Cost of receiving one message and saving the client state, with and without a flood of
friend requests from strangers (issue 11 item 11), as same-run ratios.

    python benches/bench_client_state.py [--strangers 2000] [--messages 30]

Rows: (1) one contact, saved as rows; (2) the same contact after --strangers requests
(capped at MAX_PENDING_REQUESTS pending), saved as rows; (3) the same flooded state saved the
old way, as one blob re-encrypted whole.  Each line prints ms per message and the ratio to (1).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from session_core.client.db import ClientDB
from session_core.identity import Identity
from session_core.protocol.conversation import Messenger
from session_core.protocol.friend_request import make_friend_request
from session_core.protocol.prekeys import PreKeyStore
from session_core.protocol.sealed import build_envelope


def pair() -> tuple[Messenger, Messenger]:
    a, b = Messenger(Identity.generate(), "A"), Messenger(Identity.generate(), "B")
    b.receive(a.send_friend_request(b.session_id, "hi", now_ms=1).data, now_ms=2)
    a.receive(b.accept(a.session_id, now_ms=3).data, now_ms=4)
    return a, b


def flood(b: Messenger, n: int) -> None:
    for i in range(n):
        ident = Identity.generate()
        sealed = make_friend_request(ident, b.session_id, PreKeyStore.create(ident).issue_bundle(), intro="hi",
                                     display_name="x", timestamp_ms=100 + i)
        b.receive(build_envelope(b.identity.x25519_public_key, sealed, 100 + i), now_ms=100 + i)


def per_message(a: Messenger, b: Messenger, save: object, n: int, t0: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        b.receive(a.send_text(b.session_id, "m", now_ms=t0 + i).data, now_ms=t0 + i)
        save()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strangers", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    a1, b1 = pair()
    db1 = ClientDB(tmp / "one.db", b1.identity)
    a2, b2 = pair()
    flood(b2, args.strangers)
    db2 = ClientDB(tmp / "flood.db", b2.identity)
    db1.save_messenger(b1)
    db2.save_messenger(b2)
    base = per_message(a1, b1, lambda: db1.save_messenger(b1), args.messages, 10_000)
    rows = per_message(a2, b2, lambda: db2.save_messenger(b2), args.messages, 10_000)
    blob = per_message(a2, b2, lambda: db2.put_bytes("messenger", b2.to_bytes()), args.messages, 20_000)
    print(f"{'one contact, rows':40} {base:8.2f} ms/message  1.00x")
    print(f"{f'{args.strangers} strangers (capped), rows':40} {rows:8.2f} ms/message  {rows / base:.2f}x")
    print(f"{f'{args.strangers} strangers (capped), one blob':40} {blob:8.2f} ms/message  {blob / base:.2f}x")
    print(f"whole state: {len(b2.to_bytes()) / 1e6:.2f} MB; pending requests kept: "
          f"{sum(c.request is not None for c in b2.contacts.values())}")


if __name__ == "__main__":
    main()
