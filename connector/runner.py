"""One long-lived event loop in a daemon thread, callable from any thread.

The SDK is async-only and its httpx pool is bound to the loop that created it: a client shared
across `asyncio.run()` calls fails with "Event loop is closed" (sdk-notes §4). So the client is
built on this loop, and Flask views and APScheduler jobs hand it coroutines through `call`.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopRunner:
    """Runs coroutines on a private event loop thread; `close()` stops and closes it."""

    def __init__(self, name: str = "graph-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def closed(self) -> bool:
        return self._loop.is_closed()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for its result (or exception) in the calling thread."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("LoopRunner.call from the loop's own thread would deadlock; await instead")
        if self.closed:
            coro.close()
            raise RuntimeError("the Graph connector is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self, final: Awaitable[None] | None = None, timeout: float = 10.0) -> None:
        """Await `final` (e.g. closing the HTTP pool) on the loop, cancel leftovers, stop and close."""
        if self.closed:
            return

        async def _shutdown() -> None:
            if final is not None:
                await final
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._loop.shutdown_asyncgens()
            # Token fetches run in the default executor (credentials.py); join its threads too.
            await self._loop.shutdown_default_executor()

        try:
            asyncio.run_coroutine_threadsafe(_shutdown(), self._loop).result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._loop.close()
