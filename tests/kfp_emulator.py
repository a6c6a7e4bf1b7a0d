"""A KFP v2beta1 REST emulator built on kmock, served on a real port for the real ``kfp.Client``
(tests/kfp uses it as is; the Runner contract suite's stand-in runs the submitted pipeline).

kmock's ``RawHandler`` answers each path the client calls with a Python callable that keeps
the state of pipelines, versions, experiments and runs; ``emulator.handler`` holds every
request received, for assertions. A run answers ``get_run`` with a scripted state sequence.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import yaml

API = "/apis/v2beta1"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filter_name(request) -> str | None:
    raw = request.params.get("filter")
    if not raw:
        return None
    preds = json.loads(raw).get("predicates", [])
    return next((p.get("string_value", p.get("stringValue")) for p in preds), None)


def _upload(request) -> tuple[dict, str]:
    """The pipeline spec from the multipart upload, and its filename.

    (kmock 0.8 leaves ``request.data`` None for multipart/form-data: it reads the body as
    text/JSON first, so the form is parsed here from the raw body it keeps.)
    """
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            return yaml.safe_load(part.get_payload(decode=True)), part.get_filename()
    raise AssertionError("no uploadfile field in the upload")


class KfpEmulator:
    def __init__(self, states: list[str] | None = None, task_states: dict[str, str] | None = None):
        self.states = states or ["PENDING", "RUNNING", "RUNNING", "SUCCEEDED"]
        self.task_states = task_states or {}
        self.pipelines: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}  # version id -> version (with "spec")
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.polls: dict[str, int] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> None:
        import kmock

        self.handler = kmock.RawHandler()
        await self.handler.__aenter__()
        h = self.handler
        h[f"GET {API}/healthz"] << {"multi_user": False, "commit_sha": "kmock"}
        h[f"GET {API}/pipelines"] << self.list_pipelines
        h[f"POST {API}/pipelines/upload"] << self.upload_pipeline
        h[f"POST {API}/pipelines/upload_version"] << self.upload_version
        h[f"GET {API}/pipelines/*/versions"] << self.list_versions
        h[f"GET {API}/experiments"] << self.list_experiments
        h[f"POST {API}/experiments"] << self.create_experiment
        h[f"POST {API}/runs"] << self.create_run
        h[f"GET {API}/runs"] << self.list_runs
        h[f"GET {API}/runs/*"] << self.get_run
        self.server = kmock.Server(h)
        await self.server.__aenter__()
        self.url = str(self.server.url).rstrip("/")

    def stop(self) -> None:
        async def _stop() -> None:
            await self.server.__aexit__(None, None, None)
            await self.handler.__aexit__(None, None, None)

        try:
            asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)

    def received(self, method: str, path: str) -> list[Any]:
        return [r for r in self.handler if r.method.value == method and r.url.path == path]

    # ---- pipelines ----
    def list_pipelines(self, request) -> dict:
        name = _filter_name(request)
        found = [p for p in self.pipelines.values() if name in (None, p["display_name"])]
        return {"pipelines": found, "total_size": len(found)} if found else {}

    def upload_pipeline(self, request) -> dict:
        spec, _ = _upload(request)
        pid = uuid.uuid4().hex
        p = {"pipeline_id": pid, "display_name": request.params["name"], "created_at": _now()}
        p["description"] = request.params.get("description", "")
        self.pipelines[pid] = p
        vid = uuid.uuid4().hex  # KFP makes a first version named like the pipeline
        self.versions[vid] = {"pipeline_id": pid, "pipeline_version_id": vid, "spec": spec,
                              "display_name": p["display_name"], "created_at": _now()}  # fmt: skip
        return p

    def upload_version(self, request) -> dict:
        spec, _ = _upload(request)
        pid = request.params["pipelineid"]
        vid = uuid.uuid4().hex
        v = {"pipeline_id": pid, "pipeline_version_id": vid, "display_name": request.params["name"],
             "created_at": _now(), "spec": spec}  # fmt: skip
        self.versions[vid] = v
        return {k: v[k] for k in v if k != "spec"}

    def list_versions(self, request) -> dict:
        pid = request.url.path.split("/")[-2]
        name = _filter_name(request)
        found = [
            {k: v[k] for k in v if k != "spec"}
            for v in self.versions.values()
            if v["pipeline_id"] == pid and name in (None, v["display_name"])
        ]
        return {"pipeline_versions": found, "total_size": len(found)} if found else {}

    # ---- experiments ----
    def list_experiments(self, request) -> dict:
        name = _filter_name(request)
        found = [e for e in self.experiments.values() if name in (None, e["display_name"])]
        return {"experiments": found, "total_size": len(found)} if found else {}

    def create_experiment(self, request) -> dict:
        body = request.data
        eid = uuid.uuid4().hex
        self.experiments[eid] = {**body, "experiment_id": eid, "created_at": _now()}
        return self.experiments[eid]

    # ---- runs ----
    def create_run(self, request) -> dict:
        body = request.data
        rid = uuid.uuid4().hex
        run = {**body, "run_id": rid, "created_at": _now(), "state": "PENDING"}
        self.runs[rid] = run
        self.polls[rid] = 0
        return run

    def get_run(self, request) -> dict:
        rid = request.url.path.rsplit("/", 1)[-1]
        run = dict(self.runs[rid])
        i = min(self.polls[rid], len(self.states) - 1)
        self.polls[rid] += 1
        run["state"] = state = self.states[i]
        if state in ("SUCCEEDED", "FAILED"):
            version = self.versions[run["pipeline_version_reference"]["pipeline_version_id"]]
            tasks = version["spec"]["root"]["dag"]["tasks"]
            run["finished_at"] = _now()
            run["run_details"] = {
                "task_details": [
                    {
                        "run_id": rid,
                        "task_id": uuid.uuid4().hex,
                        "display_name": name,
                        "state": self.task_states.get(name, "SUCCEEDED"),
                        "start_time": "2026-01-01T00:00:00Z",
                        "end_time": "2026-01-01T00:00:02Z",
                        "pod_name": f"{name}-pod",
                        "outputs": {"out": {"artifact_ids": ["7"]}},
                        **(
                            {"error": {"code": 2, "message": f"{name}: exit code 1"}}
                            if self.task_states.get(name) == "FAILED"
                            else {}
                        ),
                    }
                    for name in tasks
                ]
                + [{"display_name": "root", "state": state, "task_id": "r"}]
            }
        return run

    def list_runs(self, request) -> dict:
        eid = request.params.get("experiment.id") or request.params.get("experiment_id")
        found = [r for r in self.runs.values() if eid in (None, r.get("experiment_id"))]
        found.sort(key=lambda r: r["created_at"], reverse=True)
        return {"runs": found, "total_size": len(found)} if found else {}
