"""``PipeWorker``: the tracking worker the node's event loop talks to directly over a socket pair (a real spawned
process each test)."""

from __future__ import annotations

import asyncio
import functools
import math
import operator
import os

import pytest

from warnlink.sharing.worker import PipeWorker, WorkerGoneError


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_results_come_back_in_order_with_exceptions_and_large_payloads():
    async def main():
        w = await PipeWorker(name="t").start()
        try:
            futs = [w.submit(operator.add, k, 1) for k in range(50)]
            bad = w.submit(math.sqrt, -1.0)
            big_in = w.submit(len, b"x" * 5_000_000)          # far more than a socket buffer, both ways
            big_out = w.submit(operator.mul, b"y", 3_000_000)
            after = w.submit(os.getpid)
            assert w.pending == 54
            assert await asyncio.gather(*futs) == list(range(1, 51))
            with pytest.raises(ValueError, match="math domain"):
                await bad
            assert await big_in == 5_000_000
            assert await big_out == b"y" * 3_000_000
            assert await after == w.process.pid != os.getpid()
            assert w.pending == 0
        finally:
            w.terminate()
    run(main())


def test_a_dead_worker_fails_its_pending_jobs_and_every_later_one():
    async def main():
        w = await PipeWorker(name="t").start()
        try:
            assert await w.submit(operator.add, 1, 2) == 3
            dies = w.submit(os._exit, 3)
            queued = w.submit(operator.add, 2, 2)
            for fut in (dies, queued):
                with pytest.raises(WorkerGoneError, match="exit code 3"):
                    await fut
            with pytest.raises(WorkerGoneError, match="t: worker exited"):
                await w.submit(operator.add, 1, 1)
        finally:
            w.terminate()
    run(main())


def test_a_failing_initializer_fails_start_and_terminate_stops_it():
    async def main():
        with pytest.raises(RuntimeError, match="initializer failed"):
            await PipeWorker(functools.partial(math.sqrt, -1.0), name="t").start()
        w = await PipeWorker(name="t").start()
        slow = w.submit(math.factorial, 10)
        assert await slow == 3628800
        w.terminate()
        with pytest.raises(WorkerGoneError, match="stopped"):
            await w.submit(operator.add, 1, 1)
        await asyncio.sleep(0.2)
        w.process.join(5)
        assert not w.process.is_alive()
    run(main())
