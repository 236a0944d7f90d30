"""Where the time goes: the share of a call's profiled time spent inside named functions."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable, Mapping

#: A function in the profile: the end of its file's path and its name.
Function = tuple[str, str]


def shares(
    call: Callable[[], object], repeat: int, parts: Mapping[str, Function]
) -> dict[str, float]:
    """Run `call` `repeat` times under cProfile; return each part's share of the total time.

    A part's share counts everything it calls. cProfile's overhead weighs most on code that
    makes many small calls, so shares are for finding the big items, not for exact accounts.
    """
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeat):
        call()
    profile.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(internal for _, _, internal, _, _ in stats.values())
    return {
        name: sum(
            cumulative
            for (path, _, function), (_, _, _, cumulative, _) in stats.items()
            if path.endswith(suffix) and function == wanted
        )
        / total
        for name, (suffix, wanted) in parts.items()
    }


def percent(share: float) -> str:
    """A share as a whole percentage."""
    return f"{max(share, 0.0) * 100:.0f}%"  # a share measured as 0 may round below it
