"""The ``pachyderm`` data backend: Pachyderm's PFS behind the ``DataStore`` protocol.

``store`` (the ``DataStore``), ``config`` (the ``data.pachyderm`` section),
``pipeline`` + ``manifests`` (the retraining pipeline spec in ``manifests/`` and
``onepipe up``), ``schemas/`` (Pachyderm's published schema); registered in
``onepipe.plugins``.
"""
