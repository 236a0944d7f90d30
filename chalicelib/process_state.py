"""What a warm Lambda process keeps between invocations, and the one way to forget all of it.

Settings, clients, the queue's URL and tenants' read credentials live as long as the process.
Each is registered here when its module is imported, so tests (and anything else that must
start over, as a new instance would) call `forget_all()` instead of keeping a list by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])
_forgetters: list[Callable[[], None]] = []


def on_forget(forget: Callable[[], None]) -> Callable[[], None]:
    """Register `forget` to run whenever the process's state is dropped."""
    _forgetters.append(forget)
    return forget


def kept(function: Function) -> Function:
    """`functools.cache` for the life of the process, registered with `forget_all`."""
    cached = functools.cache(function)
    on_forget(cached.cache_clear)
    return functools.update_wrapper(cached, function)  # type: ignore[return-value]


def forget_all() -> None:
    """Drop every registered cache, as if a new process had started."""
    for forget in _forgetters:
        forget()
