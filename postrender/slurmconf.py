"""slurm.conf fragments as Slinky carries them.

NodeSet ``spec.extraConf`` is one line of ``Key=Value`` tokens handed to
``slurmd --conf``; operators 1.0.1-1.2.1 split it on single spaces and panic on a
token without ``=``. The Controller ``spec.extraConf`` is a block appended to
slurm.conf verbatim. These helpers read and merge both without breaking either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9]*=\S+$")


class ConfError(ValueError):
    """A fragment the operator or slurmctld would reject."""


def parse_tokens(line: str | None, strict: bool = True) -> list[tuple[str, str]]:
    """Split a NodeSet extraConf into (key, value) tokens, refusing what would panic the operator.

    ``strict=False`` accepts stray whitespace (slinky-pr rewrites the line single-spaced).
    """
    if not line:
        return []
    if "\n" in line.strip():
        raise ConfError("NodeSet extraConf must be a single line")
    if strict and line != " ".join(line.split()):
        raise ConfError(
            f"{line!r} has double, leading, trailing or tab spacing (the operator panics)"
        )
    tokens = []
    for token in line.split():
        if not _TOKEN.match(token):
            raise ConfError(f"token {token!r} is not Key=Value (the operator panics on it)")
        key, _, value = token.partition("=")
        tokens.append((key, value))
    return tokens


def format_tokens(tokens: list[tuple[str, str]]) -> str:
    """Single spaces, no leading or trailing space: the only form every operator accepts."""
    return " ".join(f"{k}={v}" for k, v in tokens)


def merge_list_token(tokens: list[tuple[str, str]], key: str, values: list[str]) -> None:
    """Comma-merge ``values`` into the token ``key`` (case-insensitive), as the operator would."""
    for i, (k, v) in enumerate(tokens):
        if k.lower() == key.lower():
            present = v.split(",")
            tokens[i] = (k, ",".join(present + [x for x in values if x not in present]))
            return
    if values:
        tokens.append((key, ",".join(values)))


class Gres:
    """One GRES entry, ``name[:type]:count``."""

    # A plain class, not a dataclass: importing dataclasses costs ~17 ms of every
    # `helm upgrade`. Equal by value (merge_gres, verify compare entries) and hashable, as
    # the frozen dataclass was.
    __slots__ = ("count", "name", "type")

    def __init__(self, name: str, type: str | None, count: int) -> None:
        self.name = name
        self.type = type
        self.count = count

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Gres):
            return NotImplemented
        return (self.name, self.type, self.count) == (other.name, other.type, other.count)

    def __hash__(self) -> int:
        return hash((self.name, self.type, self.count))

    def __str__(self) -> str:
        return ":".join([self.name, *([self.type] if self.type else []), str(self.count)])

    @classmethod
    def parse(cls, text: str) -> Gres:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[-1].isdigit():
            raise ConfError(f"GRES {text!r} is not name[:type]:count")
        return cls(parts[0], parts[1] if len(parts) == 3 else None, int(parts[-1]))


def merge_gres(tokens: list[tuple[str, str]], gres: Gres) -> None:
    """Put ``gres`` into the one Gres token; a different entry of the same name is a conflict."""
    for i, (k, v) in enumerate(tokens):
        if k.lower() != "gres":
            continue
        entries = [Gres.parse(e) for e in v.split(",") if e]
        for entry in entries:
            if entry.name == gres.name and entry != gres:
                raise ConfError(f"extraConf already has Gres={entry}, the profile asks for {gres}")
        if gres not in entries:
            tokens[i] = (k, ",".join([*map(str, entries), str(gres)]))
        return
    tokens.append(("Gres", str(gres)))


def conf_lines(block: str | None) -> list[str]:
    """The lines of a Controller extraConf block (no trailing empty line)."""
    return block.splitlines() if block else []


def line_tokens(line: str) -> dict[str, str]:
    """``Key=Value`` tokens of one slurm.conf line, keys as written."""
    out = {}
    for token in line.split():
        key, sep, value = token.partition("=")
        if sep:
            out[key] = value
    return out


def partition_names(lines: list[str]) -> dict[str, str]:
    """PartitionName -> its full line, for every partition line in a block."""
    out = {}
    for line in lines:
        tokens = line_tokens(line)
        name = next((v for k, v in tokens.items() if k.lower() == "partitionname"), None)
        if name:
            out[name] = line.strip()
    return out


def render_option(value: object) -> str:
    """Profile option value to slurm.conf text (booleans YES/NO, lists comma-joined)."""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def partition_line(name: str, nodes: list[str], options: Mapping[str, object]) -> str:
    """The ``PartitionName=`` line slinky-pr writes into the Controller extraConf."""
    parts = [f"PartitionName={name}", f"Nodes={','.join(nodes)}"]
    parts += [f"{key}={render_option(value)}" for key, value in options.items()]
    return " ".join(parts)


def is_default(line: str) -> bool:
    """Whether a partition line carries Default=YES."""
    return any(k.lower() == "default" and v.upper() == "YES" for k, v in line_tokens(line).items())


def merge_conf_key(lines: list[str], key: str, values: list[str]) -> list[str]:
    """Comma-merge ``values`` into the ``key=`` line of a slurm.conf block, or append one."""
    out = list(lines)
    for i, line in enumerate(out):
        name, sep, value = line.strip().partition("=")
        if sep and name.lower() == key.lower() and " " not in value:
            present = value.split(",")
            out[i] = f"{name}={','.join(present + [v for v in values if v not in present])}"
            return out
    return [*out, f"{key}={','.join(values)}"]


def join_block(lines: list[str], like: str | None) -> str:
    """Lines back into a block, keeping the original's trailing newline (``|`` vs ``|-``)."""
    text = "\n".join(lines)
    return text + "\n" if like and like.endswith("\n") else text
