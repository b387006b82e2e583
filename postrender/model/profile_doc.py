"""A profile as a document: key paths, the limits on its size, the title of its errors."""

from __future__ import annotations

Path = tuple[str | int, ...]
TITLE = "invalid partition profile"

# Bounds on the node graph, checked while it is turned into values: aliases can make it
# a cycle or a billion laughs, and every step below (schema validation too) recurses.
MAX_PROFILE_DEPTH = 64
MAX_PROFILE_NODES = 200_000


def format_path(path: Path) -> str:
    """A profile path as messages show it: ``clusters[0].partitions[2].name``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
