"""Kill a deployment command at a chosen point around its effects on the outside world.

A point names one effect and a side of it: ``apply:before`` / ``apply:after`` (a
deployer making a state live: the gateway's admin call, the SeldonDeployment
apply), ``alias:N:before`` / ``alias:N:after`` (the Nth registry alias write, set or
delete). The points sit at the boundaries rather than inside onepipe, so the same
test kills the code before and after any rewrite of the change logic at the same
moments. The crash fires once.

In-process, the crash raises :class:`Killed`, which no ``except Exception`` in
onepipe catches, so none of the change's own error handling runs (as with a
kill). As a script (``python crash_points.py POINT onepipe-args...``) it is a real
SIGKILL of the ``onepipe`` command at that point.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


class Killed(BaseException):
    pass


def arm(point: str, crash: Callable[[], None], patch: Callable[[Any, str, Any], None]) -> None:
    """Wrap the effects; ``patch`` is ``monkeypatch.setattr`` (tests) or ``setattr`` (script)."""
    from mlflow.tracking import MlflowClient

    from onepipe.serve.local import LocalDeployer
    from onepipe.serve.seldon.deployer import SeldonDeployer

    fired = False
    writes = 0

    def reach(where: str) -> None:
        nonlocal fired
        if where == point and not fired:
            fired = True
            crash()

    for cls in (LocalDeployer, SeldonDeployer):

        def apply(self, state, models, _real=cls.apply):
            reach("apply:before")
            message = _real(self, state, models)
            reach("apply:after")
            return message

        patch(cls, "apply", apply)

    for name in ("set_registered_model_alias", "delete_registered_model_alias"):

        def write(self, *args, _real=getattr(MlflowClient, name), **kwargs):
            nonlocal writes
            writes += 1
            reach(f"alias:{writes}:before")
            result = _real(self, *args, **kwargs)
            reach(f"alias:{writes}:after")
            return result

        patch(MlflowClient, name, write)


def raise_killed() -> None:
    raise Killed


def sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    arm(sys.argv[1], sigkill, setattr)
    from onepipe.cli.main import main

    sys.exit(main(sys.argv[2:]))
