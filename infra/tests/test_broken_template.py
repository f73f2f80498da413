"""A deliberately broken template fails validation, one defect at a time.

Each case mutates a copy of the real template, expands it offline and lints the result; the
defect must surface either as a translator error or as a cfn-lint finding that names it.
`sam validate --lint` and plain cfn-lint pass all of these (they do not look inside the SAM
transform), which is why the test command expands first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest

import samexpand


def _set_runtime(t: dict[str, Any]) -> None:
    t["Resources"]["FraudDetectorFunction"]["Properties"]["Runtime"] = "provided.al2099"


def _set_batch_size(t: dict[str, Any]) -> None:
    t["Resources"]["FraudDetectorFunction"]["Properties"]["Events"]["Transactions"]["Properties"]["BatchSize"] = 20000


def _set_schedule(t: dict[str, Any]) -> None:
    t["Resources"]["TimerDispatcherFunction"]["Properties"]["Events"]["EveryMinute"]["Properties"]["Schedule"] = (
        "rate(1 minutes)"
    )


def _misspell_event_type(t: dict[str, Any]) -> None:
    t["Resources"]["ArchiverFunction"]["Properties"]["Events"]["Transactions"]["Type"] = "Kinesys"


def _set_starting_position(t: dict[str, Any]) -> None:
    t["Resources"]["DailyTotalsFunction"]["Properties"]["Events"]["Transactions"]["Properties"][
        "StartingPosition"
    ] = "OLDEST"


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # case id: (mutation, text the failure must mention)
    "wrong_runtime": (_set_runtime, "provided.al2099"),
    "batch_size_20000": (_set_batch_size, "20000"),
    "invalid_schedule_expression": (_set_schedule, "minutes"),
    "misspelled_event_type": (_misspell_event_type, "Kinesys"),
    "invalid_starting_position": (_set_starting_position, "OLDEST"),
}


def validation_problems(template: dict[str, Any], workdir: Path) -> list[str]:
    """What the test command reports for a template: translator errors, then lint findings."""
    try:
        expanded = samexpand.expand(template)
    except Exception as error:  # the translator's own exception types vary by version
        return [f"sam-translator: {error}"]
    return samexpand.lint(expanded, workdir)


def test_the_unbroken_template_has_no_validation_problems(sam_template: dict[str, Any], tmp_path: Path) -> None:
    # The control case: without it, a pipeline that rejects everything would pass the others.
    assert validation_problems(sam_template, tmp_path) == []


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_template_fails_validation(case: str, sam_template: dict[str, Any], tmp_path: Path) -> None:
    mutate, culprit = BROKEN[case]
    broken = copy.deepcopy(sam_template)
    mutate(broken)
    problems = validation_problems(broken, tmp_path)
    print(f"{case}: " + " | ".join(problems))
    assert problems, f"{case} passed validation"
    assert any(culprit in p for p in problems), problems
