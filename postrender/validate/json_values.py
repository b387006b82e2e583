"""YAML values as the JSON the API server would see."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


def jsonable(value: Any) -> Any:
    """Turn what a YAML safe loader can produce into JSON types, as the API server would.

    Unquoted timestamps load as ``datetime``, ``!!binary`` as ``bytes`` and ``1: x`` gives an
    int key; jsonschema_rs refuses those, while Kubernetes' YAML-to-JSON step makes strings.
    """
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return {str(key): None for key in value}
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
