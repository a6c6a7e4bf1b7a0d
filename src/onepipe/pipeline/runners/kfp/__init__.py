"""The ``kfp`` runner: the compiled pipeline run by Kubeflow Pipelines.

``runner`` (the ``Runner``), ``config`` (the ``kfp:`` section of onepipe.yaml),
``commands`` (``onepipe submit``, ``onepipe runs``); registered in ``onepipe.plugins``.
"""
