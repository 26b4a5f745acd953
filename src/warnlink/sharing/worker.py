"""A worker process the event loop talks to over a socket pair it reads itself.

``concurrent.futures.ProcessPoolExecutor`` moves every job and every result through two threads of the
calling process (its manager thread and its call queue's feeder thread, each needing the GIL in turn) before
the event loop sees it: in a busy node, tens of milliseconds per tracking job, on the path of every report
(``bench fabric``'s stages "submitted -> worker start" and "tracked -> result back"). ``PipeWorker`` sends a job
from the event loop itself (pickled, written to the loop's non-blocking transport) and the loop reads the result
from the socket as soon as it is readable: no thread in between.

Framing is that of ``multiprocessing.connection.Connection`` (a 4-byte big-endian signed length, or -1 and an
8-byte length for larger messages), so the worker side is a plain ``Connection`` with ``recv_bytes`` and
``send_bytes``. Jobs are answered in order (one worker process, one job at a time), so results resolve the
pending futures first in, first out.

The worker is a spawned process in the caller's process group (as a pool's would be), so that a signal to the
node's group takes it along.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_SMALL = struct.Struct("!i")
_LARGE = struct.Struct("!Q")


class WorkerGoneError(RuntimeError):
    """The worker process ended (or could not start): its pending jobs, and any submitted later, fail."""


def _serve(conn, initializer: Callable[[], None] | None) -> None:
    """The worker process: run ``initializer``, say ready, then answer each ``(fn, args)`` with
    ``(True, result)`` or ``(False, exception)`` until the connection closes."""
    try:
        if initializer is not None:
            initializer()
    except BaseException as exc:  # (reported to the caller's start())
        with contextlib.suppress(Exception):
            conn.send_bytes(pickle.dumps((False, RuntimeError(f"worker initializer failed: {exc!r}"))))
        return
    conn.send_bytes(pickle.dumps((True, "ready")))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            fn, args = pickle.loads(data)
            out = (True, fn(*args))
        except BaseException as exc:
            out = (False, exc)
        try:
            payload = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result or exception: say what it was
            payload = pickle.dumps((False, RuntimeError(f"worker result not picklable: {exc!r}; {out[1]!r}")))
        try:
            conn.send_bytes(payload)
        except (EOFError, OSError):
            return


class PipeWorker:
    """One spawned worker process, jobs sent and results read on the running event loop.

    ``await start()`` spawns it and waits for its ``initializer``; ``submit(fn, *args)`` returns an
    ``asyncio.Future`` of ``fn(*args)`` run in the worker (``fn`` and the arguments picklable, ``fn`` importable
    by name); jobs run one at a time in submission order. When the worker dies, every pending future fails with
    ``WorkerGoneError``, as does every later ``submit``. ``terminate()`` stops it at once.
    """

    def __init__(self, initializer: Callable[[], None] | None = None, *, name: str = "worker"):
        self.initializer, self.name = initializer, name
        self.process = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._pending: deque[asyncio.Future] = deque()
        self._gone: str | None = None

    async def start(self, timeout: float | None = None) -> PipeWorker:
        """Spawn the worker and wait until its initializer has run (``WorkerGoneError`` if it fails)."""
        import multiprocessing
        from multiprocessing.connection import Connection

        if self.process is not None:
            raise RuntimeError(f"{self.name} already started")
        mine, theirs = socket.socketpair()
        child = Connection(os.dup(theirs.fileno()))
        theirs.close()
        ctx = multiprocessing.get_context("spawn")
        self.process = ctx.Process(target=_serve, args=(child, self.initializer), name=self.name, daemon=True)
        try:
            self.process.start()
        finally:
            child.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=mine, limit=1 << 24)
        ready = asyncio.get_running_loop().create_future()
        self._pending.append(ready)
        self._reader_task = asyncio.create_task(self._read(reader), name=f"{self.name}-results")
        await asyncio.wait_for(ready, timeout)
        return self

    def submit(self, fn: Callable, *args: Any) -> asyncio.Future:
        """Run ``fn(*args)`` in the worker; a future of its result (or of its exception)."""
        fut = asyncio.get_running_loop().create_future()
        if self._gone is not None or self._writer is None:
            fut.set_exception(WorkerGoneError(f"{self.name}: {self._gone or 'not started'}"))
            return fut
        data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        head = _SMALL.pack(len(data)) if len(data) <= 0x7FFFFFFF else _SMALL.pack(-1) + _LARGE.pack(len(data))
        self._pending.append(fut)
        self._writer.writelines((head, data))  # (buffered by the transport: the loop never blocks on the pipe)
        return fut

    @property
    def pending(self) -> int:
        """Jobs submitted and not answered yet."""
        return len(self._pending)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        why = "worker exited"
        try:
            while True:
                (n,) = _SMALL.unpack(await reader.readexactly(4))
                if n == -1:
                    (n,) = _LARGE.unpack(await reader.readexactly(8))
                ok, value = pickle.loads(await reader.readexactly(n))
                fut = self._pending.popleft()
                if fut.done():  # (cancelled by its caller)
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):  # (the worker's end closed: it exited)
            pass
        except asyncio.CancelledError:
            why = "worker stopped"
            raise
        except Exception as exc:  # a garbled frame: nothing after it can be trusted
            why = f"worker connection failed: {exc!r}"
            log.error("%s: %s", self.name, why)
        finally:
            self._fail_all(why)

    def _fail_all(self, why: str) -> None:
        code = None
        if self.process is not None:
            with contextlib.suppress(Exception):
                self.process.join(0.2)  # (its end of the socket closes as it exits: reaped a moment later)
                code = self.process.exitcode
        self._gone = why if code is None else f"{why} (exit code {code})"
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(WorkerGoneError(f"{self.name}: {self._gone}"))
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()

    def terminate(self) -> None:
        """Stop the worker at once (a job in progress is abandoned; pending futures fail)."""
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self.process is not None and self.process.is_alive():
            with contextlib.suppress(Exception):
                self.process.terminate()
        if self._gone is None:
            self._fail_all("worker stopped")


__all__ = ["PipeWorker", "WorkerGoneError"]
