"""What one node-to-node message costs its receiver, alone and in wire batches.

A DEALER in a child process sends 200 000 payloads of 500 bytes (about an onion layer) over
CURVE on loopback TCP to a ROUTER here, as one message each or k to a message (k = 4, 16);
the figure is this process's CPU time (its Python loop and libzmq's I/O thread) per payload,
and the ratio to k = 1 in the same run.  Why batches exist: see session_core/node/wire.py.
Usage: python benches/bench_zmq_batch.py [payloads]
"""

from __future__ import annotations

import os
import resource
import sys
import time
from multiprocessing import Process

import zmq

SERVER_PUBLIC, SERVER_SECRET = zmq.curve_keypair()
CLIENT_PUBLIC, CLIENT_SECRET = zmq.curve_keypair()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def sender(port: int, k: int, total: int) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.curve_secretkey, s.curve_publickey, s.curve_serverkey = CLIENT_SECRET, CLIENT_PUBLIC, SERVER_PUBLIC
    s.sndhwm = 0
    s.connect(f"tcp://127.0.0.1:{port}")
    message = os.urandom(500 * k)
    for _ in range(total // k):
        s.send(message)
    s.send(b"end")
    time.sleep(1)
    s.close()
    ctx.term()


def per_payload(k: int, total: int) -> float:
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.curve_server = True
    r.curve_secretkey, r.curve_publickey = SERVER_SECRET, SERVER_PUBLIC
    r.rcvhwm = 0
    port = r.bind_to_random_port("tcp://127.0.0.1")
    child = Process(target=sender, args=(port, k, total))
    child.start()
    r.recv_multipart()  # the first message: the handshake is done
    c0 = cpu_seconds()
    while r.recv_multipart()[1] != b"end":
        pass
    cost = (cpu_seconds() - c0) / (total - k)
    child.join()
    r.close()
    ctx.term()
    return cost


def main(total: int = 200_000) -> None:
    alone = per_payload(1, total)
    print(f"k= 1: {alone * 1e6:5.2f} us receiver CPU per 500-byte payload")
    for k in (4, 16):
        cost = per_payload(k, total)
        print(f"k={k:2d}: {cost * 1e6:5.2f} us per payload, ratio to k=1 {cost / alone:.2f}")


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:2]])
