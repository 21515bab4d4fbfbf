"""The asyncio side of held requests (long-poll): wait for a wake or the deadline, answer.

:class:`~session_core.node.storage_rpc.Held` comes out of the sans-IO storage RPC when a
request asked to wait and found nothing; :func:`settle` turns it into the reply.  A held
request costs one future and one timer handle on the event loop (no task, no polling), so
a node holding a thousand of them does no work until one is woken.

A wake re-runs the request's own answer: if it still finds nothing (a store for another
recipient that shared the key's wake, a deposit already collected by a parallel request)
the request waits on for the rest of its deadline.  A request let go early (its key held too
many, or the node stops) answers at once with what there is.
"""

from __future__ import annotations

import asyncio

from session_core.node.storage_rpc import Held, Outcome, Reply

__all__ = ["settle", "wait_held"]


async def settle(out: Outcome) -> Reply:
    """The reply to send for *out*: at once, or after holding it if it asked to wait."""
    if out.held is None:
        return out.reply
    return await wait_held(out.held)


async def wait_held(held: Held) -> Reply:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + held.wait_ms / 1000
    while True:
        fut: asyncio.Future[None] = loop.create_future()

        def wake(fut: asyncio.Future[None] = fut) -> None:
            if not fut.done():
                fut.set_result(None)

        ticket = held.waiters.hold(held.key, wake)
        if ticket is None:  # the node holds all it may: answer now, the client polls instead
            return held.now
        timer = loop.call_at(deadline, wake)
        try:
            await fut
        finally:
            timer.cancel()
            held.waiters.release(ticket)
        final = ticket.evicted or loop.time() >= deadline
        reply = held.answer(final)
        if reply is not None:
            return reply
        if final:
            return held.now
