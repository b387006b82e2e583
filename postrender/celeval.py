"""cel-python, the CEL authority for the CRD rules ``postrender.celquick`` is not sure of.

Kubernetes evaluates ``x-kubernetes-validations`` with CEL plus its own extension
libraries; the rules in our CRDs use two functions cel-python does not have, added here
with Kubernetes' meaning: ``<string>.find(<regex>)`` (the first RE2 match, or ``""``) and
``<string>.split(<sep>[, <n>])`` (Go's ``strings.SplitN``: ``n < 0`` all parts, ``0`` none).
Imported only when a rule needs it: cel-python takes ~0.3-0.6 s to load and build its parser.
"""

from __future__ import annotations

import functools
from typing import Any

import celpy
import re2
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError


def _find(text: Any, pattern: Any) -> celtypes.StringType:
    match = re2.search(str(pattern), str(text))
    return celtypes.StringType(match.group(0) if match else "")


def _split(text: Any, separator: Any, limit: Any = -1) -> celtypes.ListType:
    count = int(limit)
    if count == 0:
        return celtypes.ListType([])
    parts = str(text).split(str(separator), count - 1 if count > 0 else -1)
    return celtypes.ListType([celtypes.StringType(part) for part in parts])


FUNCTIONS: dict[str, Any] = {"find": _find, "split": _split}


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment()


@functools.cache
def _program(rule: str) -> celpy.Runner:
    environment = _environment()
    return environment.program(environment.compile(rule), functions=FUNCTIONS)


def _reason(error: Exception) -> str:
    # cel-python appends its whole activation to some messages: the first clause is enough.
    text = str(error.args[0] if error.args else error)
    return text.split(" (in activation", 1)[0].splitlines()[0][:200]


def evaluate(rule: str, value: Any) -> bool | str:
    """True or False for ``rule`` with ``self`` = ``value``; the error text if it fails to run."""
    try:
        result = _program(rule).evaluate({"self": json_to_cel(value)})
    except CELParseError as exc:
        return f"the rule does not compile: {_reason(exc)}"
    except (CELEvalError, TypeError, ValueError, KeyError, IndexError) as exc:
        # cel-python raises plain Python errors for some ill-typed values (.exists on a bool)
        return f"the rule could not be evaluated: {_reason(exc)}"
    if isinstance(result, CELEvalError):
        return f"the rule could not be evaluated: {_reason(result)}"
    if isinstance(result, celtypes.BoolType):
        return bool(result)
    return f"the rule gave {result!r}, not a bool"
