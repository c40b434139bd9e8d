"""Rotating a secret in local mode and the tests as its AWS::SecretsManager::RotationSchedule has Secrets
Manager do it on AWS: RotateSecret with the schedule's function and rules.

moto's CloudFormation leaves RotationSchedule inert (describe() lists it under not emulated); RotateSecret
itself is emulated: moto 5.2.5 stages AWSPENDING and invokes the function for createSecret, setSecret,
testSecret and finishSecret, which local mode runs in-process as the function's role. moto ignores a step's
failure and makes the pending version the default anyway, where AWS would stop: rotate() checks the outcome
and says when AWSCURRENT did not move.
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
    schedule = schedules[0]
    before = _current_version(secretsmanager, schedule.secret_arn)
    started = secretsmanager.rotate_secret(
        SecretId=schedule.secret_arn, RotationLambdaARN=schedule.function_arn, RotationRules=schedule.rules
    )
    after = _current_version(secretsmanager, schedule.secret_arn)
    if after != started["VersionId"] or after == before:
        raise RotationFailed(
            f"rotating {schedule.secret_arn}: version {started['VersionId']} did not become AWSCURRENT "
            f"(still {after}); see the rotation function's log"
        )
    return {"secret": schedule.secret_arn, "previous": before, "current": after}


def _current_version(secretsmanager, secret_arn: str) -> str | None:
    stages = secretsmanager.describe_secret(SecretId=secret_arn).get("VersionIdsToStages") or {}
    return next((version for version, labels in stages.items() if "AWSCURRENT" in labels), None)
