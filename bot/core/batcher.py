"""Group commit: concurrent callers share one write.

The first caller opens a batch; whoever calls while it is open, or while the batch before it is
being written, joins the next one. One `flush` writes a whole batch and returns one answer per
item, in order; each caller gets its own answer only after that write is done, and if the write
fails every caller of that batch gets the error (so none acknowledges what was not kept). With
nobody else calling, a lone caller waits for one turn of the event loop, no more: no timer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 200


class Batcher(Generic[T, R]):
    def __init__(
        self, flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]], max_batch: int = MAX_BATCH
    ) -> None:
        self._flush, self._max = flush, max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """The item's answer, once the batch it joined is written; raises what the write raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = loop.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # who calls in this same moment joins
                batch, self._pending = self._pending[: self._max], self._pending[self._max :]
                try:
                    answers = list(await self._flush([item for item, _ in batch]))
                    if len(answers) != len(batch):
                        raise RuntimeError(f"{len(answers)} answers for {len(batch)} items")
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled: nobody of this batch may acknowledge
                    for _, future in batch:
                        future.cancel()
                    raise
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            for _, future in self._pending:
                if not future.done():
                    future.set_exception(RuntimeError("stopped before it was written"))
            self._pending = []
            self._writer = None
