"""Serving: the ``Deployer`` protocol, the local gateway + MLServer, Seldon, history, batch scoring.

Callers use :mod:`onepipe.serve.deployments` (deploy, promote, rollback, history) and
never ask which backend they got; heavy libraries are imported inside functions.
"""
