"""The grid index in memory: loaded by the `grid-loader` job (entrypoints/background.py)
from the active grid set, swapped whole when another version is switched in, so a lookup
never sees half of two versions."""

from __future__ import annotations

import asyncio

from yiwang.grid_routing.domain.index import GridIndex

GRID_WAIT_SECONDS = 30.0


class ActiveGrid:
    def __init__(self) -> None:
        self._index: GridIndex | None = None
        self._loaded = asyncio.Event()

    @property
    def version(self) -> int | None:
        return self._index.version if self._index else None

    def replace(self, index: GridIndex) -> None:
        self._index = index
        self._loaded.set()

    async def current(self, *, wait_seconds: float = GRID_WAIT_SECONDS) -> GridIndex:
        """The index; waits while the first one loads (TimeoutError is retried upstream)."""
        if self._index is None:
            async with asyncio.timeout(wait_seconds):
                await self._loaded.wait()
        assert self._index is not None
        return self._index
