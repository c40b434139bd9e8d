"""The admin routes the operator page needs, run as ModelAdminFunction (its role authorizes each call):
GET /api/v1/model/feedback/daily (feedback volume and accuracy per day, from the by_day index) and
GET /api/v1/model/train (the latest retraining runs); bounds on their query parameters are 422s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.support.api_events import api_event, call


@pytest.fixture
def admin(aws):
    import handlers.api_model_admin as module

    aws.use_function_env("ModelAdminFunction")
    return module


def get(admin, path: str, query: dict | None = None):
    event = api_event("api_model_versions.json")
    event["resource"] = event["path"] = event["requestContext"]["resourcePath"] = path
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in (query or {}).items()} or None
    return call(admin, event)


def put_feedback(aws, day: str, n: int, version: str, correct: int, counted: bool = True) -> None:
    table = aws.stack.function_environment("ModelAdminFunction")["FEEDBACK_TABLE"]
    dynamodb = boto3.client("dynamodb")
    for index in range(n):
        created_at = f"{day}T10:00:{index:02d}+00:00"
        dynamodb.put_item(TableName=table, Item={
            "prediction_id": {"S": f"{version}-{day}-{index}-{counted}"}, "created_at": {"S": created_at},
            "day": {"S": day}, "model_version": {"S": version}, "correct": {"BOOL": index < correct},
            "counted": {"BOOL": counted}, "headline": {"S": "h"}, "correct_category": {"S": "POLITICS"},
        })  # fmt: skip


def test_feedback_per_day_counts_what_the_counters_count(admin, aws):
    today = datetime.now(UTC).date()
    two_days_ago, yesterday = (str(today - timedelta(days=d)) for d in (2, 1))
    put_feedback(aws, two_days_ago, 4, "v0001", correct=1)
    put_feedback(aws, str(today), 3, "v0001", correct=3)
    put_feedback(aws, str(today), 2, "v0002", correct=1)
    put_feedback(aws, str(today), 5, "v0002", correct=5, counted=False)  # held back: counted nowhere
    put_feedback(aws, str(today - timedelta(days=3)), 6, "v0001", correct=6)  # outside the window

    status, body, _ = get(admin, "/api/v1/model/feedback/daily", {"days": "3"})
    assert status == 200, body
    assert [day["day"] for day in body["days"]] == [two_days_ago, yesterday, str(today)]
    first, empty, last = body["days"]
    assert (first["total"], first["correct"], first["accuracy"]) == (4, 1, 0.25)
    assert empty == {"day": yesterday, "total": 0, "correct": 0, "accuracy": None, "per_model_version": {}}
    assert (last["total"], last["correct"]) == (5, 4)
    assert last["per_model_version"] == {
        "v0001": {"total": 3, "correct": 3, "accuracy": 1.0},
        "v0002": {"total": 2, "correct": 1, "accuracy": 0.5},
    }
    status, body, _ = get(admin, "/api/v1/model/feedback/daily")
    assert status == 200 and len(body["days"]) == 14 and body["days"][-1]["day"] == str(today)


@pytest.mark.parametrize("days", ["0", "91", "two"])
def test_feedback_per_day_refuses_a_bad_window(admin, days):
    status, body, _ = get(admin, "/api/v1/model/feedback/daily", {"days": days})
    assert (status, body["error"]) == (422, "validation_error")


def test_train_runs_lists_the_latest_newest_first(admin):
    status, body, _ = get(admin, "/api/v1/model/train")
    assert (status, body) == (200, {"runs": []})
    status, started, _ = call(admin, api_event("api_model_train.json"))
    assert status == 202, started
    status, body, _ = get(admin, "/api/v1/model/train", {"limit": "5"})
    assert status == 200 and [run["job_id"] for run in body["runs"]] == [started["job_id"]]
    assert body["runs"][0]["status"] == "RUNNING" and body["runs"][0]["started_at"]
    for limit in ("0", "101"):
        assert get(admin, "/api/v1/model/train", {"limit": limit})[0] == 422


def test_versions_say_when_each_was_deployed_and_retired(admin, registry, good_model_dir):
    v1 = registry.register_model_dir(good_model_dir)["version"]
    v2 = registry.register_model_dir(good_model_dir)["version"]
    registry.activate(v1, reason="first")
    registry.activate(v2, reason="second")
    status, body, _ = get(admin, "/api/v1/model/versions")
    assert status == 200
    by_version = {item["version"]: item for item in body["versions"]}
    assert by_version[v1]["deployed_at"] and by_version[v1]["retired_at"]
    assert by_version[v2]["deployed_at"] and by_version[v2]["retired_at"] is None
