"""The templates declare exactly what cargo-lambda builds; a mismatch fails here, not at deploy.

A release arm64 build is too slow for CI (scripts/build-lambdas.sh and scripts/sam-build.sh do
it on demand), so these tests check the declarations instead (rules in lambdabuild.py): binary
names against the workspace's `[[bin]]` targets, Handler/Runtime/Architectures against
cargo-lambda's output, and the CDK's RustFunctions against the SAM template. Each broken case
mutates one copy of the real inputs and must fail naming its culprit.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

import contract
import lambdabuild
import samexpand


@pytest.fixture(scope="module")
def bins() -> dict[str, list[str]]:
    # No skip when cargo is missing: a CI without cargo must fail, not pass silently.
    return lambdabuild.workspace_binaries(lambdabuild.workspace_metadata())


@pytest.fixture(scope="module")
def cdk_source() -> str:
    return lambdabuild.CDK_FUNCTIONS_SOURCE.read_text()


class Inputs:
    """Mutable copies of everything the rules read, one per broken case."""

    def __init__(self, sam: dict[str, Any], bins: dict[str, list[str]], cdk_source: str, cdk: dict[str, Any]):
        self.sam = copy.deepcopy(sam)
        self.bins = copy.deepcopy(bins)
        self.cdk_source = cdk_source
        self.cdk = copy.deepcopy(cdk)

    def problems(self) -> list[str]:
        expanded = samexpand.expand(self.sam)
        return lambdabuild.all_problems(self.sam, expanded, self.bins, self.cdk_source, self.cdk)


def _fraud(i: Inputs) -> dict[str, Any]:
    return i.sam["Resources"]["FraudDetectorFunction"]


def _rename_template_binary(i: Inputs) -> None:
    _fraud(i)["Metadata"]["BuildProperties"]["Binary"] = "fraud-detecter"


def _rename_crate_binary(i: Inputs) -> None:
    # What renaming `[[bin]] name` in functions/archiver/Cargo.toml does to cargo metadata.
    i.bins["archiver-renamed"] = i.bins.pop("archiver")


def _duplicate_crate_binary(i: Inputs) -> None:
    i.bins["reconciler"] = i.bins["reconciler"] + ["some-other-package"]


def _other_build_method(i: Inputs) -> None:
    _fraud(i)["Metadata"]["BuildMethod"] = "makefile"


def _code_uri_not_workspace(i: Inputs) -> None:
    i.sam["Resources"]["QueryApiFunction"]["Properties"]["CodeUri"] = "../functions/query-api"


def _handler(i: Inputs) -> None:
    i.sam["Globals"]["Function"]["Handler"] = "main"


def _runtime_al2(i: Inputs) -> None:
    _fraud(i)["Properties"]["Runtime"] = "provided.al2"


def _architecture_x86(i: Inputs) -> None:
    i.sam["Globals"]["Function"]["Architectures"] = ["x86_64"]


def _cdk_binary_name(i: Inputs) -> None:
    i.cdk_source = i.cdk_source.replace("name: 'session-tracker'", "name: 'sessions'", 1)


def _cdk_binary_name_not_from_spec(i: Inputs) -> None:
    i.cdk_source = i.cdk_source.replace("binaryName: spec.name", "binaryName: spec.prefix", 1)


def _cdk_architecture(i: Inputs) -> None:
    i.cdk["Resources"]["DailyTotalsFunction"]["Properties"]["Architectures"] = ["x86_64"]


BROKEN: dict[str, tuple[Callable[[Inputs], None], str]] = {
    # case id: (mutation, text a problem must contain)
    "template_binary_renamed": (_rename_template_binary, "fraud-detecter"),
    "crate_binary_renamed": (_rename_crate_binary, "'archiver'"),
    "binary_declared_by_two_packages": (_duplicate_crate_binary, "some-other-package"),
    "build_method_not_cargolambda": (_other_build_method, "makefile"),
    "code_uri_not_the_workspace_root": (_code_uri_not_workspace, "../functions/query-api"),
    "handler_not_bootstrap": (_handler, "Handler 'main'"),
    "runtime_provided_al2": (_runtime_al2, "provided.al2'"),
    "architecture_x86_64": (_architecture_x86, "x86_64"),
    "cdk_binary_renamed": (_cdk_binary_name, "'sessions'"),
    "cdk_binary_name_not_the_spec_name": (_cdk_binary_name_not_from_spec, "binaryName"),
    "cdk_architecture_x86_64": (_cdk_architecture, "CDK DailyTotalsFunction"),
}


def test_every_contract_function_is_a_workspace_binary_built_by_the_template(
    sam_template: dict[str, Any], bins: dict[str, list[str]]
) -> None:
    assert sorted(lambdabuild.sam_binaries(sam_template).values()) == sorted(contract.FUNCTIONS)
    assert set(contract.FUNCTIONS) <= set(bins), sorted(set(contract.FUNCTIONS) - set(bins))


def test_the_templates_declare_what_cargo_lambda_builds(
    sam_template: dict[str, Any],
    expanded: dict[str, Any],
    bins: dict[str, list[str]],
    cdk_source: str,
    cdk_template: dict[str, Any],
) -> None:
    # The control case: without it, rules that reject everything would pass the broken cases.
    assert lambdabuild.all_problems(sam_template, expanded, bins, cdk_source, cdk_template) == []


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_build_declaration_fails(
    case: str,
    sam_template: dict[str, Any],
    bins: dict[str, list[str]],
    cdk_source: str,
    cdk_template: dict[str, Any],
) -> None:
    mutate, culprit = BROKEN[case]
    inputs = Inputs(sam_template, bins, cdk_source, cdk_template)
    mutate(inputs)
    problems = inputs.problems()
    print(f"{case}: " + " | ".join(problems))
    assert problems, f"{case} passed"
    assert any(culprit in p for p in problems), problems
