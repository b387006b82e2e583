"""A NodeSet's key: the name Slurm knows it by.

The operator writes this key as the ``NodeSet=<key> Feature=<key>`` line of slurm.conf and
as the first feature of every slurmd, and the Slinky chart writes ``hostname: "<key>-"`` for
its ``nodesets.<key>``. The key is the pod template's hostname with leading and trailing ``-``
removed (operator 1.0.x trims the whole hostname, 1.1 onwards its first whitespace-separated
word: the same for any hostname Kubernetes accepts); without a hostname it is the NodeSet's
``metadata.name`` itself, not the part after ``-worker-``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def nodeset_hostname(obj: Mapping[str, Any]) -> str | None:
    """``spec.template.spec.hostname`` when it is a string, else None."""
    pod = _map(_map(_map(obj.get("spec")).get("template")).get("spec"))
    hostname = pod.get("hostname")
    return hostname if isinstance(hostname, str) else None


def nodeset_key(obj: Mapping[str, Any]) -> str:
    """The NodeSet's key, as the operator derives it (see the module docstring).

    A hostname of only whitespace, where the operator would index an empty list and panic, is
    read as no hostname; a spec or template that is not a map (the CRD refuses it) counts as
    absent, so a linter can still name the object.
    """
    words = (nodeset_hostname(obj) or "").split()
    if words:
        return words[0].strip("-")
    name = _map(obj.get("metadata")).get("name")
    return "" if name is None else str(name)
