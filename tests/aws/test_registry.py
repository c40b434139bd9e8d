from __future__ import annotations

import tarfile

import boto3
import pytest

from core.errors import Conflict, NoActiveModel, NotFound
from core.registry.versions import ModelRegistry
from core.serving.model_cache import ActiveModelCache
from core.serving.prediction_lru import PredictionLRU
from core.settings import get_settings


def test_register_uploads_bundle_and_artifact(registry, good_model_dir, aws):
    item = registry.register_model_dir(good_model_dir)
    assert item["version"] == "v0001" and item["status"] == "candidate"
    assert item["classes"] == ["FOOD & DRINK", "POLITICS", "SCIENCE", "SPORTS"]
    assert item["training_distribution"] == {"FOOD & DRINK": 40, "POLITICS": 40, "SCIENCE": 40, "SPORTS": 40}
    keys = {
        obj["Key"]
        for obj in boto3.client("s3").list_objects_v2(Bucket=aws.name("ArtifactsBucket"))["Contents"]
    }
    assert {
        "models/v0001/bundle/bundle.json",
        "models/v0001/bundle/arrays.npz",
        "models/v0001/model.tar.gz",
    } <= keys
    assert registry.register_model_dir(good_model_dir)["version"] == "v0002"
    assert [v["version"] for v in registry.list_versions()] == ["v0002", "v0001"]  # bookkeeping items hidden


def test_training_output_registration_is_idempotent(registry, good_model_dir, aws, tmp_path):
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in good_model_dir.rglob("*"):
            tar.add(path, arcname=str(path.relative_to(good_model_dir)))
    s3 = boto3.client("s3")
    s3.upload_file(str(archive), aws.name("ArtifactsBucket"), "training/job-1/output/model.tar.gz")
    uri = f"s3://{aws.name('ArtifactsBucket')}/training/job-1/output/model.tar.gz"
    first = registry.register_training_output(uri, training_job="job-1", training_distribution={"X": 1})
    again = registry.register_training_output(uri, training_job="job-1")
    assert first["version"] == again["version"] == "v0001"
    assert first["training_distribution"] == {"X": 1}
    assert len(registry.list_versions()) == 1


def test_activation_is_conditional_and_retires_the_previous_version(registry, good_model_dir, weak_model_dir):
    v1 = registry.register_model_dir(good_model_dir)["version"]
    v2 = registry.register_model_dir(weak_model_dir)["version"]
    assert registry.activate(v1, expected_revision=0) == {
        "version": v1,
        "previous_version": None,
        "revision": 1,
    }
    with pytest.raises(Conflict, match="revision 1, expected 0"):
        registry.activate(v2, expected_revision=0)  # someone deployed since the evaluation read the pointer
    assert registry.activate(v2, expected_revision=1)["revision"] == 2
    assert registry.require(v1)["status"] == "retired"
    assert registry.require(v2)["status"] == "active"
    assert registry.activate(v1, reason="rollback")["previous_version"] == v2  # rollback to a retired version
    assert registry.active_pointer()["active_version"] == v1


def test_concurrent_writer_loses_the_conditional_write(registry, good_model_dir, weak_model_dir, monkeypatch):
    v1 = registry.register_model_dir(good_model_dir)["version"]
    v2 = registry.register_model_dir(weak_model_dir)["version"]
    registry.activate(v1)
    stale = registry.active_pointer()
    registry.activate(v2)  # another writer moved the pointer after `stale` was read
    v3 = registry.register_model_dir(good_model_dir)["version"]
    monkeypatch.setattr(ModelRegistry, "active_pointer", lambda self: stale)
    with pytest.raises(Conflict, match="concurrently"):
        registry.activate(v3)
    assert registry.get(v3)["status"] == "candidate"  # the transaction wrote nothing


def test_reject_only_candidates_and_deploying_rejected_needs_consent(registry, good_model_dir):
    version = registry.register_model_dir(good_model_dir)["version"]
    registry.reject(version, ["not significant"])
    assert registry.require(version)["reasons"] == ["not significant"]
    with pytest.raises(Conflict):
        registry.reject(version, ["twice"])
    with pytest.raises(Conflict, match="rejected"):
        registry.activate(version)
    assert registry.activate(version, allow_rejected=True)["version"] == version
    with pytest.raises(NotFound):
        registry.require("v9999")
    with pytest.raises(NotFound):
        registry.require("ACTIVE")


def test_load_model_refuses_a_tampered_bundle(registry, active_model, aws, tmp_path):
    model = registry.load_model("v0001", tmp_path / "a")
    assert model.version == "v0001" and model.sha256 == active_model["sha256"]
    s3 = boto3.client("s3")
    key = "models/v0001/bundle/bundle.json"
    meta = s3.get_object(Bucket=aws.name("ArtifactsBucket"), Key=key)["Body"].read()
    s3.put_object(Bucket=aws.name("ArtifactsBucket"), Key=key, Body=meta.replace(b"{", b"{ ", 1))
    with pytest.raises(Exception, match="digest|sha256"):
        registry.load_model("v0001", tmp_path / "b")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_model_cache_refreshes_on_interval_and_keeps_serving_on_broken_update(
    registry, good_model_dir, weak_model_dir, aws, monkeypatch, tmp_path
):
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "60")
    clock = Clock()
    cache = ActiveModelCache(settings=get_settings(), registry=registry, clock=clock)
    with pytest.raises(NoActiveModel):
        cache.current()
    v1 = registry.register_model_dir(good_model_dir)["version"]
    registry.activate(v1)
    clock.now += 61
    assert cache.current()[0] == v1
    loads = []
    original = ModelRegistry.load_model
    monkeypatch.setattr(
        ModelRegistry, "load_model", lambda self, *a, **k: loads.append(a) or original(self, *a, **k)
    )

    v2 = registry.register_model_dir(weak_model_dir)["version"]
    registry.activate(v2)
    clock.now += 30
    assert cache.current()[0] == v1 and loads == []  # inside the refresh interval: no registry read
    # Break v2's bundle: the new version fails to load, the old one keeps serving.
    boto3.client("s3").put_object(
        Bucket=aws.name("ArtifactsBucket"), Key="models/v0002/bundle/arrays.npz", Body=b"x"
    )
    clock.now += 31
    assert cache.current()[0] == v1
    assert "cannot load model v0002" in cache.last_error
    registry.activate(v1)  # rollback while broken: keeps v1 without reloading it
    clock.now += 61
    assert cache.current()[0] == v1 and len(loads) == 1


def test_model_cache_answers_repeated_inputs_from_the_lru(registry, active_model):
    cache = ActiveModelCache(settings=get_settings(), registry=registry)
    items = [{"headline": "senate vote on the new law"}, {"headline": "chef bakes pasta for dinner"}]
    version, first = cache.predict(items, top_k=2)
    assert version == "v0001" and [p["category"] for p in first] == ["POLITICS", "FOOD & DRINK"]
    _, again = cache.predict(list(reversed(items)), top_k=2)
    assert [p["category"] for p in again] == ["FOOD & DRINK", "POLITICS"]
    assert cache.predictions.hits == 2
    cache.predict(items, top_k=3)  # top_k is part of the key
    assert cache.predictions.hits == 2


def test_prediction_lru_is_bounded():
    lru = PredictionLRU(2)
    lru.put(("a",), {"v": 1})
    lru.put(("b",), {"v": 2})
    assert lru.get(("a",)) == {"v": 1}
    lru.put(("c",), {"v": 3})  # evicts b, the least recently used
    assert lru.get(("b",)) is None and len(lru) == 2


def test_retraining_lock_admits_one_holder_until_released_or_expired(registry):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    registry.acquire_retraining_lock("train-a", ttl_seconds=3600, now=start)
    registry.acquire_retraining_lock("train-a", ttl_seconds=3600, now=start)  # the same holder again: fine
    with pytest.raises(Conflict, match="train-a is in progress") as refused:
        registry.acquire_retraining_lock("retrain-b", ttl_seconds=3600, now=start + timedelta(minutes=5))
    assert refused.value.details == {"job_id": "train-a"}
    registry.release_retraining_lock("retrain-b")  # not the holder: nothing happens
    with pytest.raises(Conflict):
        registry.acquire_retraining_lock("retrain-b", ttl_seconds=3600, now=start + timedelta(minutes=6))
    registry.release_retraining_lock("train-a")
    registry.acquire_retraining_lock("retrain-b", ttl_seconds=3600, now=start + timedelta(minutes=7))
    # a holder that never released (execution stopped from outside) blocks only until its lock expires
    registry.acquire_retraining_lock("train-c", ttl_seconds=3600, now=start + timedelta(hours=2))


def test_active_model_lookup_caches_the_active_version_and_its_categories(
    registry, good_model_dir, weak_model_dir
):
    from core.registry.active_model import ActiveModelLookup

    lookup = ActiveModelLookup()
    assert lookup.version() is None and lookup.known_categories() is None  # nothing deployed yet
    v1 = registry.register_model_dir(good_model_dir)["version"]
    registry.activate(v1)
    assert lookup.version() is None  # "nothing deployed" is cached too, for ACTIVE_MAX_AGE_SECONDS
    lookup.clear()
    assert lookup.version() == v1
    assert lookup.known_categories() == ["FOOD & DRINK", "POLITICS", "SCIENCE", "SPORTS"]
    registry.activate(registry.register_model_dir(weak_model_dir)["version"])
    assert lookup.version() == v1
    assert ActiveModelLookup(max_age=0).version() == "v0002"  # max_age 0: read every time


def test_versions_past_v9999_still_list_newest_first(registry, good_model_dir, aws):
    """Version ids are numbers with a prefix: as strings, v10000 would sort before v9999."""
    import boto3

    boto3.client("dynamodb").put_item(
        TableName=aws.name("ModelsTable"), Item={"version": {"S": "SEQUENCE"}, "next_value": {"N": "9998"}}
    )
    first = registry.register_model_dir(good_model_dir)["version"]
    second = registry.register_model_dir(good_model_dir)["version"]
    assert (first, second) == ("v9999", "v10000")
    assert [item["version"] for item in registry.list_versions()] == ["v10000", "v9999"]
