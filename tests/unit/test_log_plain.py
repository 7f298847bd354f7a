"""A skip reason in a log line reads as its value, never as a Python enum repr (issue 24, point 12)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# In a child process: configure() sets the logging of the whole process, which other tests share.
SCRIPT = """
import sys, structlog
from monitor.core.states import RunState, SkipReason
from monitor.log import configure
configure(json_logs=sys.argv[1] == "json")
structlog.get_logger().info(
    "pass_finished", skipped={SkipReason.TOKEN_BUDGET: 3}, status=RunState.FINISHED, reasons=[SkipReason.ON_HOLD]
)
"""


@pytest.mark.parametrize("renderer", ["console", "json"])
def test_enums_in_a_log_line_are_their_values(renderer):
    done = subprocess.run([sys.executable, "-c", SCRIPT, renderer], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "SkipReason" not in line and "RunState" not in line and "<" not in line, line
    if renderer == "json":
        event = json.loads(line)
        assert event["skipped"] == {"token_budget": 3} and event["status"] == "finished"
    else:
        assert "skipped={'token_budget': 3}" in line and "status=finished" in line, line
