"""Integrity of what serving loads and of the active pointer: a bundle changed in S3 after registration is
refused, the old model keeps serving and an alarm-able metric says so; of two deploys racing, exactly one
wins."""

from __future__ import annotations

import hashlib
import io
import json
import threading

import boto3
import numpy as np

from core.errors import Conflict
from core.registry.versions import ModelRegistry
from local.template import load_template
from tests.support.api_events import api_event


def _refresh_every_request():
    template = load_template()
    template["Parameters"]["ModelRefreshSeconds"]["Default"] = 0
    return template


def _predict(aws, headline: str) -> dict:
    """POST /api/v1/predict through Lambda's Invoke: the function's own container, role and environment."""
    response = boto3.client("lambda").invoke(
        FunctionName=aws.name("PredictFunction"),
        Payload=json.dumps(api_event("api_predict.json", body={"headline": headline})).encode(),
    )
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    return {"status": result["statusCode"], **json.loads(result["body"])}


def _emitted(out: str, name: str) -> list[dict]:
    """The EMF documents (one JSON line each) that carry metric `name`."""
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [
        doc
        for doc in documents
        if any(m["Name"] == name for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"])
    ]


def _poisoned(bundle_json: bytes, arrays_npz: bytes, category: str) -> tuple[bytes, bytes]:
    """The bundle rewritten so that every headline is `category`, consistent in itself (bundle.json names
    the new arrays' sha256): only the registry's digest tells it from the registered one."""
    meta = json.loads(bundle_json)
    with np.load(io.BytesIO(arrays_npz), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["bias"] = arrays["bias"].copy()
    arrays["bias"][meta["classes"].index(category)] = 1e3
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    meta["arrays_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    return (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode(), buffer.getvalue()


def test_a_tampered_bundle_is_refused_the_old_model_keeps_serving_and_the_alarm_metric_is_emitted(
    aws_from, good_model_dir, weak_model_dir, capsys
):
    aws = aws_from(_refresh_every_request())
    registry = ModelRegistry()
    registry.activate(registry.register_model_dir(good_model_dir)["version"])
    headline = "Senate vote on the new election law"
    assert _predict(aws, headline)["model_version"] == "v0001"

    v2 = registry.register_model_dir(weak_model_dir)["version"]
    s3, bucket = boto3.client("s3"), aws.name("ArtifactsBucket")
    prefix = registry.require(v2)["bundle_prefix"]
    original = {
        name: s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
        for name in ("bundle.json", "arrays.npz")
    }
    for name, body in zip(original, _poisoned(*original.values(), category="SPORTS"), strict=True):
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
    registry.activate(v2)
    capsys.readouterr()

    answer = _predict(aws, headline)
    assert (answer["status"], answer["model_version"], answer["category"]) == (200, "v0001", "POLITICS")
    (document,) = _emitted(capsys.readouterr().out, "ModelLoadRefused")
    assert document["ModelLoadRefused"] in (1, 1.0, [1.0])

    # The alarm watches exactly what was emitted: namespace, metric name and every dimension.
    alarm = aws.stack.resolve(aws.stack.properties("ModelLoadRefusedAlarm"))
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert alarm["Namespace"] == directive["Namespace"] and alarm["MetricName"] == "ModelLoadRefused"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        name: document[name] for name in directive["Dimensions"][0]
    }
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["AlarmActions"]

    # While the tampered version stays active, every refresh refuses it again; restored, it serves.
    assert _predict(aws, headline)["model_version"] == "v0001"
    assert len(_emitted(capsys.readouterr().out, "ModelLoadRefused")) == 1
    for name, body in original.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
    assert _predict(aws, headline)["model_version"] == v2
    assert not _emitted(capsys.readouterr().out, "ModelLoadRefused")


def test_two_deploys_racing_exactly_one_wins(registry, good_model_dir, weak_model_dir, monkeypatch):
    v1 = registry.register_model_dir(good_model_dir)["version"]
    registry.activate(v1)
    contenders = [registry.register_model_dir(d)["version"] for d in (good_model_dir, weak_model_dir)]

    # Both read the pointer before either writes.
    both_read = threading.Barrier(2, timeout=10)
    read_pointer = ModelRegistry.active_pointer

    def active_pointer(self):
        pointer = read_pointer(self)
        both_read.wait()
        return pointer

    monkeypatch.setattr(ModelRegistry, "active_pointer", active_pointer)
    # DynamoDB runs transactions on the same items one at a time; moto 5.2.5 takes no lock, so threads
    # could interleave inside its condition checks. The lock gives moto the isolation AWS has.
    from moto.dynamodb.models import DynamoDBBackend

    one_at_a_time, transact = threading.Lock(), DynamoDBBackend.transact_write_items

    def isolated(backend, items):
        with one_at_a_time:
            return transact(backend, items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", isolated)

    outcomes: dict[str, object] = {}

    def deploy(version: str) -> None:
        try:
            outcomes[version] = ModelRegistry().activate(version, reason="race")
        except Conflict as error:
            outcomes[version] = error

    threads = [threading.Thread(target=deploy, args=(version,)) for version in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    monkeypatch.setattr(ModelRegistry, "active_pointer", read_pointer)

    winners = [v for v, outcome in outcomes.items() if isinstance(outcome, dict)]
    losers = [v for v, outcome in outcomes.items() if isinstance(outcome, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    (winner,), (loser,) = winners, losers
    assert outcomes[winner] == {"version": winner, "previous_version": v1, "revision": 2}
    assert "concurrently" in str(outcomes[loser])
    pointer = registry.active_pointer()
    assert (pointer["active_version"], pointer["revision"], pointer["previous_version"]) == (winner, 2, v1)
    statuses = {v: registry.require(v)["status"] for v in (v1, winner, loser)}
    assert statuses == {v1: "retired", winner: "active", loser: "candidate"}  # the loser wrote nothing
    # The loser's operator reads the registry again and deploys: one more revision, nothing lost.
    assert registry.activate(loser)["revision"] == 3
    assert registry.require(winner)["status"] == "retired"
