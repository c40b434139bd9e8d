"""Run checkov on template.yaml; fail on findings not accepted, with reasons, in tools/checkov-accepted.yaml.

checkov's own skip list (--skip-check) works per check ID for the whole template, so a new function missing,
say, a DLQ would pass unseen; this accepts a finding per check *and resource*, requires a reason for each, and
fails on accepted entries that no longer occur (fixed in the template: drop them here).
Runs with the checkov venv's Python: python tools/checkov_check.py [template.yaml]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED = ROOT / "tools" / "checkov-accepted.yaml"
CHECKOV = Path(sys.executable).parent / "checkov"


def accepted_findings() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for key, entry in (yaml.safe_load(ACCEPTED.read_text()) or {}).items():
        check = entry.get("check", key)
        reason = (entry.get("reason") or "").strip()
        if not reason:
            raise SystemExit(f"{ACCEPTED.name}: {key} has no reason")
        for resource in entry.get("resources") or []:
            if (check, resource) in out:
                raise SystemExit(f"{ACCEPTED.name}: {check} {resource} is listed twice")
            out[(check, resource)] = reason
    return out


def main() -> int:
    template = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    cmd = [str(CHECKOV), "--config-file", str(ROOT / ".checkov.yaml"), "-f", template, "-o", "json"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stdout + result.stderr, file=sys.stderr)
        print("checkov_check: checkov produced no JSON report", file=sys.stderr)
        return 2
    reports = report if isinstance(report, list) else [report]
    found = {}
    passed = 0
    for r in reports:
        passed += r.get("summary", {}).get("passed", 0)
        for c in r.get("results", {}).get("failed_checks", []):
            found[(c["check_id"], c["resource"].split(".")[-1])] = c
    accepted = accepted_findings()
    new = sorted(set(found) - set(accepted))
    stale = sorted(set(accepted) - set(found))
    to_fix = sorted(k for k in set(found) & set(accepted) if accepted[k].startswith("to fix:"))
    for check, resource in new:
        c = found[(check, resource)]
        print(f"NEW  {check} {resource} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}")
    for check, resource in stale:
        print(f"GONE {check} {resource}: no longer found, remove it from {ACCEPTED.relative_to(ROOT)}")
    for check, resource in to_fix:
        print(f"to fix (accepted for now) {check} {resource}")
    print(f"checkov: {passed} passed, {len(found)} failed of which {len(found) - len(new)} accepted "
          f"({len(to_fix)} marked to fix), {len(new)} new, {len(stale)} stale accepted entries")
    if new:
        print(f"Fix the template, or accept the finding in {ACCEPTED.relative_to(ROOT)} with its reason.")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
