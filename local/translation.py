"""SAM -> CloudFormation offline: samtranslator with a stand-in for the IAM call it makes (ListPolicies).
A template is translated once per content and parameters (every test deploys it); each caller gets a copy."""

from __future__ import annotations

import functools
import json

from local.template import DeployError


class _AnyManagedPolicy(dict):
    """Offline stand-in for IAM ListPolicies: every AWS managed policy name maps to its ARN."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def get(self, name, default=None):
        return self[name] if isinstance(name, str) else default


class _OfflinePolicyLoader:
    def load(self) -> dict[str, str]:
        return _AnyManagedPolicy()


def translate(sam: dict, parameters: dict[str, str]) -> dict:
    return json.loads(_translated(json.dumps(sam, sort_keys=True), json.dumps(parameters, sort_keys=True)))


@functools.lru_cache(maxsize=16)
def _translated(sam: str, parameters: str) -> str:
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    try:
        return json.dumps(transform(json.loads(sam), json.loads(parameters), _OfflinePolicyLoader()))
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in getattr(error, "causes", [])) or str(error)
        raise DeployError(f"SAM template is invalid: {causes}") from error
