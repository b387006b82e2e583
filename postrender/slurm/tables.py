"""Slurm's records as the aligned text tables ``slinky verify`` and ``slinky slurm-check`` print."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Table columns: report key -> scontrol field.
PARTITION_COLUMNS = {
    "state": "State",
    "default": "Default",
    "nodes": "TotalNodes",
    "max_time": "MaxTime",
    "priority_tier": "PriorityTier",
    "allow_groups": "AllowGroups",
    "nodelist": "Nodes",
}
NODE_COLUMNS = {
    "state": "State",
    "gres": "Gres",
    "features": "AvailableFeatures",
    "partitions": "Partitions",
    "reason": "Reason",
}


def rows(
    first: str, records: Mapping[str, Mapping[str, str]], columns: Mapping[str, str]
) -> list[dict[str, str]]:
    """One table row per scontrol record: its name under ``first``, then ``columns``."""
    return [
        {first: name, **{key: record.get(field, "") for key, field in columns.items()}}
        for name, record in records.items()
    ]


def table(rows: Sequence[Mapping[str, str]], first: str) -> str:
    """Rows of one kind as an aligned text table (header from the keys); '' when empty."""
    if not rows:
        return f"(no {first}s)\n"
    keys = list(rows[0])
    cells = [[k.upper().replace("_", " ") for k in keys]]
    cells += [[row.get(k) or "-" for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    return "\n".join(lines) + "\n"
