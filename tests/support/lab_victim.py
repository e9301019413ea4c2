"""A test run that starts a lab and then fails or waits to be interrupted, or leaks a process.

Not collected by the suite (no test_ prefix): tests/test_isolation.py runs it in a pytest of
its own and checks that nothing is left afterwards. VICTIM_READY names the file test_victim
writes the lab's state.json to once the lab is up; VICTIM_MODE is "fail" or "wait".
test_leaker starts a process it never stops and writes its pid to VICTIM_READY.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab_helpers import running_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("lab"), "greenbox", "127.0.30.10") as found:
        yield found


def test_victim(lab):
    Path(os.environ["VICTIM_READY"]).write_text(json.dumps(lab[1]))
    assert os.environ["VICTIM_MODE"] != "fail", "failing on purpose, with the lab up"
    time.sleep(300)  # until a signal ends the run


def test_leaker():
    leaked = subprocess.Popen(["sleep", "300"])  # never stopped: the session's end must catch it
    Path(os.environ["VICTIM_READY"]).write_text(str(leaked.pid))
