"""Local mode enforces the template's roles at run time, answering like AWS (issue 7, IAM conformance).

Lambda's SQS event source mapping polls with the function's role; the feedback queue is encrypted with the
stack's customer managed key, so the role needs kms:Decrypt or no message is ever delivered. A copy of the
project whose template lacks that statement must show exactly that, and the real template must not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from local.iam.enforcement import access_control, expected_denials
from local.packaging import lambda_sources
from local.session import LocalConfig, LocalSession
from local.template import REPO_ROOT, load_template


def project_with(tmp_path: Path, template: dict) -> Path:
    """The repository's code and state machines beside a changed template (what `sam build` would see)."""
    for name in (*lambda_sources(), "statemachines", "Makefile"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def consumer_without_key_access() -> dict:
    template = load_template()
    policies = template["Resources"]["FeedbackConsumerFunction"]["Properties"]["Policies"]
    for policy in policies:
        statements = policy.get("Statement") if isinstance(policy, dict) else None
        if statements:
            policy["Statement"] = [s for s in statements if s.get("Sid") != "DecryptQueueAndEncryptItems"]
    return template


def queue_one_message(session: LocalSession) -> str:
    url = session.deployment.physical("FeedbackQueue")
    session.emulator.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"prediction_id": "x"}))
    return url


def visible(session: LocalSession, url: str) -> int:
    attributes = session.emulator.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_the_event_source_mapping_cannot_read_the_queue_without_kms_decrypt(tmp_path):
    template = project_with(tmp_path, consumer_without_key_access())
    with expected_denials() as denied:
        with LocalSession(LocalConfig(port=0, template=template, max_batching_window=0)) as session:
            session.poller.stop()  # poll by hand, once
            url = queue_one_message(session)
            with pytest.raises(Exception, match="KMS.AccessDeniedException"):
                session.poller.drain(timeout=5)
            assert visible(session, url) == 1  # accepted feedback stays queued: nothing is lost
    reports = {(d.principal.label, f"{d.call.service}:{d.call.operation}") for d in denied}
    assert reports == {("FeedbackConsumerFunction", "sqs:ReceiveMessage")}
    assert "needs kms:Decrypt on arn:aws:kms:" in denied[0].report()


def test_with_the_real_template_the_mapping_polls_as_the_consumer_role():
    with LocalSession(LocalConfig(port=0, max_batching_window=0)) as session:
        session.poller.stop()
        url = queue_one_message(session)
        before = access_control.checked["FeedbackConsumerFunction", "sqs:ReceiveMessage"]
        assert session.poller.drain(timeout=10) == 1
        assert visible(session, url) == 0
        assert access_control.checked["FeedbackConsumerFunction", "sqs:ReceiveMessage"] > before
        assert access_control.checked["FeedbackConsumerFunction", "sqs:DeleteMessage"] >= 1
