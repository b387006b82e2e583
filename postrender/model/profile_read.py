"""Reading a partition profile's text: the fast reader when the profile is in its case,
PyYAML (``profile_yaml``) when it declines; YAML 1.1's quirks read as the user wrote them."""

from __future__ import annotations

from collections.abc import Mapping

from postrender import switches
from postrender.errors import Problem
from postrender.model.profile_doc import MAX_PROFILE_DEPTH, MAX_PROFILE_NODES, Path
from postrender.yaml import fast_reader as blockyaml

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


def read_profile(text: str, src: str) -> tuple[Any, dict[Path, int], list[Problem]]:
    """The profile's data, the line of every value by path, and its duplicate keys: by the
    fast reader when the profile is in its case, else by PyYAML. A text this short cannot
    hold more values than PyYAML's reader allows (each takes two characters or more)."""
    if len(text) < 2 * MAX_PROFILE_NODES and not switches.LIBRARY_PATH:
        lines: dict[Path, int] = {}
        try:
            data = blockyaml.load(text, MAX_PROFILE_DEPTH, keys_as_written=True, lines=lines)
        except blockyaml.Declined:
            pass
        else:
            if data is not None:
                return data, lines, []
    from postrender.model import profile_yaml

    return profile_yaml.read(text, src)


# YAML 1.1 reads an unquoted ``off`` as false, which here means "no gres.conf at all".
_GRES_CONF_OFF = r"\bgres_conf\s*:\s*(?:off|Off|OFF)\s*(?:[,}#]|$)"


def gres_conf(entry: Mapping[str, Any], text: str, line: int | None) -> str | bool:
    """The cluster's ``gres_conf``, with an unquoted ``off`` read as written."""
    value: str | bool = entry.get("gres_conf", "nvidia")
    if value is False and line is not None:
        import re  # compiled here, in the rare case, not at every import

        source = text.splitlines()[line - 1 : line]
        if source and re.search(_GRES_CONF_OFF, source[0]):
            return "off"
    return value
