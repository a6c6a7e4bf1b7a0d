"""The ``seldon`` serve backend: one ``SeldonDeployment`` (machinelearning.seldon.io/v1).

``deployer`` (the ``Deployer``), ``render`` (the object, checked against the CRD in
``schemas/``), ``config`` (the ``serve.seldon`` section), ``manifests`` (its file in
``manifests/`` and ``onepipe up``), ``cloudevents`` + ``intake`` (Seldon's request
logger feeding the prediction log); registered in ``onepipe.plugins``.
"""

NAME = "seldon"  # its registry name: the key its deployments and events are filed under
