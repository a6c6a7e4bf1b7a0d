"""The ``kserve`` serve backend: one KServe ``InferenceService`` (serving.kserve.io/v1beta1).

``deployer`` (the ``Deployer``), ``rollout`` (the writes a change takes: KServe's canary
is a split between revisions), ``render`` (the object, checked by ``schema`` against the
CRD in ``schemas/``), ``status`` (what the object says is serving, or why it fails),
``config`` (the ``serve.kserve`` section), ``manifests`` (its file in ``manifests/`` and
``onepipe up``), ``cloudevents`` + ``intake`` (KServe's request logger feeding the
prediction log); registered in ``onepipe.plugins``.
"""

NAME = "kserve"  # its registry name: the key its deployments and events are filed under
