"""A small CEL reader for the common rule forms, so that most runs need no CEL library.

The CRDs' ``x-kubernetes-validations`` are mostly ``has()``, field access, comparisons,
``size()``, ``startsWith``/``endsWith``, ``in`` a list, ``all``/``exists`` and the logical
operators. This module evaluates exactly that subset on JSON values and answers True or
False only when it is sure, with CEL's meaning (errors absorbed by ``&&``/``||`` as CEL
does); anything else (another function, mixed types, a missing field, a syntax it does not
know) is :data:`UNSURE`, and ``postrender.validate.cel_library`` asks cel-python, which is the
authority. ``tests/validate/test_cel.py`` holds every answer to cel-python's on every CRD rule and
on generated values. Importing cel-python costs ~0.3-0.6 s, more than a whole typical post-render.
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


class _Unsure:
    """Neither True nor False for certain: an error, or outside the subset."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSURE"


UNSURE: Any = _Unsure()

# Compiled by re's own cache on first use: runs evaluate the trees tools/crd2schema.py
# stored and never tokenize.
_TOKEN = (
    r"\s*(?:(?P<num>[0-9]+)(?![0-9A-Za-z_.])|(?P<str>'[^'\\\n]*'|\"[^\"\\\n]*\")"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>==|!=|<=|>=|&&|\|\||[<>!?:.,()\[\]]))"
)
_KEYWORDS = {"true": True, "false": False, "null": None}
_GLOBALS = ("size", "int")
_INT = r"[+-]?[0-9]{1,18}"  # what Go's strconv.ParseInt reads, within int64


class _Syntax(Exception):
    """Outside the subset: the whole rule goes to cel-python."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = re.compile(_TOKEN).match(text, pos)
        if not match:
            raise _Syntax(text[pos:])
        pos = match.end()
        if match["num"] is not None:
            out.append(("lit", int(match["num"])))
        elif match["str"] is not None:
            out.append(("lit", match["str"][1:-1]))
        elif match["id"] is not None:
            name = match["id"]
            out.append(("lit", _KEYWORDS[name]) if name in _KEYWORDS else ("id", name))
        else:
            out.append(("op", match["op"]))
    return out


# The parse tree: tuples whose first item says what they are.
if TYPE_CHECKING:
    Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self, value: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        kind, token = self.tokens[self.pos]
        return kind == "op" and token == value

    def take(self, value: str) -> None:
        if not self.peek(value):
            raise _Syntax(value)
        self.pos += 1

    def parse(self) -> Node:
        node = self.expr()
        if self.pos != len(self.tokens):
            raise _Syntax("trailing input")
        return node

    def expr(self) -> Node:
        cond = self.binary(0)
        if self.peek("?"):
            self.pos += 1
            then = self.expr()
            self.take(":")
            return ("cond", cond, then, self.expr())
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.pos < len(self.tokens):
            kind, token = self.tokens[self.pos]
            if token not in self._LEVELS[level] or kind == "lit":
                break
            self.pos += 1
            node = (token, node, self.binary(level + 1))
            if level == 2:
                break  # relations do not chain in CEL
        return node

    def unary(self) -> Node:
        if self.peek("!"):
            self.pos += 1
            return ("!", self.unary())
        return self.member()

    def args(self) -> list[Node]:
        self.take("(")
        out: list[Node] = []
        while not self.peek(")"):
            out.append(self.expr())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        return out

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.peek("."):
                self.pos += 1
                kind, name = self.tokens[self.pos] if self.pos < len(self.tokens) else ("", "")
                if kind != "id":
                    raise _Syntax(".")
                self.pos += 1
                if self.peek("("):
                    node = ("call", name, node, self.args())
                else:
                    node = ("field", node, name)
            elif self.peek("["):
                self.pos += 1
                index = self.expr()
                self.take("]")
                node = ("index", node, index)
            else:
                return node

    def primary(self) -> Node:
        if self.pos >= len(self.tokens):
            raise _Syntax("end")
        kind, token = self.tokens[self.pos]
        self.pos += 1
        if kind == "lit":
            return ("lit", token)
        if kind == "id":
            if self.peek("("):
                if token in _GLOBALS:
                    return ("gcall", token, self.args())
                if token != "has":
                    raise _Syntax(token)
                (arg,) = self.args()
                if arg[0] != "field":
                    raise _Syntax("has")
                return ("has", arg[1], arg[2])
            return ("var", token)
        if token == "(":
            node = self.expr()
            self.take(")")
            return node
        if token == "[":
            items: list[Node] = []
            while not self.peek("]"):
                items.append(self.expr())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            return ("list", items)
        raise _Syntax(token)


@functools.cache
def parse(rule: str) -> Node | None:
    """The rule's tree, or None when it is outside the subset."""
    try:
        return _Parser(rule).parse()
    except (_Syntax, ValueError):
        return None


_SCALARS = (bool, int, str)


def _same_type(a: Any, b: Any) -> bool:
    # bool is an int in Python, not in CEL; floats, null, lists and maps go to cel-python.
    return type(a) is type(b) and type(a) in _SCALARS


def _equal(a: Any, b: Any) -> Any:
    return a == b if _same_type(a, b) else UNSURE


def _evaluate(node: Node, scope: dict[str, Any]) -> Any:
    op = node[0]
    if op == "lit":
        value = node[1]
        return UNSURE if value is None else value
    if op == "var":
        return scope.get(node[1], UNSURE)
    if op == "field":
        target = _evaluate(node[1], scope)
        if not isinstance(target, dict) or node[2] not in target:
            return UNSURE
        value = target[node[2]]
        return UNSURE if value is None or isinstance(value, float) else value
    if op == "has":
        target = _evaluate(node[1], scope)
        return node[2] in target if isinstance(target, dict) else UNSURE
    if op == "index":
        target, index = _evaluate(node[1], scope), _evaluate(node[2], scope)
        in_list = isinstance(target, list) and type(index) is int and 0 <= index < len(target)
        in_map = isinstance(target, dict) and isinstance(index, str) and index in target
        if not (in_list or in_map):
            return UNSURE
        value = target[index]
        return UNSURE if value is None or isinstance(value, float) else value
    if op == "!":
        value = _evaluate(node[1], scope)
        return (not value) if isinstance(value, bool) else UNSURE
    if op in ("&&", "||"):
        left, right = _evaluate(node[1], scope), _evaluate(node[2], scope)
        absorbing = op == "||"  # true absorbs for ||, false for && (errors included)
        if left is absorbing or right is absorbing:
            return absorbing
        if isinstance(left, bool) and isinstance(right, bool):
            return not absorbing
        return UNSURE
    if op == "cond":
        cond = _evaluate(node[1], scope)
        if not isinstance(cond, bool):
            return UNSURE
        return _evaluate(node[2] if cond else node[3], scope)
    if op == "list":
        items = [_evaluate(item, scope) for item in node[1]]
        return UNSURE if any(item is UNSURE for item in items) else items
    if op in ("==", "!="):
        result = _equal(_evaluate(node[1], scope), _evaluate(node[2], scope))
        return result if result is UNSURE or op == "==" else not result
    if op in ("<", "<=", ">", ">="):
        a, b = _evaluate(node[1], scope), _evaluate(node[2], scope)
        if not _same_type(a, b) or type(a) is bool:
            return UNSURE
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "in":
        item, container = _evaluate(node[1], scope), _evaluate(node[2], scope)
        if isinstance(container, dict) and isinstance(item, str):
            return item in container
        if not isinstance(container, list):
            return UNSURE
        results = [_equal(item, x) for x in container]
        if True in results:
            return True
        return UNSURE if UNSURE in results else False
    if op == "call":
        return _call(node, scope)
    if op == "gcall":
        values = [_evaluate(arg, scope) for arg in node[2]]
        if len(values) != 1:
            return UNSURE
        if node[1] == "size":
            return len(values[0]) if isinstance(values[0], (str, list, dict)) else UNSURE
        if type(values[0]) is int:
            return values[0]
        if isinstance(values[0], str) and re.fullmatch(_INT, values[0]):
            return int(values[0])
    return UNSURE


def _call(node: Node, scope: dict[str, Any]) -> Any:
    _, name, target_node, args = node
    if name == "filter" and len(args) == 2 and args[0][0] == "var":
        target = _evaluate(target_node, scope)
        if not isinstance(target, list):
            return UNSURE
        kept = []
        for item in target:
            keep = _evaluate(args[1], {**scope, args[0][1]: item})
            if not isinstance(keep, bool):
                return UNSURE
            if keep:
                kept.append(item)
        return kept
    if name in ("all", "exists") and len(args) == 2 and args[0][0] == "var":
        target = _evaluate(target_node, scope)
        if not isinstance(target, (list, dict)):
            return UNSURE
        results = [_evaluate(args[1], {**scope, args[0][1]: item}) for item in target]
        decisive = name == "exists"  # one true decides exists, one false decides all
        if decisive in results:
            return decisive
        return UNSURE if any(not isinstance(r, bool) for r in results) else not decisive
    target = _evaluate(target_node, scope)
    values = [_evaluate(arg, scope) for arg in args]
    if name == "size" and not values and isinstance(target, (str, list, dict)):
        return len(target)
    strings = isinstance(target, str) and len(values) == 1 and isinstance(values[0], str)
    if not strings:
        return UNSURE
    if name in ("startsWith", "endsWith"):
        method = target.startswith if name == "startsWith" else target.endswith
        return method(values[0])
    if name == "split" and values[0]:
        return target.split(values[0])
    if name in ("find", "matches") and _simple_regex(values[0]) and "\n" not in target:
        # CEL (RE2) and Python agree on these patterns; matches is a search, not anchored
        match = re.search(values[0], target)
        if name == "matches":
            return match is not None
        return match.group(0) if match else ""
    return UNSURE


def _simple_regex(pattern: str) -> bool:
    """Patterns whose meaning RE2 and Python's re share: literals, classes, groups,
    anchors and quantifiers, nothing else (no escapes, lookarounds, flags, backrefs)."""
    return re.fullmatch(r"[\w@^$.*+?()\[\]/:-]*", pattern) is not None and "(?" not in pattern


def evaluate_tree(tree: Node, value: Any) -> Any:
    """True or False when certain, for a :func:`parse` tree with ``self`` = ``value``."""
    if value is None:
        return UNSURE
    return _evaluate(tree, {"self": value})


def evaluate(rule: str, value: Any) -> Any:
    """True or False when certain, for ``rule`` with ``self`` = ``value``; else UNSURE."""
    tree = parse(rule)
    return UNSURE if tree is None else evaluate_tree(tree, value)
