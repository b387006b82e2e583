"""A stand-in kubectl for `slinky verify`'s command-line tests: it records its arguments,
answers `get` with the real operator's recorded objects (testdata/slurm/operator-1.0.1)
and runs `exec` as a local command or refuses it as kube-apiserver does for a missing pod.

It checks verify's command lines and reporting only; tests/e2e/test_operator_stack.py runs
the same commands against a real API server and operator.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "testdata" / "slurm" / "operator-1.0.1"
GROUP = "slinky.slurm.net"

_SCRIPT = """\
import json, os, sys
argv = sys.argv[1:]
with open({record!r}, "a") as out:
    out.write(json.dumps(argv) + "\\n")
if "get" in argv:
    at = argv.index("get") + 3  # get -n NAMESPACE WHAT... -o json
    found = json.load(open({objects!r})).get(" ".join(argv[at:argv.index("-o")]))
    if found is None:
        sys.exit("Error from server (NotFound): " + " ".join(argv[at:]) + " not found")
    print(json.dumps(found))
    sys.exit(0)
rest = argv[argv.index("--") + 2:]
scontrol = {scontrol!r}
if scontrol is None:
    sys.exit('Error from server (NotFound): pods "' + argv[argv.index("exec") + 3] + '" not found')
os.execv(scontrol[0], scontrol + rest)
"""


def recorded_objects(name: str, pods: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`get` answers for the Controller ``name``: the recorded slurm.conf, gres.conf and pods,
    under the names the operator and slinky-pr give them."""
    recorded = json.loads((DATA / "pods.json").read_text()) if pods is None else pods
    nodesets = []
    for pod in recorded:
        key = pod["spec"]["hostname"].rpartition("-")[0]
        pod["metadata"] = {"ownerReferences": [{"kind": "NodeSet", "name": f"{name}-{key}"}]}
        nodesets.append({"metadata": {"name": f"{name}-{key}"},
                         "spec": {"controllerRef": {"name": name}}})  # fmt: skip
    return {
        f"configmap {name}-config": {"data": {"slurm.conf": (DATA / "slurm.conf").read_text()}},
        f"controllers.{GROUP} {name}": {"spec": {"configFileRefs": [{"name": f"{name}-gres"}]}},
        f"configmap {name}-gres": {"data": {"gres.conf": (DATA / "gres.conf").read_text()}},
        f"nodesets.{GROUP}": {"items": nodesets},
        "pods": {"items": recorded},
    }


def kubectl_standin(
    tmp_path: Path, objects: dict[str, Any], scontrol: Sequence[str] | None = None
) -> tuple[str, Path]:
    """The --kubectl command and the file of its recorded argument lists (JSON lines)."""
    record = tmp_path / "kubectl-argv.jsonl"
    served = tmp_path / "objects.json"
    served.write_text(json.dumps(objects))
    script = tmp_path / "kubectl.py"
    script.write_text(
        _SCRIPT.format(
            record=str(record),
            objects=str(served),
            scontrol=None if scontrol is None else list(scontrol),
        )
    )
    return f"{sys.executable} {script}", record


def calls(record: Path) -> list[list[str]]:
    return [json.loads(line) for line in record.read_text().splitlines()]
