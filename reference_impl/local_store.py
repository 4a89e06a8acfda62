"""A bounded in-process key/value store with expiry: the fallback for Redis-backed guards."""

from __future__ import annotations

import time
from collections import OrderedDict

LOCAL_LIMIT = 10_000


class LocalStore:
    """Bounded in-process fallback for nonces and idempotency records while Redis is down."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def set(self, key: str, value: str, ttl: float, *, only_new: bool = False) -> bool:
        if only_new and self.get(key) is not None:
            return False
        self._items[key] = (time.monotonic() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > LOCAL_LIMIT:
            self._items.popitem(last=False)
        return True

    def delete(self, key: str) -> None:
        self._items.pop(key, None)
