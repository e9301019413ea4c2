"""The remote collector and the local one, on the same lab node, give the same answer.

Every fixture node runs in the lab; each is read once over SSH and once by the local
collector run inside the node's own namespaces (nsenter), and the reports must match.
"""

import json
import subprocess
import sys

import pytest

from tests.cli_helpers import run
from tests.lab_helpers import running_lab


@pytest.fixture(scope="module")
def fixtures_lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("lab"), "fixtures", "127.0.7.10") as found:
        yield found


def comparable(doc):
    """A node report minus the removal commands' time stamp and the network source."""
    doc = dict(doc)
    doc.pop("network")  # psutil here, `ip` there: the same facts, compared below
    doc.pop("collection")  # local here, ssh there
    doc["static_pods"] = [{k: v for k, v in pod.items() if k != "remove"} for pod in doc["static_pods"]]
    return doc


def test_every_fixture_node_reads_the_same_over_ssh_and_locally(fixtures_lab):
    lab, state = fixtures_lab
    proc = run("sweep", "--inventory", str(lab / "inventory"), "--ssh-config", str(lab / "ssh_config"), "-o", "json")
    assert proc.returncode in (0, 1, 3), proc.stderr  # the fixtures carry findings on purpose
    remote = {n["hostname"]: n for n in json.loads(proc.stdout)["nodes"]}
    assert len(remote) == len(state["nodes"]) == 12
    for node in state["nodes"]:
        inside = node["host_pids"][0]  # the node's init: its namespaces are the node's
        local = subprocess.run(
            ["nsenter", "-t", str(inside), "-m", "-u", "-p", "--", sys.executable, "-m", "podaudit",
             "node", "-o", "json"], capture_output=True, text=True, timeout=60)
        assert local.stdout, local.stderr
        here = json.loads(local.stdout)
        there = remote[node["hostname"]]
        assert comparable(here) == comparable(there), node["name"]
        assert here["network"]["node_interface"] == there["network"]["node_interface"]
