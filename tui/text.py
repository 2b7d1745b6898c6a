"""How the console writes durations, parameters, times of day and node data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

#: Times above this are epoch seconds (live); below, seconds on the run's clock (simulator).
EPOCH_FROM = 1e9
HEXDUMP_BYTES = 4096


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short and fixed in shape."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def params(values: dict) -> str:
    """``slo_s=2 boot_delay_s=30``; empty for no parameters."""
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def moment(t: float) -> str:
    """A node time: a UTC date for epoch seconds, ``t=12m30s`` on a run's clock."""
    if t >= EPOCH_FROM:
        return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"t={duration(t)}"


def node_data(data: bytes) -> tuple[str, str]:
    """``(kind, text)`` for a node's data: pretty JSON, escaped text, or a hexdump."""
    if not data:
        return "empty", "(no data)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", hexdump(data)
    try:
        return "json", json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return "text", "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def hexdump(data: bytes, limit: int = HEXDUMP_BYTES) -> str:
    """Offset, 16 bytes in hex, and their printable ASCII; at most ``limit`` bytes."""
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset:offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  |{shown}|")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit} more bytes")
    return "\n".join(lines)
