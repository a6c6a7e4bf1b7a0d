"""The local gateway against a real MLServer subprocess and a real MLflow registry."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from serve_helpers import ROW, load

from onepipe.serve import deployments
from onepipe.serve.errors import DeployError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(gateway):
    with httpx.Client(base_url=gateway.url, timeout=30) as c:
        yield c


@pytest.fixture()
def settings(project):
    return load(project)


@pytest.fixture(autouse=True)
def _baseline(gateway, settings):
    """Every test starts from champion v1 / challenger v2 at 0%."""
    deployments.deploy(settings, champion="1", challenger="2", canary=0, shadow=False, sticky=False)
    yield


def test_predict_names_the_model_version_that_answered(client):
    r = client.post("/predict", json={"instances": [ROW, ROW | {"credit_score": 400}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["predictions"]) == 2 and all(p in (0, 1) for p in body["predictions"])
    assert (body["model_name"], body["model_version"], body["model_alias"]) == (
        "credit-risk",
        "1",
        "champion",
    )
    assert (r.headers["x-model-version"], r.headers["x-model-alias"]) == ("1", "champion")


def test_v2_protocol_infer_metadata_health(client):
    payload = {
        "inputs": [
            {
                "name": k,
                "datatype": {int: "INT64", float: "FP64", str: "BYTES"}[type(v)],
                "shape": [1, 1],
                "data": [v],
            }
            for k, v in ROW.items()
        ]
    }
    r = client.post("/v2/models/credit-risk/infer", json=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == "credit-risk" and body["model_version"] == "1"
    assert body["model_alias"] == "champion" and len(body["outputs"][0]["data"]) == 1
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/health/live").json() == {"live": True}
    meta = client.get("/v2/models/credit-risk").json()
    assert {i["name"] for i in meta["inputs"]} == set(ROW) and set(meta["versions"]) == {"1", "2"}
    assert client.get("/v2/models/credit-risk/ready").status_code == 200
    # an explicit version is honoured, even at 0% weight
    r2 = client.post("/v2/models/credit-risk/versions/2/infer", json=payload)
    assert r2.json()["model_version"] == "2" and r2.json()["model_alias"] == "challenger"
    assert client.post("/v2/models/credit-risk/versions/9/infer", json=payload).status_code == 404
    assert client.post("/v2/models/other/infer", json=payload).status_code == 404


BAD = [
    ("", 400, "body: empty"),
    ("not json", 400, "not valid JSON"),
    ("[1, 2]", 400, "expected a JSON object"),
    ('{"rows": []}', 422, "instances: missing"),
    ('{"instances": []}', 422, "instances: empty"),
    ('{"instances": "x"}', 422, "instances: expected a list"),
    (
        json.dumps({"instances": [{k: v for k, v in ROW.items() if k != "age"}]}),
        422,
        "instances[0].age: missing",
    ),
    (
        json.dumps({"instances": [ROW | {"age": "old"}]}),
        422,
        "instances[0].age: expected an integer, found a string",
    ),
    (
        json.dumps({"instances": [ROW | {"age": 40.5}]}),
        422,
        "instances[0].age: expected an integer",
    ),
    (
        json.dumps({"instances": [ROW | {"region": 3}]}),
        422,
        "instances[0].region: expected a string",
    ),
    (
        json.dumps({"instances": [ROW | {"debt_to_income": True}]}),
        422,
        "debt_to_income: expected a number",
    ),
    (
        json.dumps({"instances": [ROW | {"nickname": "x"}]}),
        422,
        "instances[0].nickname: unknown field",
    ),
    (
        json.dumps({"instances": [ROW | {"loan_amount": None}]}),
        422,
        "instances[0].loan_amount: null",
    ),
    (json.dumps({"instances": [ROW] * 1001}), 413, "exceed the limit of 1000"),
]


@pytest.mark.parametrize("body,status,message", BAD, ids=[b[2] for b in BAD])
def test_bad_predict_bodies_get_4xx_naming_the_field(client, body, status, message):
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_oversized_body_is_413_before_parsing(client):
    r = client.post("/predict", content=b"{" + b" " * 2_000_000 + b"}")
    assert r.status_code == 413 and "exceed the limit" in r.json()["error"]


V2_BAD = [
    ({"inputs": []}, "inputs: expected a non-empty list"),
    (
        {"inputs": [{"name": "age", "datatype": "INT64", "shape": [1], "data": ["x"]}]},
        "inputs.age.data[0]: expected an integer",
    ),
    (
        {"inputs": [{"name": "age", "datatype": "FP64", "shape": [1], "data": [3]}]},
        "inputs.age.datatype: expected INT64",
    ),
    (
        {"inputs": [{"name": "age", "datatype": "INT64", "shape": [2, 3], "data": [1, 2]}]},
        "inputs.age.shape: expected [n] or [n, 1]",
    ),
    (
        {"inputs": [{"name": "age", "datatype": "INT64", "shape": [2], "data": [1]}]},
        "says 2 values, found 1",
    ),
    (
        {"inputs": [{"name": "age", "datatype": "INT64", "shape": [1], "data": [30]}]},
        "inputs.annual_income: missing",
    ),
    (
        {"inputs": [{"name": "zzz", "datatype": "INT64", "shape": [1], "data": [30]}]},
        "unknown input 'zzz'",
    ),
]


@pytest.mark.parametrize("body,message", V2_BAD, ids=[b[1] for b in V2_BAD])
def test_bad_v2_requests_get_422_where_mlserver_alone_answers_500(client, gateway, body, message):
    r = client.post("/v2/models/credit-risk/infer", json=body)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"]


def test_mlserver_alone_answers_500_for_a_wrong_type(gateway):
    """The reason the gateway validates: the same request straight to MLServer is a 500."""
    endpoint = gateway.gateway.host.worker.endpoint  # its owner-only socket: we own it
    url = f"{endpoint.base_url}/v2/models/credit-risk-v1/infer"
    body = {"inputs": [{"name": "age", "datatype": "INT64", "shape": [1], "data": ["x"]}]}
    with endpoint.client(timeout=30) as mlserver:
        assert mlserver.post(url, json=body).status_code == 500


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
rows = st.fixed_dictionaries({}, optional={k: json_values | st.just(v) for k, v in ROW.items()})


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries({"instances": st.lists(rows, max_size=3)}),
        st.binary(max_size=40).map(lambda b: b"\x00" + b),
    )
)
def test_fuzz_predict_never_5xx(client, body):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post("/predict", content=content)
    assert r.status_code < 500, (content[:200], r.text)
    assert "error" in r.json() if r.status_code != 200 else len(r.json()["predictions"]) >= 1


@hsettings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        st.floats(), st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=5)
    ),
    column=st.sampled_from(sorted(ROW)),
)
def test_fuzz_single_field_values(client, value, column):
    content = json.dumps({"instances": [ROW | {column: value}]}, allow_nan=True).encode()
    r = client.post("/predict", content=content)
    assert r.status_code < 500, (column, value, r.text)
    if r.status_code != 200:
        assert (
            column in r.json()["error"]
            or "could not score" in r.json()["error"]
            or "JSON" in r.json()["error"]
        )


def test_canary_split_sends_traffic_to_both_versions(client, settings):
    change, _ = deployments.deploy(settings, canary=50)
    assert change.state.weights == {"1": 50, "2": 50}
    seen = [client.post("/predict", json={"instances": [ROW]}) for _ in range(60)]
    versions = {r.json()["model_version"] for r in seen}
    assert versions == {"1", "2"}
    assert all(
        r.headers["x-model-alias"]
        == ("champion" if r.json()["model_version"] == "1" else "challenger")
        for r in seen
    )


def test_sticky_routing_keeps_a_user_on_one_model(client, settings):
    deployments.deploy(settings, canary=50, sticky=True)
    per_user = {}
    for user in [f"user-{i}" for i in range(12)]:
        got = {
            client.post(
                "/predict", json={"instances": [ROW]}, headers={"x-onepipe-user": user}
            ).json()["model_version"]
            for _ in range(4)
        }
        assert len(got) == 1, f"{user} saw {got}"
        per_user[user] = got.pop()
    assert set(per_user.values()) == {"1", "2"}


def test_shadow_mode_champion_answers_challenger_gets_a_copy(client, settings, gateway):
    events = []
    gateway.gateway.on_response.append(events.append)
    try:
        deployments.deploy(settings, shadow=True)
        answers = {
            client.post("/predict", json={"instances": [ROW]}).json()["model_version"]
            for _ in range(10)
        }
        from serve_helpers import wait_until

        assert wait_until(lambda: sum(e["shadow"] for e in events) >= 10, timeout=10)
    finally:
        gateway.gateway.on_response.remove(events.append)
    assert answers == {"1"}
    shadows = [e for e in events if e["shadow"]]
    assert {e["model_version"] for e in shadows} == {"2"} and all(
        e["status"] == 200 for e in shadows
    )
    assert {e["model_version"] for e in events if not e["shadow"]} == {"1"}


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    client, settings, project, tmp_path
):
    from onepipe.tracking.client import client_for
    from onepipe.tracking.registry import resolve_model

    v2 = resolve_model(settings, "credit-risk/2")
    broken = tmp_path / "broken-model"
    import shutil
    from urllib.parse import urlsplit

    shutil.copytree(urlsplit(v2.source).path, broken)
    (broken / "model.skops").write_bytes(b"not a model")
    mv = client_for(settings).create_model_version(
        "credit-risk", source=broken.as_uri(), run_id=v2.run_id
    )
    before = len(deployments.history(settings))
    with pytest.raises(DeployError) as info:
        deployments.deploy(settings, challenger=str(mv.version), canary=50)
    assert f"credit-risk/{mv.version}" in str(info.value) and "previous state" in str(info.value)
    assert len(deployments.history(settings)) == before  # nothing recorded
    answers = {
        client.post("/predict", json={"instances": [ROW]}).json()["model_version"]
        for _ in range(10)
    }
    assert answers == {"1"}


def test_cli_deploy_promote_rollback_history(client, project, capsys):
    from onepipe.cli.main import main

    cfg = str(project / "onepipe.yaml")
    assert main(["deploy", "--canary", "10", "-c", cfg, "--json"]) == 0
    deployed = json.loads(capsys.readouterr().out)
    assert deployed["weights"] == {"1": 90, "2": 10} and deployed["user"]
    assert main(["promote", "-c", cfg, "--json"]) == 0
    promoted = json.loads(capsys.readouterr().out)
    assert promoted["champion"] == "2" and promoted["deployment"]["weights"] == {"2": 100}
    assert {
        client.post("/predict", json={"instances": [ROW]}).json()["model_version"] for _ in range(8)
    } == {"2"}
    assert main(["rollback", "-c", cfg, "--json"]) == 0
    rolled = json.loads(capsys.readouterr().out)
    assert rolled["weights"] == {"1": 90, "2": 10} and rolled["action"] == "rollback"
    assert main(["history", "-c", cfg, "--json"]) == 0
    hist = json.loads(capsys.readouterr().out)
    assert [h["action"] for h in hist[:3]] == ["rollback", "promote", "deploy"]
    assert main(["rollback", "--to", str(hist[2]["id"]), "-c", cfg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == {"1": 90, "2": 10}
    assert main(["rollback", "--to", "9999", "-c", cfg]) == 2
    assert "deployment change 9999: not found" in capsys.readouterr().err
    assert main(["deploy", "--canary", "150", "-c", cfg]) == 2


def test_load_promote_rollback_cycles_drop_nothing(gateway, settings):
    """8 concurrent clients for 10 s while 5 promote/rollback cycles run: 0 failed requests."""
    import threading
    import time

    deployments.deploy(settings, canary=10)
    stop = threading.Event()
    results: list[tuple[int, str]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client(base_url=gateway.url, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post("/predict", json={"instances": [ROW]})
                    outcome = (r.status_code, r.json().get("model_version", ""))
                except Exception as exc:  # noqa: BLE001 - every failure counts
                    with lock:
                        failures.append(repr(exc))
                    continue
                with lock:
                    results.append(outcome)
                    if outcome[0] != 200:
                        failures.append(str(outcome))

    threads = [threading.Thread(target=client_loop) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    cycles = 0
    for _ in range(5):
        deployments.promote(settings)
        time.sleep(0.5)
        deployments.rollback(settings)
        time.sleep(0.5)
        cycles += 1
    time.sleep(max(0.0, 10.0 - (time.monotonic() - started)))
    stop.set()
    for t in threads:
        t.join(30)
    assert cycles == 5
    assert failures == []
    assert len(results) > 0 and {v for _, v in results} == {"1", "2"}
    actions = [c.action for c in deployments.history(settings, limit=10)]
    assert actions == ["rollback", "promote"] * 5
