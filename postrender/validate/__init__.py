"""Validation of rendered documents: JSON schemas, CEL, Kubernetes rules (quantities among them)
and Karpenter rules. It imports nothing from ``postrender.model``, which builds on it."""
