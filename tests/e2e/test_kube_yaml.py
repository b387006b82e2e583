"""slinky-pr's YAML against Kubernetes' own YAML reader (issue 19 item 2).

Kubernetes reads manifests with sigs.k8s.io/yaml (go-yaml v2), not with YAML 1.1 as PyYAML
does. ``tools/kubeyaml`` is a small Go program at the versions Kubernetes v1.36.3 pins
that prints the JSON Kubernetes makes of each YAML document; it is built here with the Go
toolchain into the end-to-end cache. For many generated scalar spellings (numbers in every
base and form, words in every case, times, dates, the review's cases) it checks that

- slinky-pr's reader gives each plain scalar the value Kubernetes gives it;
- a document slinky-pr rewrites means to Kubernetes exactly what it meant before, for
  plain and quoted scalars, as values and as keys;
- profile values that look like other types reach the NodeSet as the strings they are.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from needs import missing

from postrender.yaml import scalars

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
RELEASE = (ROOT / "testdata" / "examples" / "release.yaml").read_text()
CACHE = Path(os.environ.get("SLINKY_E2E_CACHE") or Path.home() / ".cache/slinky-pr/e2e")


@pytest.fixture(scope="module")
def kubeyaml() -> Path:
    """tools/kubeyaml built into the cache's bin/ (Go's build cache makes a rebuild quick)."""
    go = shutil.which("go")
    if go is None:
        missing("the Go toolchain (go) is not on PATH", "the Kubernetes YAML reader tests")
    binary = CACHE / "bin" / "kubeyaml"
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -trimpath"}
    subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=ROOT / "tools" / "kubeyaml",
        env=env,
        check=True,
        timeout=600,
    )
    return binary


def read_as_kubernetes(binary: Path, documents: list[str]) -> list[dict[str, Any]]:
    """What Kubernetes makes of each document: {"json": value} or {"error": message}."""
    done = subprocess.run(
        [str(binary)], input=json.dumps(documents).encode(), capture_output=True, check=True
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def _numbers(rng: random.Random, count: int = 700) -> list[str]:
    """Spellings built from the pieces of every YAML 1.1, 1.2 and Go number syntax."""
    out = set()
    for _ in range(count):
        sign = rng.choice(["", "", "-", "+"])
        prefix = rng.choice(["", "", "", "0", "0x", "0X", "0o", "0O", "0b", "0B"])
        digits = "".join(rng.choice("0123456789abcdefABCDEF_"[: rng.choice([2, 8, 10, 16, 23])])
                         for _ in range(rng.randint(0, 6)))  # fmt: skip
        text = sign + prefix + digits
        if rng.random() < 0.3:
            text += "." + "".join(rng.choice("0123456789_") for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.3:
            text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 400))
        if rng.random() < 0.15:
            text += ":" + str(rng.randint(0, 99))
        if rng.random() < 0.05:
            text = "1" + "0" * rng.randint(15, 400)
        out.add(text)
    # "-" alone starts a list; a final ":" makes a key
    return sorted(t for t in out if t not in ("", "-") and not t.endswith(":"))


def _words() -> list[str]:
    """Every case spelling of the YAML 1.1 and go-yaml words, and the special floats."""
    words = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"]
    out = set()
    for word in words:
        for letters in itertools.product(*((c.lower(), c.upper()) for c in word)):
            out.add("".join(letters))
    out |= {f"{s}.{w}" for s in ("", "+", "-") for w in out if w.lower() in ("nan", "inf")}
    return sorted(out | {"~", "<<", "=", ".5", "-.5", "+.5", "._5", ".5_5", ".e5", "1e", "1."})


def _times(rng: random.Random, count: int = 120) -> list[str]:
    """Dates and times, valid and impossible, in the YAML 1.1 timestamp forms."""
    out = {"10:30", "1:30.5", "190:20:30", "0000-00-00", "2024-02-30", "2024-02-29", "2023-02-29"}
    for _ in range(count):
        date = f"{rng.randint(0, 9999):04d}-{rng.randint(0, 13):0{rng.choice([1, 2])}d}-" + (
            f"{rng.randint(0, 32):0{rng.choice([1, 2])}d}"
        )
        time = f"{rng.randint(0, 25)}:{rng.randint(0, 60):02d}:{rng.randint(0, 60):02d}"
        frac = rng.choice(["", ".1", ".123456789"])
        zone = rng.choice(["", "Z", "+01:00", "-5", " -5", "z"])
        sep = rng.choice(["T", "t", " "])
        out.add(date)
        out.add(f"{date}{sep}{time}{frac}{zone}".rstrip())
    return sorted(out)


REVIEW = ["y", "n", "Y", "N", "1e3", "1.0e5", "0o17", "0X1F", "08", "10:30", "0x_", "=", "<<"]
_RNG = random.Random(19)
SPELLINGS = sorted(set(REVIEW + _numbers(_RNG) + _words() + _times(_RNG)))


def _kube_equal(mine: Any, theirs: Any) -> bool:
    """Equal as JSON values: numbers by value (JSON has one number type), bools apart."""
    if isinstance(mine, bool) or isinstance(theirs, bool):
        return type(mine) is type(theirs) and mine == theirs
    if isinstance(mine, (int, float)) and isinstance(theirs, (int, float)):
        if isinstance(mine, int) and isinstance(theirs, int):
            return mine == theirs
        return math.isclose(mine, theirs, rel_tol=1e-15)
    return type(mine) is type(theirs) and mine == theirs


def test_plain_scalars_are_read_as_kubernetes_reads_them(kubeyaml: Path) -> None:
    assert len(SPELLINGS) > 700
    theirs = read_as_kubernetes(kubeyaml, [f"v: {s}\n" for s in SPELLINGS])
    wrong = []
    for text, result in zip(SPELLINGS, theirs, strict=True):
        mine = scalars.kube_plain(text)
        if "error" in result:  # NaN and infinities have no JSON; Kubernetes refuses them
            assert isinstance(mine, float) and not math.isfinite(mine), (text, result)
        elif not _kube_equal(mine, result["json"]["v"]):
            wrong.append((text, mine, result["json"]["v"]))
    assert not wrong, wrong


def _nodeset_at(documents: list[str]) -> int:
    return next(i for i, d in enumerate(documents) if "name: slinky-slurm-worker-gpu" in d)


def _documents(stream: str) -> list[str]:
    return [d for d in re.split(r"^---$", stream, flags=re.M) if d.strip()]


def _post_render(stdin: str, profile: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "postrender", "--config", str(profile)],
        input=stdin.encode(),
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_a_rewritten_nodeset_means_the_same_to_kubernetes(kubeyaml: Path) -> None:
    # Only spellings Kubernetes can turn into JSON at all (not NaN or infinities).
    probe = read_as_kubernetes(kubeyaml, [f"v: {s}\n{s}: k\n" for s in SPELLINGS])
    usable = [s for s, r in zip(SPELLINGS, probe, strict=True) if "error" not in r and s != "<<"]
    values = "".join(f'        p{i}: {s}\n        q{i}: "{s}"\n' for i, s in enumerate(usable))
    keys = "".join(f"      - {s}: k{i}\n" for i, s in enumerate(usable))
    spec = "    spec:\n      affinity: {}\n      hostname: gpu-\n"
    at = RELEASE.index(spec, RELEASE.index("name: slinky-slurm-worker-gpu"))
    # and in a flow sequence (where ":" and " " would need more care: left out)
    flow = ", ".join(s for s in usable if ":" not in s and " " not in s)
    extra = f"      x-scalars:\n{values}      x-keys:\n{keys}      x-flow: [{flow}]\n"
    stdin = RELEASE[: at + len(spec)] + extra + RELEASE[at + len(spec) :]
    stdout = _post_render(stdin, PROFILES)
    before, after = (_documents(text) for text in (stdin, stdout))
    assert "Gres=gpu:a100:8" in after[_nodeset_at(after)]  # slinky-pr did rewrite it
    theirs = read_as_kubernetes(kubeyaml, [before[_nodeset_at(before)], after[_nodeset_at(after)]])
    old, new = (r["json"]["spec"]["template"]["spec"] for r in theirs)
    assert len(old["x-scalars"]) == 2 * len(usable) and len(old["x-keys"]) == len(usable)
    changed = [
        (s, old["x-scalars"][f"{p}{i}"], new["x-scalars"][f"{p}{i}"])
        for i, s in enumerate(usable)
        for p in "pq"
        if old["x-scalars"][f"{p}{i}"] != new["x-scalars"][f"{p}{i}"]
    ]
    pairs = zip(usable, old["x-keys"], new["x-keys"], strict=True)
    changed += [(s, a, b) for s, a, b in pairs if a != b]
    assert not changed, changed
    assert len(old["x-flow"]) > len(usable) // 2 and new["x-flow"] == old["x-flow"]


LABEL_VALUE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def test_profile_values_reach_kubernetes_as_strings(kubeyaml: Path, tmp_path: Path) -> None:
    labels = [s for s in SPELLINGS if len(s) <= 63 and LABEL_VALUE.fullmatch(s)][:300]
    selector = "nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool"
    extra = "".join(f', l{i}: "{s}"' for i, s in enumerate(labels))
    profile = tmp_path / "profiles.yaml"
    profile.write_text(PROFILES.read_text().replace(selector, selector + extra, 1))
    after = _documents(_post_render(RELEASE, profile))
    (result,) = read_as_kubernetes(kubeyaml, [after[_nodeset_at(after)]])
    selected = result["json"]["spec"]["template"]["spec"]["nodeSelector"]
    assert {f"l{i}": s for i, s in enumerate(labels)}.items() <= selected.items()
