"""M/M/c (Erlang C) sizing, computed without overflow.

``A^c / c!`` overflows for c in the hundreds, so the probability of waiting
is built from the Erlang B recursion ``B(k) = A B(k-1) / (k + A B(k-1))``,
which stays in [0, 1], and ``C = c B / (c - A (1 - B))``.
"""

from __future__ import annotations

import math


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``load`` (Erlangs)."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be non-negative")
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def min_servers(
    arrival_rate: float,
    service_s: float,
    max_wait_s: float,
    quantile: float | None = None,
    limit: int = 100_000,
) -> int:
    """Smallest c whose mean wait (or ``quantile`` of wait) is at most ``max_wait_s``.

    Returns 0 when there is no load. Walks c upwards from the stability bound,
    updating Erlang B incrementally, so the cost is O(c).
    """
    load = arrival_rate * service_s
    if load <= 0:
        return 0
    c = math.floor(load) + 1
    b = erlang_b(c, load)
    while c <= limit:
        p_wait = c * b / (c - load * (1.0 - b))
        gap = (c - load) / service_s
        if quantile is None:
            wait = p_wait / gap
        else:
            wait = 0.0 if p_wait <= 1.0 - quantile else math.log(p_wait / (1.0 - quantile)) / gap
        if wait <= max_wait_s:
            return c
        c += 1
        b = load * b / (c + load * b)
    return limit
