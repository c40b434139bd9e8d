"""Rotating a secret in local mode and the tests as its AWS::SecretsManager::RotationSchedule has Secrets
Manager do it on AWS: RotateSecret with the schedule's function and rules.

moto's CloudFormation leaves RotationSchedule inert (describe() lists it under not emulated); RotateSecret
itself is emulated: moto 5.2.5 stages AWSPENDING and invokes the function for createSecret, setSecret,
testSecret and finishSecret, which local mode runs in-process as the function's role. moto ignores a failed
step and runs the next ones, so finishSecret can make a version current that createSecret never filled; AWS
stops at the failed step and the old key stays current. rotate() checks the outcome and, when the rotation
failed, puts the staging labels back where AWS would have left them before raising RotationFailed (moto's
"default version", which GetSecretValue without a stage reads, stays on the failed one).
"""

from __future__ import annotations

from dataclasses import dataclass

from local.cfn import resolve
from local.deployment import Deployment
from local.template import DeployError

ROTATION_SCHEDULE = "AWS::SecretsManager::RotationSchedule"


class RotationFailed(DeployError):
    """The rotation function did not make a new version current (its log says why)."""


@dataclass(frozen=True)
class RotationSchedule:
    logical_id: str
    secret_arn: str
    function_arn: str
    rules: dict


def rotation_schedules(deployment: Deployment) -> list[RotationSchedule]:
    values = deployment.values()
    found = []
    for logical_id, resource in deployment.cfn.get("Resources", {}).items():
        if resource.get("Type") != ROTATION_SCHEDULE:
            continue
        props = resolve(resource.get("Properties") or {}, values)
        rules = {
            key: int(v) if key == "AutomaticallyAfterDays" else v for key, v in props["RotationRules"].items()
        }
        found.append(RotationSchedule(logical_id, props["SecretId"], props["RotationLambdaARN"], rules))
    return found


def rotate(secretsmanager, deployment: Deployment, schedule_id: str | None = None) -> dict:
    """Rotate now the secret of `schedule_id` (default: the template's only rotation schedule). Returns
    {"secret", "previous", "current"} version ids; RotationFailed when the new version did not become
    current."""
    schedules = [s for s in rotation_schedules(deployment) if schedule_id in (None, s.logical_id)]
    if len(schedules) != 1:
        names = ", ".join(s.logical_id for s in rotation_schedules(deployment)) or "none"
        raise DeployError(
            f"rotation schedule {schedule_id or '(the only one)'} not found; the template has {names}"
        )
    schedule, arn = schedules[0], schedules[0].secret_arn
    before = _labelled(secretsmanager, arn)
    started = secretsmanager.rotate_secret(
        SecretId=arn, RotationLambdaARN=schedule.function_arn, RotationRules=schedule.rules
    )
    new = started["VersionId"]
    after = _labelled(secretsmanager, arn)
    if after.get("AWSCURRENT") == new != before.get("AWSCURRENT") and _has_value(secretsmanager, arn, new):
        return {"secret": arn, "previous": before.get("AWSCURRENT"), "current": new}
    _put_back(secretsmanager, arn, before)
    raise RotationFailed(
        f"rotating {arn}: version {new} did not become AWSCURRENT with a value, "
        f"{before.get('AWSCURRENT')} stays current; see the rotation function's log"
    )


def _labelled(secretsmanager, secret_arn: str) -> dict[str, str]:
    """{staging label: version id} of the secret."""
    stages = secretsmanager.describe_secret(SecretId=secret_arn).get("VersionIdsToStages") or {}
    return {label: version for version, labels in stages.items() for label in labels}


def _has_value(secretsmanager, secret_arn: str, version: str) -> bool:
    try:
        secretsmanager.get_secret_value(SecretId=secret_arn, VersionId=version)
    except secretsmanager.exceptions.ResourceNotFoundException:
        return False
    return True


def _put_back(secretsmanager, secret_arn: str, before: dict[str, str]) -> None:
    """The labels as they were before the rotation started, none pending (what a failed rotation leaves).
    Read again after each move: moving AWSCURRENT moves AWSPREVIOUS too."""
    for label in ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"):
        now = _labelled(secretsmanager, secret_arn)
        wanted = None if label == "AWSPENDING" else before.get(label)
        if now.get(label) == wanted:
            continue
        change = {"SecretId": secret_arn, "VersionStage": label}
        if now.get(label):
            change["RemoveFromVersionId"] = now[label]
        if wanted:
            change["MoveToVersionId"] = wanted
        secretsmanager.update_secret_version_stage(**change)
