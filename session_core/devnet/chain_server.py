"""The chain process: serve the chain's JSON-RPC and produce blocks on a timer."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

from aiohttp import web

from session_core.devnet.chain import Chain
from session_core.devnet.rpc import ChainRPC, make_app, produce_blocks_forever


async def serve_chain(
    db: Path, seed: str, ip: str, port: int, block_interval: float, stop: asyncio.Event, *,
    ready_file: Path | None = None, decommission_after: int = 2, deregister_after_blocks: int = 10,
) -> None:
    chain = Chain(db, seed, decommission_after=decommission_after, deregister_after_blocks=deregister_after_blocks)
    rpc = ChainRPC(chain)
    runner = web.AppRunner(make_app(rpc), access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((ip, port))
    await web.SockSite(runner, sock).start()
    bound = sock.getsockname()[1]
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": f"http://{ip}:{bound}/json_rpc", "port": bound, "pid": os.getpid()}))
        tmp.replace(ready_file)
    producer = asyncio.get_running_loop().create_task(produce_blocks_forever(rpc, block_interval))
    try:
        await stop.wait()
    finally:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
        await runner.cleanup()
        chain.close()
