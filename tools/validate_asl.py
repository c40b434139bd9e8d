"""Validate every state machine of template.yaml with asl-validator, its DefinitionSubstitutions applied.

The substitution names come from the template itself, so a new ${Name} cannot be forgotten here. Each value is
a plausible stand-in of the right shape, derived from what the template binds the name to:
  !GetAtt Fn.Arn       -> an ARN of that resource's type (Lambda function, IAM role, KMS key, ...)
  !Ref Parameter       -> the parameter's Default (else its first AllowedValue)
  !Ref Resource        -> what Ref returns for that type (bucket name, function name, ...)
A ${...} left after substitution, or a binding this script cannot give a value for, fails the check.

Usage: python tools/validate_asl.py [template.yaml] [--validator PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from local.template import load_template  # the project's one CloudFormation YAML loader

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VALIDATOR = ROOT / "tools" / "aws" / "node_modules" / ".bin" / "asl-validator"
REGION, ACCOUNT = "us-east-1", "123456789012"
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def _arn_for(logical_id: str, resource: dict) -> str:
    kind = resource.get("Type", "")
    name = resource.get("Properties", {}).get("FunctionName") or f"stack-{logical_id}"
    if not isinstance(name, str):
        name = f"stack-{logical_id}"
    states = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:stack-{logical_id}"
    arns = {
        "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/stack-{logical_id}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:stack-{logical_id}",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:stack-{logical_id}",
        "AWS::S3::Bucket": f"arn:aws:s3:::stack-{logical_id.lower()}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stack-{logical_id}",
        "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/stack-{logical_id}",
        "AWS::Serverless::StateMachine": states,
        "AWS::StepFunctions::StateMachine": states,
    }
    if kind not in arns:
        raise ValueError(f"no stand-in ARN for {logical_id} ({kind}): add one to tools/validate_asl.py")
    return arns[kind]


def _ref_for(logical_id: str, template: dict) -> str:
    params = template.get("Parameters", {})
    if logical_id in params:
        param = params[logical_id]
        if "Default" in param:
            return str(param["Default"])
        if param.get("AllowedValues"):
            return str(param["AllowedValues"][0])
        raise ValueError(f"parameter {logical_id} has no Default nor AllowedValues to stand in for it")
    resource = template.get("Resources", {}).get(logical_id)
    if resource is None:
        raise ValueError(f"!Ref {logical_id}: no such parameter or resource")
    kind = resource.get("Type", "")
    if kind == "AWS::S3::Bucket":
        return f"stack-{logical_id.lower()}-{ACCOUNT}"
    named = ("AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::DynamoDB::Table",
             "AWS::Events::EventBus")
    if kind in named:
        return f"stack-{logical_id}"
    if kind in ("AWS::KMS::Key",):
        return "1234abcd-12ab-34cd-56ef-1234567890ab"
    if kind in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
        return _arn_for(logical_id, resource)
    raise ValueError(f"no stand-in for !Ref {logical_id} ({kind}): add one to tools/validate_asl.py")


def stand_in(name: str, binding: object, template: dict) -> str:
    """A plausible deploy-time value for DefinitionSubstitutions[name] = binding."""
    if isinstance(binding, (str, int, float)):
        return str(binding)
    if isinstance(binding, dict) and len(binding) == 1:
        (fn, arg), = binding.items()
        if fn == "Ref":
            return _ref_for(arg, template)
        if fn == "Fn::GetAtt":
            logical_id, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            resource = template.get("Resources", {}).get(logical_id)
            if resource is None:
                raise ValueError(f"{name}: !GetAtt {logical_id}: no such resource")
            if attr == "Arn":
                return _arn_for(logical_id, resource)
            if attr == "Name":
                return f"stack-{logical_id}"
    # Anything else (!Sub, !FindInMap, !If, ...): fall back on the name's shape.
    if name.endswith("Arn"):
        return f"arn:aws:iam::{ACCOUNT}:role/stack-{name}"
    if name.endswith("Image"):
        return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/stand-in:latest"
    if name.endswith("Bucket"):
        return f"stack-{name.lower()}-{ACCOUNT}"
    raise ValueError(f"{name}: cannot make a stand-in for {binding!r}: teach tools/validate_asl.py its shape")


def substituted_definitions(template_path: Path) -> list[tuple[str, str]]:
    template = load_template(template_path)
    out = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = resource.get("Properties", {})
        uri = props.get("DefinitionUri")
        if not isinstance(uri, str):
            raise ValueError(f"{logical_id}: only a local DefinitionUri is supported here")
        text = (template_path.parent / uri).read_text()
        subs = {k: stand_in(k, v, template) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
        unused = sorted(k for k in subs if "${" + k + "}" not in text)
        if unused:
            print(f"{logical_id}: note: DefinitionSubstitutions not used by {uri}: {', '.join(unused)}")
        text = PLACEHOLDER.sub(lambda m, subs=subs: subs.get(m.group(1), m.group(0)), text)
        left = sorted(set(PLACEHOLDER.findall(text)))
        if left:
            raise ValueError(f"{logical_id}: {uri} uses ${{...}} with no DefinitionSubstitutions entry: "
                             + ", ".join(left))
        json.loads(text)  # the substituted definition must still be JSON
        out.append((f"{logical_id} ({uri})", text))
    if not out:
        raise ValueError(f"no AWS::Serverless::StateMachine with a DefinitionUri in {template_path}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", default=str(ROOT / "template.yaml"))
    parser.add_argument("--validator", default=str(DEFAULT_VALIDATOR))
    args = parser.parse_args(argv)
    try:
        definitions = substituted_definitions(Path(args.template))
    except ValueError as exc:
        print(f"validate_asl: {exc}", file=sys.stderr)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, text) in enumerate(definitions):
            path = Path(tmp) / f"definition-{i}.json"
            path.write_text(text)
            cmd = [args.validator, "--json-path", str(path)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            output = (result.stdout + result.stderr).strip().replace(str(path), label)
            print(f"asl-validator {label}: {output}")
            failed |= result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
