"""Rules tying the templates to what cargo-lambda builds (issue 8, item 5), without building.

`sam build` (BuildMethod rust-cargolambda) runs `cargo lambda build --release --arm64 --bin
<BuildProperties.Binary>` in the function's CodeUri and copies `lambda/<Binary>/bootstrap`; the
CDK's `RustFunction` does the same with `binaryName` and `manifestPath`. A release arm64 build
takes far too long for CI, so these checks compare the declarations instead:

- every SAM function builds with rust-cargolambda from the workspace root (CodeUri), and its
  `Binary` is a `[[bin]]` target of exactly one workspace package (`cargo metadata --no-deps`,
  which needs no network and no compilation);
- every function, in the SAM expansion and in the CDK synthesis, has what cargo-lambda produces:
  Handler `bootstrap`, Runtime `provided.al2023` (cargo-lambda's default glibc is newer than
  provided.al2's), Architectures `[arm64]` (what `--arm64` builds), a zip package;
- the CDK app's `RustFunction`s use the same binary names and the workspace manifest.

Each rule returns problems as sentences naming the culprit, so a test can show that a broken
declaration fails for the right reason.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import samexpand

WORKSPACE_ROOT = samexpand.INFRA_DIR.parent
CDK_FUNCTIONS_SOURCE = samexpand.INFRA_DIR / "cdk" / "lib" / "functions.ts"

BUILD_METHOD = "rust-cargolambda"
HANDLER = "bootstrap"
RUNTIME = "provided.al2023"
ARCHITECTURES = ["arm64"]

SAM_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"


def workspace_metadata() -> dict[str, Any]:
    """`cargo metadata --no-deps` of the workspace (about a second; no build, no network)."""
    proc = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--manifest-path", str(WORKSPACE_ROOT / "Cargo.toml")],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout)


def workspace_binaries(metadata: dict[str, Any]) -> dict[str, list[str]]:
    """bin target name -> the workspace packages that declare it (more than one is a clash)."""
    members = set(metadata.get("workspace_members", []))
    bins: dict[str, list[str]] = {}
    for package in metadata.get("packages", []):
        if members and package.get("id") not in members:
            continue
        for target in package.get("targets", []):
            if "bin" in target.get("kind", []):
                bins.setdefault(target["name"], []).append(package["name"])
    return bins


def sam_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template.get("Resources", {}).items() if r.get("Type") == SAM_FUNCTION}


def sam_binaries(template: dict[str, Any]) -> dict[str, str]:
    """SAM logical id -> BuildProperties.Binary (absent: empty string)."""
    return {
        lid: str(r.get("Metadata", {}).get("BuildProperties", {}).get("Binary", ""))
        for lid, r in sam_functions(template).items()
    }


def sam_build_problems(template: dict[str, Any], bins: dict[str, list[str]]) -> list[str]:
    """What `sam build` would trip over: build method, CodeUri, Binary names."""
    problems = []
    for lid, resource in sam_functions(template).items():
        metadata = resource.get("Metadata", {})
        method = metadata.get("BuildMethod")
        if method != BUILD_METHOD:
            problems.append(f"{lid}: Metadata.BuildMethod is {method!r}, not {BUILD_METHOD!r}")
        code_uri = resource.get("Properties", {}).get("CodeUri")
        if not isinstance(code_uri, str) or (samexpand.INFRA_DIR / code_uri).resolve() != WORKSPACE_ROOT:
            problems.append(f"{lid}: CodeUri {code_uri!r} is not the workspace root (../ from infra/)")
        binary = sam_binaries(template)[lid]
        owners = bins.get(binary, [])
        if not owners:
            problems.append(f"{lid}: BuildProperties.Binary {binary!r} is not a bin target of any workspace package")
        elif len(owners) > 1:
            problems.append(f"{lid}: bin {binary!r} is declared by several packages {owners}: lambda/{binary} clashes")
    declared = list(sam_binaries(template).values())
    for binary in sorted({b for b in declared if declared.count(b) > 1}):
        problems.append(f"two functions build the same Binary {binary!r}")
    return problems


def runtime_problems(template: dict[str, Any], function_ids: set[str], origin: str) -> list[str]:
    """Handler/Runtime/Architectures/PackageType of the application's functions in a template.

    Only `function_ids` are checked: the CDK adds helper functions of its own (custom resources
    in Node.js) that cargo-lambda does not build.
    """
    problems = []
    resources = template.get("Resources", {})
    for lid in sorted(function_ids):
        resource = resources.get(lid)
        if resource is None or resource.get("Type") != LAMBDA_FUNCTION:
            problems.append(f"{origin} {lid}: no {LAMBDA_FUNCTION} with this logical id")
            continue
        props = resource.get("Properties", {})
        if props.get("PackageType", "Zip") != "Zip":
            problems.append(f"{origin} {lid}: PackageType {props.get('PackageType')!r}, cargo-lambda builds a zip")
        if props.get("Handler") != HANDLER:
            problems.append(f"{origin} {lid}: Handler {props.get('Handler')!r}, cargo-lambda builds {HANDLER!r}")
        if props.get("Runtime") != RUNTIME:
            problems.append(f"{origin} {lid}: Runtime {props.get('Runtime')!r}, the build targets {RUNTIME!r}")
        if props.get("Architectures") != ARCHITECTURES:
            problems.append(f"{origin} {lid}: Architectures {props.get('Architectures')!r}, the build is --arm64")
    return problems


# `name: 'fraud-detector', prefix: 'FraudDetector'` in FUNCTION_SPECS.
_CDK_SPEC = re.compile(r"name:\s*'([^']+)',\s*prefix:\s*'([^']+)'")
_CDK_BINARY_NAME = re.compile(r"binaryName:\s*spec\.name\b")
_CDK_MANIFEST = re.compile(r"WORKSPACE_MANIFEST\s*=\s*path\.join\(__dirname,\s*'\.\.',\s*'\.\.',\s*'\.\.',\s*'Cargo\.toml'\)")


def cdk_binaries(source: str) -> dict[str, str]:
    """CDK logical id (`<Prefix>Function`) -> binary name, read from functions.ts."""
    return {f"{prefix}Function": name for name, prefix in _CDK_SPEC.findall(source)}


def cdk_problems(source: str, sam_template: dict[str, Any]) -> list[str]:
    """The CDK app builds the same binaries, for the same logical ids, from the same workspace."""
    problems = []
    if not _CDK_BINARY_NAME.search(source):
        problems.append("functions.ts: RustFunction is not given `binaryName: spec.name`")
    if not _CDK_MANIFEST.search(source):
        problems.append("functions.ts: WORKSPACE_MANIFEST is not the workspace root's Cargo.toml")
    cdk = cdk_binaries(source)
    sam = sam_binaries(sam_template)
    for lid in sorted(set(sam) | set(cdk)):
        if sam.get(lid) != cdk.get(lid):
            problems.append(f"{lid}: SAM builds binary {sam.get(lid)!r}, the CDK {cdk.get(lid)!r}")
    return problems


def all_problems(
    sam_template: dict[str, Any],
    expanded: dict[str, Any],
    bins: dict[str, list[str]],
    cdk_source: str,
    cdk_template: dict[str, Any],
) -> list[str]:
    function_ids = set(sam_functions(sam_template))
    return (
        sam_build_problems(sam_template, bins)
        + runtime_problems(expanded, function_ids, "SAM")
        + runtime_problems(cdk_template, function_ids, "CDK")
        + cdk_problems(cdk_source, sam_template)
    )
