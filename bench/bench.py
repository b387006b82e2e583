"""slinky-pr side by side with a kustomize post-renderer, in one run.

    make bench                      # or: bench/.venv/bin/python bench/bench.py [options]

Cases: (a) the upstream chart 1.3 sample (two NodeSets patched); (b) a 2,000-NodeSet
release (~3 MB), every NodeSet patched; (c) the same with 4,000 NodeSets. Contenders:
``slinky-pr`` with full schema validation, and again with ``SLINKY_PR_LIBRARY_PATH=1``
(PyYAML, jsonschema_rs and cel-python instead of the hand-written fast paths);
``kubectl kustomize`` applying the equivalent patches (exported from slinky-pr's own change
plan by ``slinky export kustomize``, so the two do the same edits); ``python -c pass``
(interpreter floor); ``cat`` (I/O floor); a plain libyaml load + dump of the stream (the
floor for parse-and-reserialize); and ``slinky lint`` on (b). Each is run several times;
the table gives the median and the spread (min-max) of wall time, and peak RSS. No number
here is asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_release import SAMPLE, make_release

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
BIN = Path(sys.executable).parent
LIBYAML = (
    "import sys, yaml; yaml.dump_all(yaml.load_all(sys.stdin.buffer.read(), "
    "Loader=yaml.CSafeLoader), sys.stdout, Dumper=yaml.CSafeDumper)"
)


# Each command runs under this small launcher. Peak RSS is inherited across fork and exec
# (the kernel keeps the parent's high-water mark), so a command started directly by this
# process would report at least this process's peak, which grows with the releases it
# builds. The launcher is a fresh interpreter: its children start from its ~10 MiB.
_LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def measure(
    cmd: list[str], stdin: Path, runs: int, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Wall seconds (median, min, max) and peak RSS (MiB) over ``runs`` runs."""
    times, rss = [], []
    for _ in range(runs):
        with stdin.open("rb") as handle:
            done = subprocess.run(
                [sys.executable, "-c", _LAUNCHER, *cmd],
                stdin=handle,
                env=None if env is None else {**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
            )
        seconds, kib, code = done.stdout.split()
        if int(code) not in (0, 1):  # lint exits 1 on findings
            raise RuntimeError(f"{cmd[0]} exited {code}: {done.stderr[-2000:]}")
        times.append(float(seconds))
        rss.append(int(kib) / 1024)
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "rss_mib": max(rss),
        "runs": runs,
    }


def kustomize_dir(release: Path, out: Path) -> Path:
    from postrender.export.kustomize import export, write
    from postrender.model.profiles import load_profile

    write(export(release.read_text(), load_profile(str(PROFILES))).files, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs for the typical release")
    parser.add_argument("--runs-large", type=int, default=3, help="runs for (b) and (c)")
    parser.add_argument("--sizes", default="2000,4000", help="NodeSet counts for (b) and (c)")
    parser.add_argument("--kustomize-max", type=int, default=4000, help="skip kustomize above this")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    # The kubectl `make e2e-build` pins (its kustomize is then a known version), else PATH's.
    cache = os.environ.get("SLINKY_E2E_CACHE") or Path.home() / ".cache/slinky-pr/e2e"
    pinned = Path(cache) / "bin" / "kubectl"
    kubectl = str(pinned) if os.access(pinned, os.X_OK) else shutil.which("kubectl")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="slinky-bench-") as tmp:
        work = Path(tmp)
        cases = {"a (1.3 sample)": SAMPLE}
        for size in sizes:
            path = work / f"release-{size}.yaml"
            path.write_text(make_release(size))
            cases[f"{size} NodeSets"] = path
        for name, release in cases.items():
            runs = args.runs if release == SAMPLE else args.runs_large
            size = release.stat().st_size
            row: dict[str, dict[str, float]] = {}
            post_render = [str(BIN / "slinky-pr"), "--config", str(PROFILES)]
            row["slinky-pr"] = measure(post_render, release, runs)
            # The same without the hand-written fast paths (postrender/switches.py): what
            # the fast reader, writer, schema and CEL checks buy over their libraries.
            row["slinky-pr, library path"] = measure(
                post_render, release, runs, {"SLINKY_PR_LIBRARY_PATH": "1"}
            )
            nodesets = release.read_text().count("kind: NodeSet")
            if kubectl and nodesets <= args.kustomize_max:
                directory = kustomize_dir(release, work / f"kustomize-{nodesets}")
                row["kustomize"] = measure([kubectl, "kustomize", str(directory)], release, runs)
            row["libyaml load+dump"] = measure([sys.executable, "-c", LIBYAML], release, runs)
            row["python -c pass"] = measure([sys.executable, "-c", "pass"], release, runs)
            row["cat"] = measure(["cat"], release, runs)
            if release != SAMPLE and nodesets == sizes[0]:
                row["slinky lint"] = measure(
                    [str(BIN / "slinky"), "lint", "--config", str(PROFILES), "-"], release, runs
                )
            row["input"] = {"bytes": size, "nodesets": nodesets}
            results[name] = row
            report(name, row)
    ratios(results, sizes)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")


def report(name: str, row: dict[str, dict[str, float]]) -> None:
    info = row["input"]
    print(f"\n## {name}: {info['nodesets']:.0f} NodeSets, {info['bytes'] / 1e6:.2f} MB")
    print("| command | median s | min-max s | peak RSS MiB | runs |\n|---|---|---|---|---|")
    for command, m in row.items():
        if command != "input":
            print(
                f"| {command} | {m['median']:.3f} | {m['min']:.3f}-{m['max']:.3f} "
                f"| {m['rss_mib']:.0f} | {m['runs']:.0f} |"
            )


def ratios(results: dict[str, dict[str, dict[str, float]]], sizes: list[int]) -> None:
    """The issue 7 targets, as ratios of medians from this one run."""

    def t(case: str, command: str) -> float | None:
        m = results.get(case, {}).get(command)
        return m["median"] if m else None

    a = "a (1.3 sample)"
    b, c = (f"{n} NodeSets" for n in [*sizes, 0, 0][:2])
    rows = [
        ("(a) slinky-pr / kustomize", t(a, "slinky-pr"), t(a, "kustomize"), "<= 1.0, aim 0.5"),
        (
            "(a) library path / kustomize",
            t(a, "slinky-pr, library path"),
            t(a, "kustomize"),
            "none: what the fast paths buy",
        ),
        ("(b) slinky-pr / kustomize", t(b, "slinky-pr"), t(b, "kustomize"), "<= 0.25"),
        ("(b) slinky-pr / libyaml", t(b, "slinky-pr"), t(b, "libyaml load+dump"), "<= 1.5"),
        ("(b) slinky lint / slinky-pr", t(b, "slinky lint"), t(b, "slinky-pr"), "<= 2"),
        ("(c) / (b) slinky-pr", t(c, "slinky-pr"), t(b, "slinky-pr"), "<= 2.1"),
    ]
    print("\n## Ratios (targets from issue 7)")
    for label, num, den, target in rows:
        value = f"{num / den:.2f}" if num and den else "n/a"
        print(f"- {label}: {value} (target {target})")
    if c in results:
        rss, size = results[c]["slinky-pr"]["rss_mib"], results[c]["input"]["bytes"]
        limit = 10 * size / 2**20 + 100
        print(f"- (c) peak RSS: {rss:.0f} MiB (target <= 10 x input + 100 MB = {limit:.0f} MiB)")


if __name__ == "__main__":
    main()
