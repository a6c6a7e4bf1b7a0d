"""Kubernetes helpers shared by the cluster backends: custom resources and schema checks."""
