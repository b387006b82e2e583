"""Small Karpenter objects the tests build on: valid as they are, one field changed per case."""

from __future__ import annotations

from typing import Any


def ec2nodeclass(**spec: Any) -> dict[str, Any]:
    """A valid EC2NodeClass; keyword arguments replace spec fields (None removes one)."""
    tags = [{"tags": {"karpenter.sh/discovery": "c"}}]
    base = {
        "role": "r",
        "amiSelectorTerms": [{"alias": "al2023@latest"}],
        "subnetSelectorTerms": tags,
        "securityGroupSelectorTerms": tags,
    }
    base.update(spec)
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "n"},
        "spec": {k: v for k, v in base.items() if v is not None},
    }
