"""What a deployment of the template created: physical ids, functions, state machines, routes, schedules,
and the values its intrinsics resolve to (local IAM, the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from local.cfn import Values, attributes_of
from local.routes import Route
from local.template import DeployError


@dataclass
class ScheduleTarget:
    source_id: str  # logical id of the rule / schedule
    expression: str  # rate(...) / cron(...)
    target_arn: str
    input: str | None
    enabled: bool = True

    @property
    def kind(self) -> str:
        return "states" if ":states:" in self.target_arn else "lambda"


@dataclass
class Deployment:
    stack_name: str
    region: str
    template_path: Path
    parameters: dict[str, str]
    sam: dict
    cfn: dict
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)  # logical -> (type, physical id)
    functions: dict[str, str] = field(default_factory=dict)  # logical -> function name
    state_machines: dict[str, str] = field(default_factory=dict)  # logical -> arn
    routes: list[Route] = field(default_factory=list)
    schedules: list[ScheduleTarget] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    not_emulated: dict[str, int] = field(default_factory=dict)  # resource type -> count (moto lacks them)
    role_arns: dict[str, str] = field(default_factory=dict)  # function / state machine -> its role ARN
    # what references to resources left out of moto's CloudFormation resolve to: {logical id: {attr: value}}
    left_out: dict[str, dict[str, str]] = field(default_factory=dict)

    def physical(self, logical_id: str) -> str:
        if logical_id in self.state_machines:
            return self.state_machines[logical_id]
        try:
            return self.resources[logical_id][1]
        except KeyError:
            raise DeployError(f"no resource {logical_id} in {self.template_path.name}") from None

    def of_type(self, resource_type: str) -> dict[str, str]:
        return {k: v for k, (t, v) in self.resources.items() if t == resource_type}

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Resolved environment variables of a function (as moto holds them)."""
        return dict(self._function_env.get(logical_id, {}))

    _function_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def values(self) -> Values:
        """What the template's intrinsics resolve to in this deployment (for local IAM: roles and keys)."""
        attributes = {
            logical_id: attributes_of(rtype, physical, self.region)
            for logical_id, (rtype, physical) in self.resources.items()
            if physical
        }
        for logical_id, values in self.left_out.items():
            attributes[logical_id] = {("Ref" if key == "" else key): value for key, value in values.items()}
        return Values(
            region=self.region,
            parameters=self.parameters,
            attributes=attributes,
            conditions=self.cfn.get("Conditions", {}),
            mappings=self.cfn.get("Mappings", {}),
            stack_name=self.stack_name,
        )
