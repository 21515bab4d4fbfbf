"""The long-poll loop's brakes on a fake clock: honest answers are followed at once by the next
request, a node that always answers at once is paced at LONG_POLL_MAX_RATE (after a burst), and
a request the node did not hold is followed by the loop's interval."""

from __future__ import annotations

import pytest

from session_core.client.poll_loops import LONG_POLL_BURST, LONG_POLL_MAX_RATE, Pacer, long_poll


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_pacer_allows_a_burst_then_the_rate() -> None:
    p = Pacer(rate=10, burst=3, now=0.0)
    for _ in range(3):
        assert p.delay(0.0) == 0.0
        p.take(0.0)
    assert p.delay(0.0) == pytest.approx(0.1)  # one token every 1/rate s, not a whole interval
    assert p.delay(0.05) == pytest.approx(0.05)
    assert p.delay(0.1) == 0.0
    p.take(0.1)
    assert p.delay(10.0) == 0.0  # refilled, but never past the burst
    for _ in range(3):
        p.take(10.0)
    assert p.delay(10.0) > 0


def test_pacer_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Pacer(rate=0)
    with pytest.raises(ValueError):
        Pacer(burst=0)


async def run_loop(t: FakeTime, answer: float, got: int, rounds: int, interval: float = 5.0,
                   wait_ms: int = 15_000) -> None:
    """Run long_poll until *rounds* fetches, each answering after *answer* s with *got* items."""
    calls = 0

    async def fetch(w: int) -> int:
        nonlocal calls
        calls += 1
        t.now += answer
        return got

    await long_poll(wait_ms, interval, fetch, lambda: calls < rounds, clock=t.clock, sleep=t.sleep)


async def test_messages_every_40_ms_are_fetched_without_any_pause() -> None:
    # 25 answers a second (a quick conversation) is above LONG_POLL_MAX_RATE for a while: the
    # old brake paused a whole interval after 20; the bucket has tokens for far longer.
    t = FakeTime()
    await run_loop(t, answer=0.04, got=1, rounds=LONG_POLL_BURST + 40)
    assert t.sleeps == []


async def test_a_node_answering_at_once_is_paced_at_the_max_rate_with_short_waits() -> None:
    t = FakeTime()
    start = t.now
    await run_loop(t, answer=0.001, got=1, rounds=LONG_POLL_BURST + 100)
    assert t.sleeps and max(t.sleeps) <= 1 / LONG_POLL_MAX_RATE + 1e-9  # never a whole interval
    # After the burst, 100 more requests took at least 100 / rate seconds.
    assert t.now - start >= 100 / LONG_POLL_MAX_RATE - 1e-6


async def test_a_request_not_held_is_followed_by_the_interval() -> None:
    t = FakeTime()
    await run_loop(t, answer=0.01, got=0, rounds=3, interval=5.0)
    assert t.sleeps == [5.0, 5.0, 5.0]


async def test_an_empty_answer_after_a_real_wait_asks_again_at_once() -> None:
    t = FakeTime()
    await run_loop(t, answer=15.0, got=0, rounds=3, wait_ms=15_000)  # the wait ran out: held
    assert t.sleeps == []
