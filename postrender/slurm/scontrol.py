"""``scontrol show -o`` output, parsed."""

from __future__ import annotations

import re

# Keys may hold ':' and '/' (AllocNode:Sid=, NtasksPerN:B:S:C=, Socks/Node= in jobs).
_SCONTROL_KEY = re.compile(r"(?:(?<=\s)|^)([A-Za-z][A-Za-z0-9_:/]*)=")


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
