"""``scontrol show -o`` output, parsed, and the Slurm values in it read as the profile writes
them (time limits, GRES, partition options)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from postrender.model.slurmconf import ConfError, Gres

# Keys may hold ':' and '/' (AllocNode:Sid=, NtasksPerN:B:S:C=, Socks/Node= in jobs).
_SCONTROL_KEY = re.compile(r"(?:(?<=\s)|^)([A-Za-z][A-Za-z0-9_:/]*)=")
_LIST_OPTIONS = frozenset({"allowgroups", "allowaccounts", "denyaccounts", "allowqos", "denyqos"})
_TIME_OPTIONS = frozenset({"maxtime", "defaulttime"})
# Options scontrol shows inside JobDefaults=DefCpuPerGPU=..,DefMemPerGPU=.. (slurm.conf(5)).
_JOB_DEFAULTS = frozenset({"defcpupergpu", "defmempergpu"})
_UNLIMITED = frozenset({"UNLIMITED", "INFINITE"})
_GRES_DETAIL = re.compile(r"\([^)]*\)")


def parse_scontrol_oneliners(text: str, name_key: str) -> dict[str, dict[str, str]]:
    """Parse ``scontrol show <entity> -o`` output into {name: {key: value}}.

    Values may hold spaces (``OS=Linux 6.1 #1 SMP``, ``Reason=... (4 < 8)``): a key is
    a word directly followed by ``=`` at the start or after whitespace.
    """
    result: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        matches = list(_SCONTROL_KEY.finditer(line))
        record: dict[str, str] = {}
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            record[match.group(1)] = line[match.end() : end].strip()
        if name_key in record:
            result[record[name_key]] = record
    return result


def slurm_minutes(text: str) -> int | None:
    """A Slurm time limit in minutes, None for UNLIMITED (slurm.conf(5) formats).

    ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``, ``days-hours``,
    ``days-hours:minutes``, ``days-hours:minutes:seconds``; seconds round up to a
    minute, as slurmctld stores partition limits. Raises ValueError otherwise.
    """
    value = text.strip().upper()
    if value in _UNLIMITED or value == "-1":
        return None
    days = 0
    if "-" in value:
        head, value = value.split("-", 1)
        days = int(head)
        hours_first = [int(p) for p in value.split(":")]
        if len(hours_first) > 3:
            raise ValueError(text)
        hours_first += [0] * (3 - len(hours_first))
        seconds = ((days * 24 + hours_first[0]) * 60 + hours_first[1]) * 60 + hours_first[2]
    else:
        parts = [int(p) for p in value.split(":")]
        if len(parts) == 1:
            seconds = parts[0] * 60
        elif len(parts) == 2:
            seconds = parts[0] * 60 + parts[1]
        elif len(parts) == 3:
            seconds = (parts[0] * 60 + parts[1]) * 60 + parts[2]
        else:
            raise ValueError(text)
    return (seconds + 59) // 60


def node_gres(value: str) -> list[Gres]:
    """A node's ``Gres=`` as entries (``gpu:a100:8(S:0-1)`` → gpu, a100, 8)."""
    if not value or value == "(null)":
        return []
    entries = []
    for part in _GRES_DETAIL.sub("", value).split(","):
        try:
            entries.append(Gres.parse(part.strip()))
        except ConfError:
            continue  # a count with a unit suffix or a future format: not ours to judge
    return entries


def gres_count(entries: Iterable[Gres], wanted: Gres) -> int:
    """How many of ``wanted`` (same name, and type when it has one) the entries offer."""
    return sum(
        e.count
        for e in entries
        if e.name == wanted.name and (wanted.type is None or e.type == wanted.type)
    )


def option_value(record: Mapping[str, str], key: str) -> str | None:
    """A field of a scontrol record, case-insensitively (``QOS`` is shown as ``QoS``)."""
    lowered = key.lower()
    if lowered in _JOB_DEFAULTS:
        defaults = record.get("JobDefaults", "")
        for item in defaults.split(","):
            name, _, value = item.partition("=")
            if name.lower() == lowered:
                return value
        return None
    for name, value in record.items():
        if name.lower() == lowered:
            return value
    if lowered == "exclusiveuser" and "Exclusive" in record:
        # Slurm 26.05 shows ExclusiveUser=YES as Exclusive=USER (NO as NO).
        return "YES" if "USER" in record["Exclusive"].upper().split(",") else "NO"
    return None


def option_matches(key: str, expected: str, actual: str) -> bool:
    """Whether Slurm's ``actual`` text is the profile's ``expected`` value of ``key``."""
    lowered = key.lower()
    if lowered in _TIME_OPTIONS:
        try:
            return slurm_minutes(expected) == slurm_minutes(actual)
        except ValueError:
            return expected.upper() == actual.upper()
    if lowered in _LIST_OPTIONS:
        return set(expected.split(",")) == set(actual.split(","))
    if lowered == "oversubscribe":
        # YES and FORCE default to a count of 4, which scontrol prints (YES:4).
        want_mode, _, want_count = expected.upper().partition(":")
        got_mode, _, got_count = actual.upper().partition(":")
        return want_mode == got_mode and (not want_count or want_count == got_count)
    if lowered == "tresbillingweights":
        return {i.upper() for i in expected.split(",")} == {i.upper() for i in actual.split(",")}
    return expected.upper() == actual.upper()
