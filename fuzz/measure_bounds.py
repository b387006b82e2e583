"""Measure time and peak memory of ``slinky-pr`` on the worst inputs (docs/hostile-input.md).

    python fuzz/measure_bounds.py [NAME ...]

Writes each input to a temporary file, runs ``/usr/bin/time -f "%e %M" python -m
postrender ARGS < input`` (no shell) and prints one Markdown table row per input:
exit code, bytes out, wall seconds, peak RSS. Without names it runs them all (several
minutes: the inputs at the cap are the slow ones).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILES = str(ROOT / "testdata" / "examples" / "profiles.yaml")
RELEASE = (ROOT / "testdata" / "examples" / "release.yaml").read_bytes()
CAP = 16 * 1024 * 1024


def laughs(levels: int, width: int = 10) -> bytes:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def fill(unit: bytes, size: int = CAP) -> bytes:
    """As many copies of ``unit`` as fit in ``size`` bytes."""
    return unit * (size // len(unit))


def huge_scalar() -> bytes:
    head = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: |\n"
    return head + fill(b"    " + b"x" * 75 + b"\n", CAP - len(head))


def huge_list(size: int = CAP) -> bytes:
    head = b"apiVersion: v1\nkind: Widget\nitems: ["
    return head + fill(b"1, ", size - len(head) - 3) + b"1]\n"


def bomb_profile(directory: Path) -> list[str]:
    path = directory / "bomb-profiles.yaml"
    path.write_bytes(laughs(9) + b"clusters: [{name: c, partitions: *a8}]\n")
    return ["--config", str(path)]


def partitions_profile(count: int, nodesets: str) -> Callable[[Path], list[str]]:
    """A profile of ``count`` partitions (``nodesets``: what each one adds, with {i})."""

    def write(directory: Path) -> list[str]:
        path = directory / f"profile-{count}.yaml"
        rows = "".join(
            f"      - {{name: p{i}, {nodesets.format(i=i)}options: {{MaxTime: 30}}}}\n"
            for i in range(count)
        )
        path.write_text("clusters:\n  - name: c\n    partitions:\n" + rows)
        return ["--config", str(path)]

    return write


def own_nodesets(count: int) -> bytes:
    """The example Controller and ``count`` small NodeSets, each in its own partition."""
    controller = RELEASE.split(b"\n---\n")[0] + b"\n"
    nodeset = (
        "---\napiVersion: slinky.slurm.net/v1beta1\nkind: NodeSet\nmetadata:\n  name: w{i}\n"
        "  annotations: {{slinky-pr/partition: p{i}}}\nspec:\n  controllerRef: {{name: x}}\n"
        "  template:\n    spec:\n      hostname: n{i}-\n"
    )
    return controller + "".join(nodeset.format(i=i) for i in range(count)).encode()


UNTARGETED = RELEASE.replace(b"slinky-pr/partition", b"example.com/untargeted")

# name -> (input, extra arguments (or a function of the work directory), what it shows)
CASES: dict[str, tuple[Callable[[], bytes], list[str] | Callable[[Path], list[str]], str]] = {
    "billion-laughs": (lambda: laughs(9), [], "10^9 nodes once expanded"),
    "alias-bombs-spread": (
        lambda: b"---\n".join([laughs(5)] * 20),
        [],
        "20 documents of 10^5 nodes each",
    ),
    "100k-open-brackets": (lambda: b"a: " + b"[" * 100_000 + b"\n", [], "libyaml's depth limit"),
    "999-nested-lists": (lambda: b"a: " + b"[" * 999 + b"]" * 999 + b"\n", [], "depth cap 100"),
    "cap-of-tiny-documents": (lambda: fill(b"---\na: 1\n"), [], "1.9 million documents"),
    "cap-of-tiny-documents-profile": (
        lambda: fill(b"---\na: 1\n"),
        ["--config", PROFILES],
        "the same, with the example profile",
    ),
    "cap-of-releases-profile": (
        lambda: fill(RELEASE),
        ["--config", PROFILES],
        "the example release, 1,575 times",
    ),
    "8MiB-of-tiny-documents": (lambda: fill(b"---\na: 1\n", 8 << 20), [], "930,000 documents"),
    "cap-one-scalar": (huge_scalar, [], "one 16 MiB block scalar"),
    "8MiB-one-flow-list": (lambda: huge_list(8 << 20), [], "one list of 2.8 million items"),
    "cap-one-flow-list": (huge_list, [], "one list of 5.6 million items"),
    "200MiB-refused": (lambda: b"#" * (200 * 1024 * 1024), [], "over the cap: refused"),
    "profile-billion-laughs": (lambda: RELEASE, bomb_profile, "10^9-node alias bomb profile"),
    "10k-partitions-one-nodeset": (
        lambda: UNTARGETED,
        partitions_profile(10_000, "nodesets: [gpu], "),
        "10,000 partitions on one NodeSet",
    ),
    "20k-partitions-one-nodeset": (
        lambda: UNTARGETED,
        partitions_profile(20_000, "nodesets: [gpu], "),
        "20,000 partitions on one NodeSet",
    ),
    "11k-nodesets-own-partitions": (
        lambda: own_nodesets(11_000),
        partitions_profile(11_000, ""),
        "11,000 NodeSets, a partition each",
    ),
    "40k-nodesets-own-partitions": (
        lambda: own_nodesets(40_000),
        partitions_profile(40_000, ""),
        "40,000 NodeSets, a partition each",
    ),
}


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n:,} B"


def measure(name: str, directory: Path) -> Iterator[str]:
    make, extra, what = CASES[name]
    args = extra(directory) if callable(extra) else extra
    path = directory / name
    path.write_bytes(make())
    with path.open("rb") as stdin:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "postrender", *args],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    seconds, kib = done.stderr.decode().strip().splitlines()[-1].split()
    size = path.stat().st_size
    path.unlink()
    yield (
        f"| {name} | {what} | {_size(size)} | {done.returncode} | "
        f"{len(done.stdout)} | {seconds} s | {int(kib) / 1024:.0f} MiB |"
    )


def main() -> None:
    names = sys.argv[1:] or list(CASES)
    print("| input | what | size | exit | stdout bytes | time | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            for row in measure(name, Path(directory)):
                print(row, flush=True)


if __name__ == "__main__":
    main()
