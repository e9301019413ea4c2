"""Hostile values from inventories, the API and the user's own files.

A node's addresses reach a ProxyCommand that ``sh`` runs: a compromised kubelet sets its own
Node's InternalIP, an inventory may be generated from such data. Each hostile entry must cost
only its own node (one line, PA901, exit 3) and run nothing. The user's files (ssh_config,
known_hosts, identities, inventory) must be regular files of sane size: /dev/zero or a FIFO
is one line and exit 2, never a hang or all the memory. A node, or a debug pod's log, that
answers with an endless stream costs only that node.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from podaudit.errors import NodeUnavailable
from podaudit.transport import SshError, SshOptions
from podaudit.transport.sshconfig import load_ssh_config, resolve_target
from tests import stub_api
from tests.cli_helpers import PODAUDIT, SCHEMA
from tests.lab_helpers import running_lab, why_no_lab
from tests.test_ssh_transport import RELAY

FIRST_ADDRESS = "127.0.23.10"
MEMORY_LIMIT = 3 << 30  # address space of each podaudit run: reading /dev/zero would hit it, not the machine's


def podaudit(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI in tmp_path (a command a hostile value ran would write there), an empty HOME, no
    kubeconfig, and bounded memory."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": "", "KUBECACHEDIR": str(tmp_path / "cache"),
           "COLUMNS": "200"}
    env.pop("SSH_AUTH_SOCK", None)

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run([*PODAUDIT, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          env=env, preexec_fn=bounded)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# -- the transport: no value reaches sh unchecked, plain values pass unchanged ---------------------


def proxy_config(tmp_path: Path, command: str) -> str:
    path = tmp_path / "proxy_config"
    path.write_text(f"Host *\n  ProxyCommand {command}\n")
    return str(path)


@pytest.mark.parametrize("address", ["127.0.0.1$(touch CANARY)", "`touch CANARY`", "a;touch CANARY", "-oFoo",
                                     "a b", "a'b"])
def test_proxy_command_refuses_a_hostile_token_value(tmp_path: Path, address: str) -> None:
    config = load_ssh_config(proxy_config(tmp_path, "nc %h %p"))
    with pytest.raises(SshError) as caught:
        resolve_target("node-1", SshOptions(), config, address=address)
    assert caught.value.kind == "config"
    assert "%h" in caught.value.message and repr(address) in caught.value.message
    assert "\n" not in caught.value.message


def test_proxy_command_keeps_plain_values_as_openssh_writes_them(tmp_path: Path) -> None:
    config = load_ssh_config(proxy_config(tmp_path, "nc %h %p # %r %n %%"))
    for address in ("10.0.0.1", "fd00::1", "node-1.example.com", "fe80::1%eth0"):
        target = resolve_target("node-1", SshOptions(user="ops_1"), config, address=address, port=2222)
        assert target.proxy_command == f"nc {address} 2222 # ops_1 node-1 %"


# -- the whole CLI against real nodes, with a real ProxyCommand run by sh ----------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    reason = why_no_lab()
    if reason is not None:
        pytest.skip(reason)
    with running_lab(tmp_path_factory.mktemp("hostilelab"), "greenbox", FIRST_ADDRESS) as found:
        yield found


@pytest.fixture
def relayed(lab: tuple[Path, dict[str, Any]], tmp_path: Path) -> tuple[Path, Path]:
    """(ssh_config, relay log): the lab's config, every host reached through a ProxyCommand that
    hands %h to a second sh, as `sh -c "nc %h %p"` wrappers do."""
    relay, marker = tmp_path / "relay.py", tmp_path / "relay.log"
    relay.write_text(RELAY)
    config = tmp_path / "ssh_config"
    config.write_text((lab[0] / "ssh_config").read_text()
                      + f'\nHost *\n  ProxyCommand sh -c "{sys.executable} {relay} %h %p {marker}"\n')
    return config, marker


def address_of(lab: tuple[Path, dict[str, Any]], name: str) -> str:
    return str(next(n["address"] for n in lab[1]["nodes"] if n["name"] == name))


def sweep(tmp_path: Path, config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = podaudit(tmp_path, "--ssh-config", str(config), "--output", "json", "sweep", "--no-api", *args)
    assert proc.stdout, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return proc.returncode, doc


def assert_only_evil_refused(code: int, doc: dict[str, Any], canary: Path, bad: str) -> None:
    assert not canary.exists()  # nothing the value said was run
    assert code == 3  # one node not audited; the report covers the rest
    [failure] = doc["unavailable"]
    assert failure["kind"] == "config" and repr(bad) in failure["message"] and "\n" not in failure["message"]
    assert [n["node"] for n in doc["nodes"]] == ["node01"]
    assert [f["id"] for f in doc["findings"] if f["node"] == failure["node"]] == ["PA901"]


def test_inventory_address_with_a_command_substitution_runs_nothing(
        lab: tuple[Path, dict[str, Any]], relayed: tuple[Path, Path], tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    bad = f"127.0.0.1$(touch {canary})"
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"node01": None, "evil": {"ansible_host": bad}}}}))
    code, doc = sweep(tmp_path, relayed[0], "--inventory", str(inventory))
    assert_only_evil_refused(code, doc, canary, bad)
    # The valid node went through the same ProxyCommand, its values unchanged.
    assert relayed[1].read_text() == f"{address_of(lab, 'node01')} 22\n"


def test_nodes_json_internal_ip_with_backticks_runs_nothing(
        lab: tuple[Path, dict[str, Any]], relayed: tuple[Path, Path], tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    bad = f"`touch {canary}`"
    items = [{"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": address}]}}
             for name, address in (("node01", address_of(lab, "node01")), ("evil", bad))]
    inventory = tmp_path / "nodes.json"
    inventory.write_text(json.dumps({"kind": "List", "items": items}))
    code, doc = sweep(tmp_path, relayed[0], "--inventory", str(inventory))
    assert_only_evil_refused(code, doc, canary, bad)
    assert "InternalIP" in doc["unavailable"][0]["message"]


def test_host_name_with_a_semicolon_runs_nothing(relayed: tuple[Path, Path], tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    bad = f"evil;>{canary};#"  # the second sh runs ">CANARY", which creates it
    inventory = tmp_path / "hosts"
    inventory.write_text(f"node01\n{bad}\n")
    code, doc = sweep(tmp_path, relayed[0], "--inventory", str(inventory))
    assert_only_evil_refused(code, doc, canary, bad)
    code, doc = sweep(tmp_path, relayed[0], "--nodes", f"node01,{bad}")
    assert_only_evil_refused(code, doc, canary, bad)


def test_a_node_that_sets_a_hostile_internal_ip_in_the_api_runs_nothing(
        lab: tuple[Path, dict[str, Any]], relayed: tuple[Path, Path], tmp_path: Path, kubectl_bin: str) -> None:
    canary = tmp_path / "CANARY"
    bad = f"10.0.0.1$(touch {canary})"
    with stub_api.running() as server:
        for node in server.lists["nodes"]["items"]:
            for address in node["status"]["addresses"]:
                if address["type"] == "InternalIP":  # what a compromised kubelet may write in its Node status
                    address["address"] = address_of(lab, "node01") if node["metadata"]["name"] == "node01" else bad
        kubeconfig = str(server.kubeconfig(tmp_path / "kubeconfig"))
        proc = podaudit(tmp_path, "--ssh-config", str(relayed[0]), "--output", "json", "sweep", "--kubeconfig",
                        kubeconfig, "--kubectl", kubectl_bin, "--fail-on", "critical")
    doc = json.loads(proc.stdout)
    assert not canary.exists()
    assert proc.returncode == 3, proc.stderr
    [failure] = doc["unavailable"]
    assert failure["node"] == "controlplane" and repr(bad) in failure["message"]
    assert "the API's InternalIP" in failure["message"]
    assert [n["node"] for n in doc["nodes"]] == ["node01"]


# -- the user's own files: regular, and of sane size ---------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big"
    path.write_bytes(b"# padding\n" * (2 << 20))  # 20 MiB of valid comment lines
    return path


def assert_refused(tmp_path: Path, args: list[str], named: str, why: str) -> None:
    start = time.monotonic()
    proc = podaudit(tmp_path, *args, timeout=30)
    line = one_line(proc)
    assert proc.returncode == 2, proc.stderr
    assert named in line and why in line, line
    assert time.monotonic() - start < 15


NODES = ["sweep", "--no-api", "--nodes", "node-1.invalid"]


@pytest.mark.parametrize("option", ["--ssh-config", "--known-hosts", "--identity"])
def test_dev_zero_as_an_ssh_file_is_one_line(tmp_path: Path, option: str) -> None:
    assert_refused(tmp_path, [option, "/dev/zero", *NODES], f"{option} /dev/zero", "not a regular file")


@pytest.mark.parametrize("option", ["--ssh-config", "--known-hosts", "--identity", "--inventory"])
def test_a_fifo_is_one_line_and_no_hang(tmp_path: Path, fifo: Path, option: str) -> None:
    nodes = ["sweep", "--no-api"] if option == "--inventory" else NODES
    assert_refused(tmp_path, [option, str(fifo), *nodes], f"{option} {fifo}", "not a regular file")


@pytest.mark.parametrize("option", ["--ssh-config", "--known-hosts", "--inventory"])
def test_a_20_mib_file_is_one_line(tmp_path: Path, big: Path, option: str) -> None:
    nodes = ["sweep", "--no-api"] if option == "--inventory" else NODES
    assert_refused(tmp_path, [option, str(big), *nodes], f"{option} {big}", "larger than 16 MiB")


def test_an_include_of_dev_zero_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  User ops\nInclude /dev/zero\n")
    assert_refused(tmp_path, ["--ssh-config", str(config), *NODES], f"{config}:3", "not a regular file")


def test_dev_null_still_means_an_empty_file(tmp_path: Path) -> None:
    """`ssh -F /dev/null` and `UserKnownHostsFile /dev/null` are common: they keep working."""
    proc = podaudit(tmp_path, "--ssh-config", "/dev/null", "--known-hosts", "/dev/null", "--timeout", "2", *NODES)
    assert proc.returncode == 3, proc.stderr  # the node name does not resolve: that node only
    assert "node-1.invalid" in proc.stderr + proc.stdout


def test_a_huge_port_is_one_line_on_the_command_line(tmp_path: Path) -> None:
    proc = podaudit(tmp_path, "sweep", "--no-api", "--nodes", "node-1:" + "9" * 5000)
    assert proc.returncode == 2 and "is not a port number" in one_line(proc)


# -- a debug pod's endless log costs only its node ---------------------------------------------------


def test_an_endless_debug_pod_log_is_cut_at_the_cap(tmp_path: Path, kubectl_bin: str) -> None:
    from podaudit.collect.over_kubectl_debug import DebugNode
    from podaudit.model import FailureKind
    from podaudit.transport.debug import DebugOptions
    from podaudit.transport.debug_pods import cleanup_debug_pods
    from podaudit.transport.kubectl import KubectlOptions
    from podaudit.transport.limits import MAX_NODE_STDOUT

    flood = b"QUFB" * (MAX_NODE_STDOUT // 2)  # base64 of twice the cap, in one line

    def kubelet(pod: dict[str, Any], cancel: threading.Event) -> tuple[bytes, int]:
        return flood, 0

    with stub_api.running() as server:
        server.kubelet = kubelet
        opts = KubectlOptions(kubeconfig=str(server.kubeconfig(tmp_path / "kubeconfig")), kubectl=kubectl_bin,
                              timeout=30)
        node = DebugNode("node01", opts, DebugOptions(timeout=30), "hostilelog")
        start = time.monotonic()
        try:
            with pytest.raises(NodeUnavailable) as caught:
                node.load()
        finally:
            cleanup_debug_pods()
    assert time.monotonic() - start < 30
    assert caught.value.kind is FailureKind.GATHER
    assert f"more than {MAX_NODE_STDOUT >> 20} MiB" in caught.value.message
