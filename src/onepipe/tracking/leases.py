"""Which MLflow runs a live process of ours is writing, so a killed one's runs get closed.

MLflow cannot tell a RUNNING run whose process was killed from one still going.
Every run onepipe opens (a pipeline run, a sweep's parent run) gets a lease: a small
file ``<outbox>/live/<run id>.json`` naming the tracking store (a hash of its URI,
which may hold credentials) and the process that writes it (pid, start time, host, boot:
lifecycle/identity.py). Closing the run removes it. Where a command that reads or writes
the store starts (pipeline/outbox.py: ``catch_up``), the leases for that store are read: a
run whose process is gone is set to KILLED. A lease of another machine, or of a process
still alive, is left alone.

The cost when nothing was killed is one directory listing per process (no MLflow import),
and a fully cached ``onepipe run`` (which opens no store) pays it in its background writer.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from onepipe.config import Settings
from onepipe.lifecycle.identity import ProcessIdentity
from onepipe.tracking.client import client_for
from onepipe.tracking.target import TrackingTarget

LIVE = "live"
_checked: set[tuple[str, str]] = set()  # (outbox, tracking URI) reaped by this process


def _folder(outbox_dir: str | Path) -> Path:
    return Path(outbox_dir) / LIVE


def _store(tracking_uri: str) -> str:
    return hashlib.sha256(tracking_uri.encode()).hexdigest()[:32]


def hold(outbox_dir: str | Path, tracking_uri: str, run_id: str) -> None:
    """This process writes ``run_id`` now (taking the lease over from a former writer)."""
    folder = _folder(outbox_dir)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "store": _store(tracking_uri)}
    record["process"] = ProcessIdentity.current().to_json()
    tmp = folder / f".{run_id}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, folder / f"{run_id}.json")


def release(outbox_dir: str | Path, run_id: str) -> None:
    (_folder(outbox_dir) / f"{run_id}.json").unlink(missing_ok=True)


def reap(store: Settings | TrackingTarget) -> list[str]:
    """Set the RUNNING runs of the store's dead writers to KILLED; returns their ids. Once
    per process and store: later calls return [] at once."""
    outbox_dir, tracking_uri = store.outbox_dir, store.tracking_uri
    if (str(outbox_dir), tracking_uri) in _checked:
        return []
    _checked.add((str(outbox_dir), tracking_uri))
    folder = _folder(outbox_dir)
    if not folder.is_dir():
        return []
    killed = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        who = ProcessIdentity.from_json(record.get("process"))
        if record.get("store") != _store(tracking_uri) or who is None or not who.is_gone():
            continue
        run_id = str(record.get("run_id", path.stem))
        if _close(client_for(store), run_id):
            killed.append(run_id)
        path.unlink(missing_ok=True)
    return killed


def _close(client: Any, run_id: str) -> bool:
    # lazy: reached only when a lease's process is gone; catch_up costs a listing otherwise
    from mlflow.exceptions import MlflowException

    try:
        if client.get_run(run_id).info.status != "RUNNING":
            return False
        client.set_terminated(run_id, status="KILLED")
    except MlflowException:  # deleted meanwhile: nothing left to close
        return False
    return True
