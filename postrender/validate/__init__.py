"""Validation of rendered documents: JSON schemas, CEL, Kubernetes and Karpenter rules."""
