"""Hyperparameter sweeps: one search space (``sweep:`` in onepipe.yaml), two backends.

``OptunaSweeper`` runs trials as local subprocesses, ``KatibSweeper`` as a Katib
``Experiment``; both run the same ``onepipe trial`` command and read its metric
lines with the same parser (``onepipe.sweep.metrics``).
"""
