"""slurm.conf fragments as Slinky carries them.

NodeSet ``spec.extraConf`` is one line of ``Key=Value`` tokens handed to
``slurmd --conf``; operators 1.0.1-1.2.1 split it on single spaces and panic on a
token without ``=``. The Controller ``spec.extraConf`` is a block appended to
slurm.conf verbatim. These helpers read and merge both without breaking either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9]*=\S+$")
# slurm.conf(5): a GRES count may carry a 1024-based multiplier.
_GRES = re.compile(
    r"(?P<name>[A-Za-z0-9_]+)(?::(?P<type>[^:,\s]+))?:(?P<count>[0-9]+)(?P<unit>[KMGTP]?)\Z"
)
_GRES_UNITS = "KMGTP"


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


def conf_key(key: str) -> str:
    """A NodeSet extraConf key as the operator reads it: Go's ``cases.Title`` on one word
    (``gres``, ``GRES`` and ``Gres`` are one key), ``Feature`` folded into ``Features``."""
    title = key[:1].upper() + key[1:].lower()
    return "Features" if title == "Feature" else title


def operator_conf(tokens: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The values of every key after the operator's merge: repeated keys comma-joined in order."""
    merged: dict[str, list[str]] = {}
    for key, value in tokens:
        merged.setdefault(conf_key(key), []).extend(value.split(","))
    return merged


def _consolidate(tokens: list[tuple[str, str]], key: str, values: list[str]) -> None:
    """Write ``values`` as one token at the first token of ``key`` (appended if there is
    none); the key's other tokens go, since the operator would merge them into it anyway."""
    at = [i for i, (k, _) in enumerate(tokens) if conf_key(k) == conf_key(key)]
    if not at:
        tokens.append((key, ",".join(values)))
        return
    tokens[at[0]] = (tokens[at[0]][0], ",".join(values))
    for i in reversed(at[1:]):
        del tokens[i]


def merge_list_token(tokens: list[tuple[str, str]], key: str, values: list[str]) -> None:
    """Comma-merge ``values`` into every token of ``key``, as the operator would."""
    present = operator_conf(tokens).get(conf_key(key), [])
    added = [x for x in values if x not in present]
    if added:
        _consolidate(tokens, key, present + added)


class Gres:
    """One GRES entry, ``name[:type]:count``."""

    # A plain class, not a dataclass (see tests/test_import_cost.py); equal by value
    # (merge_gres, verify compare entries) and hashable, as the frozen dataclass was.
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
        match = _GRES.match(text)
        if not match:
            raise ConfError(f"GRES {text!r} is not name[:type]:count")
        scale = 1024 ** (_GRES_UNITS.index(match["unit"]) + 1) if match["unit"] else 1
        return cls(match["name"], match["type"], int(match["count"]) * scale)


def gres_entries(tokens: list[tuple[str, str]]) -> list[Gres]:
    """The node's GRES: the entries of every ``Gres=`` token, merged as the operator merges."""
    return [Gres.parse(e) for e in operator_conf(tokens).get("Gres", []) if e]


def gres_conflicts(entries: list[Gres]) -> list[str]:
    """What makes a node's GRES wrong: an untyped and a typed entry of one name (slurmd
    counts both), or an entry written twice (twice the devices)."""
    problems = []
    by_name: dict[str, list[Gres]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    for name, group in by_name.items():
        written = ",".join(map(str, group))
        typed = [g for g in group if g.type]
        if typed and len(typed) < len(group):
            problems.append(f"Gres={written} mixes untyped and typed {name}")
        elif len(set(group)) < len(group):
            problems.append(f"Gres={written} repeats an entry")
    return problems


def merge_gres(tokens: list[tuple[str, str]], gres: Gres) -> None:
    """Put ``gres`` into the node's GRES, over every ``Gres=`` token (the operator merges
    them into one); an entry of the same name with another value, or a GRES that already
    conflicts with itself, is refused."""
    count = sum(1 for k, _ in tokens if conf_key(k) == "Gres")
    merged = " (the operator merges the Gres= tokens into one)" if count > 1 else ""
    entries = gres_entries(tokens)
    for entry in entries:
        if entry.name == gres.name and entry != gres:
            raise ConfError(
                f"extraConf already has Gres={entry}{merged}, the profile asks for {gres}"
            )
    problems = gres_conflicts(entries)
    if problems:
        raise ConfError("; ".join(problems) + merged)
    if gres not in entries or count > 1:
        written = [e for e in operator_conf(tokens).get("Gres", []) if e]
        _consolidate(tokens, "Gres", written + ([] if gres in entries else [str(gres)]))


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


# TRES slurmctld knows without extra configuration (slurm.conf(5) AccountingStorageTRES),
# and GRES/<name> (refused later unless GRES are accounted). Checked on Slurm 26.05:
# "GPU" or "Memory" make slurmctld exit ("TRES weight 'GPU' is not a configured TRES
# type"), as does License/<name> without Licenses=.
@cache
def _tres_weight() -> re.Pattern[str]:
    """One ``TRES=weight`` of TRESBillingWeights (compiled on first use: most runs need none)."""
    return re.compile(
        r"(cpu|mem|vmem|pages|node|energy|billing|fs/disk|gres/[a-z0-9_]+(:[a-z0-9_.-]+)?)"
        r"=[0-9]+(\.[0-9]+)?[kmgtp]?",
        re.IGNORECASE,
    )


def option_problems(key: str, value: object) -> list[tuple[str, str | None]]:
    """What slurmctld would refuse in one partition option that the schema lets through.

    JSON Schema's ``integer`` accepts ``20.0``, which slurmctld does not
    (``PriorityTier value "20.0" is not a valid number``, ``Bad value "30.0" for MaxTime``).
    """
    if isinstance(value, float):
        whole = f"{value:.0f}" if value.is_integer() else None
        return [
            (
                f"{key}: {value!r} is not an integer (slurmctld refuses {key}={value!r})",
                f"write {key}: {whole}" if whole else None,
            )
        ]
    if key == "TRESBillingWeights" and isinstance(value, str):
        wrong = [w for w in value.split(",") if not _tres_weight().fullmatch(w)]
        if wrong:
            return [
                (
                    f"TRESBillingWeights: {', '.join(wrong)} weighs no TRES slurmctld knows "
                    "(it would exit: not a configured TRES type)",
                    "weigh CPU, Mem, VMem, Pages, Node, Energy, Billing, FS/disk or "
                    "GRES/<name>, e.g. CPU=1.0,Mem=0.25G,GRES/gpu=2.0",
                )
            ]
    return []
