"""The lint rules: one module each, registered here by stable ID.

A rule module's docstring is its user documentation (what, why, options, a PASS and a
FAIL example; ``slinky explain RULE-ID`` prints it). It declares ``ID``, ``SEVERITY``
(``error``, ``warning`` or ``info``) and ``check(ctx)``, a generator of findings. Optional:
``PROFILE_FIELDS``, the profile partition fields whose load problems the rule reports
(the rest go to SPR-P001), and ``GENERIC = True`` for rules whose findings give way to a
more specific rule's finding at the same object and path.

Adding a rule is adding one module and one line below.
"""

from __future__ import annotations

from types import ModuleType

from postrender.lint.rules import (
    ami_family,
    config_file_refs,
    consolidate_after,
    consolidation_policy,
    crd_schema,
    default_partition,
    default_toleration,
    efa_hugepages,
    efa_instance,
    efa_plugin,
    efa_spot,
    extraconf,
    gres_conf,
    gres_entries,
    gres_gpu_limit,
    gres_instance,
    gres_nvml,
    gres_types,
    instance_type,
    karpenter_cel,
    karpenter_group,
    karpenter_version,
    labels,
    nodeclassref,
    object_names,
    partition_config,
    partition_nodes,
    partition_time,
    pool_capacity,
    pool_limits,
    priority_tier,
    profile_apply,
    profile_schema,
    reserved_labels,
    selector,
    taints,
    tolerations,
)

RULES: dict[str, ModuleType] = {
    # P: the inputs as given (profile file, profile applied to the release, CRD schemas)
    "SPR-P001": profile_schema,
    "SPR-P002": profile_apply,
    "SPR-P003": crd_schema,
    "SPR-P004": object_names,
    # I: instance types
    "SPR-I001": instance_type,
    # G: GRES and GPUs
    "SPR-G001": gres_instance,
    "SPR-G002": gres_gpu_limit,
    "SPR-G003": gres_entries,
    "SPR-G004": gres_types,
    "SPR-G005": gres_conf,
    "SPR-G006": gres_nvml,
    # E: EFA
    "SPR-E001": efa_instance,
    "SPR-E002": efa_hugepages,
    "SPR-E003": efa_plugin,
    # S: scheduling (selectors, taints, tolerations, labels)
    "SPR-S001": selector,
    "SPR-S002": taints,
    "SPR-S003": tolerations,
    "SPR-S004": labels,
    "SPR-S005": reserved_labels,
    # K: Karpenter
    "SPR-K001": karpenter_version,
    "SPR-K002": karpenter_group,
    "SPR-K003": nodeclassref,
    "SPR-K004": consolidate_after,
    "SPR-K005": consolidation_policy,
    "SPR-K006": ami_family,
    "SPR-K007": pool_limits,
    "SPR-K008": karpenter_cel,
    "SPR-K009": pool_capacity,
    # C: Slurm configuration
    "SPR-C001": extraconf,
    "SPR-C002": partition_time,
    "SPR-C003": default_partition,
    "SPR-C004": priority_tier,
    "SPR-C005": partition_nodes,
    "SPR-C006": partition_config,
    "SPR-C007": config_file_refs,
    # O: operations
    "SPR-O001": efa_spot,
    "SPR-O002": default_toleration,
}
