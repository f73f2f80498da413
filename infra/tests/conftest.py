"""Shared fixtures: the parsed SAM template and its offline expansion (computed once)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import samexpand  # noqa: E402


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return samexpand.load_template()


@pytest.fixture(scope="session")
def expanded(sam_template: dict[str, Any]) -> dict[str, Any]:
    return samexpand.expand(sam_template)


@pytest.fixture(scope="session")
def cdk_template() -> dict[str, Any]:
    import cdksynth

    return cdksynth.load()
