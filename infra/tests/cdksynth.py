"""The CDK app's synthesized template, for the parity and least-privilege tests.

scripts/test-infra.sh synthesizes once with the real `cdk` CLI and passes the file in
SHARDWISE_CDK_TEMPLATE; run alone, pytest synthesizes it here the same way (bundling skipped,
so no Rust build is needed).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CDK_DIR = Path(__file__).resolve().parents[1] / "cdk"
STACK_TEMPLATE = "Shardwise.template.json"


def synth(out_dir: Path) -> Path:
    cli = CDK_DIR / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        raise RuntimeError(f"{cli} missing: run scripts/test-infra.sh (it installs the CDK app's packages)")
    env = dict(
        os.environ,
        SHARDWISE_SKIP_BUNDLING="1",
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_VERSION_CHECK="1",
    )
    subprocess.run(
        [str(cli), "synth", "--quiet", "--no-notices", "--output", str(out_dir)],
        cwd=CDK_DIR, env=env, check=True, capture_output=True, text=True,
    )
    return out_dir / STACK_TEMPLATE


def load() -> dict[str, Any]:
    given = os.environ.get("SHARDWISE_CDK_TEMPLATE")
    if given:
        return json.loads(Path(given).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(synth(Path(tmp)).read_text())
