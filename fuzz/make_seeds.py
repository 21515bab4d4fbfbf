"""Write the seed corpora in fuzz/corpus/ (checked in; run again only to change them).

Seeds are small valid inputs of each parser, so the fuzzers start from the accepted
language instead of having to discover it: a guard frame, a relay layer, a final layer,
a server exit, node wire frames, storage RPC requests, protocol messages.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "py"))

from session_core.node import wire  # noqa: E402

CORPUS = Path(__file__).parent / "corpus"
HEX_A, HEX_B = "ab" * 32, "11" * 32


def layer_plaintexts() -> dict[str, bytes]:
    relay = {"destination": HEX_B, "ephemeral_key": HEX_A, "enc_type": "xchacha20"}
    exit_ = {"host": "example.org", "target": "/oxen/v4/lsrpc", "port": 443, "protocol": "https",
             "method": "POST", "ephemeral_key": HEX_A, "enc_type": "aes-gcm"}
    final = {"headers": ""}
    return {name: struct.pack("<I", 5) + b"inner" + json.dumps(obj).encode()
            for name, obj in (("relay", relay), ("exit", exit_), ("final", final))}


def write(target: str, name: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main() -> None:
    pts = layer_plaintexts()
    outer = struct.pack("<I", 40) + bytes(40) + json.dumps({"ephemeral_key": HEX_A, "enc_type": "xchacha20"}).encode()
    write("onion_json", "outer", outer)
    for name, pt in pts.items():
        write("onion_json", name, pt)
        write("onion_peel", f"wrapped-{name}", bytes([3]) + pt)  # mode 3: xchacha20, wrapped
        write("onion", f"wrapped-{name}", bytes([3 | 4]) + pt)  # wrapped, xchacha20, hop 1
    write("onion_peel", "raw", bytes([0]) + struct.pack("<H", len(outer)) + outer)
    write("onion", "raw", bytes([0]) + outer)
    # relay engine: a relay layer to the route keyed 0x11.., read, answer with our id, read
    pt = pts["relay"]
    reply = wire.encode(wire.REPLY, 0, [b"200", b"answer"])
    ops = (bytes([1, 0]) + struct.pack("<H", len(pt)) + pt + bytes([3, 8])
           + bytes([2, 0, 1]) + struct.pack("<H", len(reply)) + reply + bytes([4, 0, 6]))
    write("relay", "relay-and-reply", ops)
    # batches: two relay layers in one ROUTER message, then both replies in one DEALER batch
    item = bytes([1, 0]) + struct.pack("<H", len(pt)) + pt
    ans = [bytes([2 | 4 * k]) + struct.pack("<H", len(reply)) + reply for k in (0, 1)]
    write("relay", "batch-relay-and-replies",
          bytes([9, 2, 0]) + item + item + bytes([3, 8, 9, 2, 1]) + b"".join(ans) + bytes([4, 0, 6]))
    frame = wire.encode(wire.REQUEST, 7, [b"onion", outer, b"0"])
    write("relay", "raw-request", bytes([0]) + struct.pack("<H", len(frame)) + frame + bytes([3, 8]))
    write("wire", "request", frame)
    write("wire", "reply", reply)
    write("wire", "error", wire.encode(wire.ERROR, 9, [b"bad"]))
    write("wire", "many", wire.encode(wire.REQUEST, 1, [b"data"] + [b"x" * i for i in range(20)]))
    rpc = {"jsonrpc": "2.0", "id": "0"}
    store = {"pubKey": "05" + "cd" * 32, "ttl": "86400000", "nonce": "AAAAAAAAAAA=",
             "timestamp": "1700000000000", "data": "aGVsbG8="}
    for method, params in (("store", store), ("retrieve", {"pubKey": "05" + "cd" * 32, "lastHash": ""}),
                           ("get_snodes_for_pubkey", {"pubKey": "05" + "cd" * 32})):
        write("storage_rpc", method, json.dumps({**rpc, "method": method, "params": params}).encode())
    from session_core.identity import Identity
    from session_core.protocol import messages_pb2 as pb
    from session_core.protocol.padding import pad

    sender = Identity.from_seed(bytes(range(16, 32)))
    content = pb.Content()
    content.dataMessage.body = "hello"
    write("protocol", "friend-request-payload", bytes([2]) + pad(content.SerializeToString()))
    sealed = pb.SealedMessage(kind=pb.SealedMessage.SIGNAL, source=sender.session_id, payload=b"x")
    write("protocol", "sealed", bytes([1]) + sealed.SerializeToString())
    sig = pb.SignalMessage(ratchetKey=bytes(32), counter=0, previousCounter=0, ciphertext=b"ct")
    write("protocol", "signal", bytes([3]) + sig.SerializeToString())
    env = pb.Envelope(type=pb.Envelope.UNIDENTIFIED_SENDER, timestamp=1, content=b"\x00" * 80)
    write("protocol", "envelope", bytes([0]) + env.SerializeToString())
    group_seeds()


def group_seeds() -> None:
    """Records of the fixed group in fuzz_groups.py (same identities and group key)."""
    from fuzz_groups import ADMIN, MEMBER, NOW, OTHER, SIGNER

    from session_core.protocol.groups import Group
    from session_core.protocol.padding import pad

    admin, outs = Group.create(ADMIN, NOW, [MEMBER.session_id, OTHER.session_id], signer=SIGNER)
    msg = admin.send_text("hello", NOW).data
    (kick,) = admin.kick([OTHER.session_id], NOW)
    (roster,) = admin.refresh(NOW + 1)
    write("groups", "record-message", bytes([0]) + msg)
    write("groups", "keys-body", bytes([1]) + kick.data[1:-64])  # applies to the member's generation 0
    write("groups", "roster-body", bytes([2]) + roster.data[1:-64])
    write("groups", "message-plaintext", bytes([3]) + pad(struct.pack("<BQ", 0, NOW) + bytes(96) + b"hi"))


if __name__ == "__main__":
    main()
