"""Convert upstream CRDs into JSON Schema files for the post-renderer's validator.

Usage (from the repository root)::

    python tools/crd2schema.py [--crds DIR ...] [--out DIR]

By default the CRDs are read from ``testdata/upstream/crds`` (upstream copies, with their
sources in ``testdata/upstream/SOURCE.md``). The output directory (default ``schemas/k8s``)
is fully generated: every run rewrites all files, deletes ``*.json`` files it did not
produce, and produces byte-identical output for identical input.

The conversion follows kubeconform's ``openapi2jsonschema``: each served version's
``openAPIV3Schema`` becomes one standalone schema, with these Kubernetes extensions mapped
onto plain JSON Schema:

* ``nullable: true`` adds ``null`` to the allowed types (the chart renders empty lists such
  as ``configFileRefs:`` as ``null``, which the API server accepts); so does a ``default``
  (the API server defaults a null field; chart 1.1 renders NodeSet ``scalingMode: null``);
* ``x-kubernetes-int-or-string: true`` becomes ``type: [integer, string]``;
* ``x-kubernetes-preserve-unknown-fields: true`` leaves the object open;
* any other object that declares ``properties`` gets ``additionalProperties: false``, so a
  misspelt field is reported instead of being silently pruned by the API server.

CEL rules (``x-kubernetes-validations``) cannot be expressed in JSON Schema: they go to
``<schema>.cel.json`` beside the schema instead (each with the path of the node it sits on,
``*`` for list items and map values, and its ``postrender.validate.cel_quick`` tree when the rule is
in that subset, so a run does not parse it), which ``postrender/validate/cel.py`` evaluates.
Transition rules (those naming ``oldSelf``) are left out: the API server runs them only on updates,
against the stored object. Descriptions are dropped (to keep the files small).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from crd_convert import (
    GENERATOR,
    SCHEMA_DIALECT,
    cel_rules,
    configmap_schema,
    convert_schema,
    object_meta_schema,
)

from postrender.validate import cel_quick as celquick

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRDS = (REPO_ROOT / "testdata" / "upstream" / "crds",)
DEFAULT_OUT = REPO_ROOT / "schemas" / "k8s"


# Upstream provenance per source file, as in testdata/upstream/SOURCE.md. Kept in code rather
# than parsed from the README because the README abbreviates file names in its table.
_SLINKY_HEAD = "SlinkyProject/slurm-operator @ f2ed3fc (after v1.2.1), config/crd/bases/"
_SLINKY_101 = "SlinkyProject/slurm-operator tag v1.0.1, config/crd/bases/"
# Taken from the same repository's tags (see testdata/upstream/SOURCE.md)
# because chart 1.0.1 renders spec.controllerRef.namespace (dropped after 1.0) and chart 1.1.2
# renders NodeSet spec.taintKubeNodes (dropped in 1.2); neither HEAD nor v1.0.1 has both.
_SLINKY_101_EXTRA = "SlinkyProject/slurm-operator tag v1.0.1 (d986a3b7), config/crd/bases/"
_SLINKY_112_EXTRA = "SlinkyProject/slurm-operator tag v1.1.2 (3c354335), config/crd/bases/"
# Chart 1.1.0 (the e2e suite's chart, tools/e2e/versions.env) renders both.
_SLINKY_110_EXTRA = "SlinkyProject/slurm-operator v1.1.0 Go module, config/crd/bases/"
_KARPENTER_AWS = "aws/karpenter-provider-aws v1.14.1, pkg/apis/crds/"
_KARPENTER_CORE = "kubernetes-sigs/karpenter (provider-neutral NodePool)"
_KARPENTER_V1BETA1 = (
    "aws/karpenter-provider-aws v0.37.0 (last v1beta1; for recognising deprecated manifests)"
)
PROVENANCE: dict[str, str] = {
    "slinky.slurm.net_nodesets_HEAD.yaml": _SLINKY_HEAD,
    "slinky.slurm.net_controllers_HEAD.yaml": _SLINKY_HEAD,
    "slinky.slurm.net_loginsets_HEAD.yaml": _SLINKY_HEAD,
    "slinky.slurm.net_restapis_HEAD.yaml": _SLINKY_HEAD,
    "slinky.slurm.net_accountings_HEAD.yaml": _SLINKY_HEAD,
    "slinky.slurm.net_tokens_HEAD.yaml": _SLINKY_HEAD,
    "slinky.slurm.net_nodesets_v1.0.1.yaml": _SLINKY_101,
    "slinky.slurm.net_controllers_v1.0.1.yaml": _SLINKY_101,
    "slinky.slurm.net_restapis_v1.0.1.yaml": _SLINKY_101_EXTRA,
    "slinky.slurm.net_loginsets_v1.0.1.yaml": _SLINKY_101_EXTRA,
    "slinky.slurm.net_tokens_v1.0.1.yaml": _SLINKY_101_EXTRA,
    "slinky.slurm.net_nodesets_v1.1.2.yaml": _SLINKY_112_EXTRA,
    "slinky.slurm.net_nodesets_v1.1.0.yaml": _SLINKY_110_EXTRA,
    "karpenter.sh_nodepools.yaml": _KARPENTER_AWS,
    "karpenter.k8s.aws_ec2nodeclasses.yaml": _KARPENTER_AWS,
    "karpenter.sh_nodeclaims.yaml": _KARPENTER_AWS,
    "core_kubernetes-sigs_karpenter.sh_nodepools.yaml": _KARPENTER_CORE,
    "v1beta1_karpenter.sh_nodepools_v0.37.0.yaml": _KARPENTER_V1BETA1,
    "v1beta1_karpenter.k8s.aws_ec2nodeclasses_v0.37.0.yaml": _KARPENTER_V1BETA1,
}

# Variants generated for reference but left out of index.json. The provider-neutral NodePool
# does not require disruption.consolidateAfter, so accepting it as an alternative shape would
# let through NodePools that the AWS provider's CRD (the one installed on EKS) rejects.
UNINDEXED_VARIANTS = frozenset({"core"})


def source_variant(file_name: str) -> str:
    """Name the source variant of a CRD file: ``HEAD``, ``v1.0.1``, ``core`` or ``""``."""
    stem = file_name.removesuffix(".yaml").removesuffix(".yml")
    parts: list[str] = []
    if stem.startswith("core_"):
        parts.append("core")
    match = re.search(r"_(HEAD|v\d+\.\d+\.\d+)$", stem)
    if match:
        parts.append(match.group(1))
    return "_".join(parts)


def schema_file_name(group: str, version: str, kind: str, variant: str) -> str:
    """Return the output file name for one (group, version, kind, variant)."""
    suffix = f"_{variant}" if variant else ""
    return f"{group}_{version}_{kind}{suffix}.json"


def _provenance(file_name: str) -> str:
    try:
        return PROVENANCE[file_name]
    except KeyError:
        # New reference files must be given a provenance line before they are converted.
        raise SystemExit(f"crd2schema: no provenance recorded for {file_name}") from None


def document_schema(
    crd_file: str, group: str, version: str, kind: str, openapi: dict[str, Any]
) -> dict[str, Any]:
    """Build the standalone JSON Schema for one CRD version."""
    schema = convert_schema(openapi)
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"const": f"{group}/{version}"}
    properties["kind"] = {"const": kind}
    properties["metadata"] = object_meta_schema()
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
    schema["additionalProperties"] = False
    schema["type"] = "object"
    schema["$schema"] = SCHEMA_DIALECT
    schema["$comment"] = (
        f"Generated by {GENERATOR} from {crd_file} ({_provenance(crd_file)}). "
        "Descriptions dropped; CEL rules (x-kubernetes-validations) are in the .cel.json file."
    )
    return schema


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _crds(paths: Iterable[Path]) -> Iterable[tuple[str, dict[str, Any]]]:
    for path in paths:
        with path.open(encoding="utf-8") as stream:
            for doc in yaml.safe_load_all(stream):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    yield path.name, doc


def _variant_order(file_name_and_variant: tuple[str, str]) -> tuple[int, tuple[int, ...]]:
    # Newest shape first (HEAD, then releases by descending version): on a tie, validate.py
    # reports the problems of the earliest entry.
    _, variant = file_name_and_variant
    if variant in ("", "HEAD"):
        return (0, ())
    return (1, tuple(-int(part) for part in re.findall(r"\d+", variant)))


def _crd_files(crd_dirs: Iterable[Path]) -> list[Path]:
    """Merge the CRD directories by file name; duplicates must be identical copies."""
    chosen: dict[str, Path] = {}
    for directory in crd_dirs:
        for path in sorted(directory.glob("*.yaml")):
            previous = chosen.setdefault(path.name, path)
            if previous != path and previous.read_bytes() != path.read_bytes():
                raise SystemExit(f"crd2schema: {previous} and {path} differ")
    return [chosen[name] for name in sorted(chosen)]


def generate(crd_dirs: Iterable[Path], out_dir: Path) -> list[str]:
    """Write all schema files and index.json into ``out_dir``; return the written names."""
    outputs: dict[str, str] = {}
    index: dict[str, list[tuple[str, str]]] = {}
    sources: dict[str, str] = {}
    rules: dict[str, Any] = {}

    for crd_file, crd in _crds(_crd_files(crd_dirs)):
        spec = crd["spec"]
        group, kind = spec["group"], spec["names"]["kind"]
        variant = source_variant(crd_file)
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            name = schema_file_name(group, version["name"], kind, variant)
            if name in outputs:
                raise SystemExit(f"crd2schema: two sources map to {name}")
            openapi = version["schema"]["openAPIV3Schema"]
            outputs[name] = _dump(document_schema(crd_file, group, version["name"], kind, openapi))
            if found := cel_rules(openapi):
                rules[name] = found
            sources[crd_file] = _provenance(crd_file)
            if variant not in UNINDEXED_VARIANTS:
                key = f"{group}/{version['name']}/{kind}"
                index.setdefault(key, []).append((name, variant))

    outputs["v1_ConfigMap.json"] = _dump(configmap_schema())
    index.setdefault("v1/ConfigMap", []).append(("v1_ConfigMap.json", ""))

    comment = (
        f"Generated by {GENERATOR}. Maps 'apiVersion/kind' to schema files; a document is "
        "valid if it validates against any of them (newest shape first). "
        f"Not indexed: variants {sorted(UNINDEXED_VARIANTS)} (looser than the AWS provider's "
        "CRD). v1_ConfigMap.json is hand-written. Sources: "
        + "; ".join(f"{file} = {source}" for file, source in sorted(sources.items()))
    )
    index_doc: dict[str, Any] = {"$comment": comment}
    for key, entries in index.items():
        index_doc[key] = [name for name, _ in sorted(entries, key=_variant_order)]
    outputs["index.json"] = _dump(index_doc)
    for name, found in rules.items():
        outputs[name.removesuffix(".json") + ".cel.json"] = _dump(
            {
                "$comment": f"Generated by {GENERATOR}: the x-kubernetes-validations of {name}'s "
                "CRD by the path of their node ('*': list items, map values), with the "
                "postrender.validate.cel_quick tree of each (null: outside its subset); transition "
                "rules (oldSelf) left out.",
                "rules": [{**rule, "quick": celquick.parse(rule["rule"])} for rule in found],
            }
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in sorted(out_dir.glob("*.json")):
        if stale.name not in outputs:
            stale.unlink()
    for name, text in sorted(outputs.items()):
        path = out_dir / name
        # Skip unchanged files so a no-op regeneration leaves mtimes alone.
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
    return sorted(outputs)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Convert upstream CRDs to JSON Schema.")
    defaults = ", ".join(str(path) for path in DEFAULT_CRDS)
    parser.add_argument(
        "--crds",
        type=Path,
        action="append",
        metavar="DIR",
        help=f"upstream CRD directory (repeatable; default: {defaults})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    crd_dirs: list[Path] = args.crds or list(DEFAULT_CRDS)
    for directory in crd_dirs:
        if not directory.is_dir():
            parser.error(f"CRD directory not found: {directory}")
    written = generate(crd_dirs, args.out)
    print(f"crd2schema: {len(written)} files in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
