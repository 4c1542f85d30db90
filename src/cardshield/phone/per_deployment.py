"""One shared object per process and Redis URL: in process without Redis, Redis-backed with
it. The call notices and the bridge hub both keep their listeners in such an object, so every
socket of a process that serves one deployment must find the same one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from cardshield.runtime import Runtime

T = TypeVar("T")


class PerDeployment(Generic[T]):
    def __init__(self, with_redis: Callable[[str], T], in_process: Callable[[], T]) -> None:
        self._with_redis, self._in_process = with_redis, in_process
        self._lock = threading.Lock()
        self._by_url: dict[str | None, T] = {}

    def __call__(self, runtime: Runtime) -> T:
        """This deployment's object: Redis-backed when ``redis_url`` is set."""
        url = runtime.settings.redis_url
        with self._lock:
            found = self._by_url.get(url)
            if found is None:
                found = self._with_redis(url) if url else self._in_process()
                self._by_url[url] = found
        return found
