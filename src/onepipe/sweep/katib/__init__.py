"""Katib backend: the Experiment builder and the cluster sweeper."""
