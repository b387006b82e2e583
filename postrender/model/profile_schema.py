"""A partition profile against its JSON Schema: the quick check when it is certainly valid,
jsonschema_rs for the messages (with the line, a close key name, a hint) when not."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache

from postrender import switches
from postrender.errors import Problem
from postrender.model.profile_doc import Path, format_path
from postrender.resources import schema_text

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


@cache
def profile_schema() -> dict[str, Any]:
    text = schema_text("profile.schema.json")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_at(schema: dict[str, Any], schema_path: list[str | int]) -> dict[str, Any]:
    node: Any = schema
    for part in schema_path[:-1]:
        node = node[part]
    return node if isinstance(node, dict) else {}


@cache
def quick_check() -> Callable[[Any], bool] | None:
    from postrender.validate.schemacheck import compile_schema

    # As validator_for below: draft 2020-12 by default, where format is an annotation.
    return compile_schema(profile_schema(), validate_formats=False)


def _is_al2(value: Any) -> bool:
    """A generated EC2NodeClass asking for Amazon Linux 2 (``al2``, ``AL2``, ``al2@v...``)."""
    ami = value.get("ami") if isinstance(value, dict) else None
    return isinstance(ami, str) and ami.lower().split("@")[0] == "al2"


def schema_problems(data: Any, lines: dict[Path, int], src: str) -> list[Problem]:
    check = None if switches.LIBRARY_PATH else quick_check()
    if check is not None and check(data):
        return []  # certainly valid: jsonschema_rs (~28 ms to import) would agree
    import jsonschema_rs

    schema = profile_schema()
    problems = []
    for error in jsonschema_rs.validator_for(schema).iter_errors(data):
        path: Path = tuple(error.instance_path)
        line = lines.get(path) or lines.get(path[:-1]) or 1
        message, hint = error.message, None
        unexpected = getattr(error.kind, "unexpected", None)
        if unexpected:
            import difflib  # only for a profile with unknown keys: not on the happy path

            known = list(_schema_at(schema, list(error.schema_path)).get("properties", {}))
            for key in unexpected:
                line = lines.get((*path, key), line)
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
                problems.append(
                    Problem(
                        f"unknown key {key!r}",
                        profile=f"{src}:{line}",
                        path=format_path((*path, key)),
                        hint=hint,
                    )
                )
            continue
        instance: Any = error.instance
        if _is_al2(instance):
            problems.append(
                Problem(
                    f"ami: {instance['ami']}: Amazon Linux 2 is end of life for EKS "
                    "(no AL2 AMIs for Kubernetes 1.33 and later; Karpenter v1 has no AL2 GPU "
                    "default)",
                    profile=f"{src}:{lines.get((*path, 'ami'), line)}",
                    path=format_path((*path, "ami")),
                    hint="use ami: al2023 (or bottlerocket); both pick NVIDIA AMIs for GPU types",
                )
            )
            continue
        schema_path = list(error.schema_path)
        described = _schema_at(schema, schema_path).get("description")
        if schema_path and schema_path[-1] in ("oneOf", "anyOf"):
            message = f"{json.dumps(error.instance)} is not an accepted value"
        if isinstance(error.instance, bool) and "string" in message:
            hint = f'quote it: "{str(error.instance).lower()}"'
        problems.append(
            Problem(
                message,
                profile=f"{src}:{line}",
                path=format_path(path),
                hint=hint or (f"expected {described}" if described else None),
            )
        )
    return sorted(problems, key=lambda p: int((p.profile or ":0").rsplit(":", 1)[1]))
