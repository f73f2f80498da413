"""Offline SAM expansion and linting shared by the infra tests.

Why expand first: `sam validate --lint` and plain `cfn-lint` check the template before the SAM
transform runs, so properties SAM copies into generated resources (a function's Runtime, an
event source's BatchSize, a Schedule expression) are never checked against the CloudFormation
schema. Expanding with aws-sam-translator (the library SAM itself uses) and linting the
result catches them. Everything here runs without AWS credentials or network.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

INFRA_DIR = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = INFRA_DIR / "template.yaml"
# The translator only accepts S3 URIs for code; the real value (`../`, the workspace root)
# is resolved by `sam build`, which we cannot run without Rust toolchains.
PLACEHOLDER_CODE_URI = "s3://shardwise-placeholder/code.zip"
REGION = "us-east-1"


class _NoManagedPolicies:
    """The template attaches no managed policies; fail loudly if the translator asks."""

    def load(self) -> dict[str, str]:
        raise AssertionError("the template must not reference managed policies by name")


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parses a SAM template, turning short-form intrinsics (!Ref, !Sub) into long form."""
    return yaml_parse(path.read_text())


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """Runs the SAM transform offline and returns the plain CloudFormation template."""
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ.setdefault("AWS_REGION", REGION)
    sam = copy.deepcopy(template)
    for resource in sam.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = PLACEHOLDER_CODE_URI
    return transform(sam, {}, _NoManagedPolicies())


def cfn_lint_bin() -> str:
    """cfn-lint from the same environment as this interpreter (the infra venv)."""
    candidate = Path(sys.executable).with_name("cfn-lint")
    return str(candidate) if candidate.exists() else "cfn-lint"


def lint(template: dict[str, Any], workdir: Path, name: str = "expanded.json") -> list[str]:
    """Runs cfn-lint on a (expanded) template; returns its findings, one per line.

    Every finding counts, warnings included: the real template is kept warning-free so a new
    warning is noticed instead of scrolling by.
    """
    path = workdir / name
    path.write_text(json.dumps(template, indent=1))
    proc = subprocess.run(
        [cfn_lint_bin(), "--format", "json", "--regions", REGION, "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        matches = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        matches = None
    if matches is None or (proc.returncode != 0 and not matches):
        # cfn-lint itself broke (bad install, crash): never read that as "clean".
        raise RuntimeError(f"cfn-lint exited {proc.returncode}: {proc.stdout} {proc.stderr}")
    return [
        f"{m['Rule']['Id']} {'/'.join(str(p) for p in m['Location']['Path'])}: {m['Message']}"
        for m in matches
    ]


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == type_name
    }
