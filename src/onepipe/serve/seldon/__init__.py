"""The cluster serve backend: one ``SeldonDeployment`` (machinelearning.seldon.io/v1)."""
