"""The API's Nodes indexed once per run (kubelet/nodeindex.py): a machine reached by an IP, by
a Hostname address, or whose address two Nodes share, gets the node name and the words it
always got, and the Node list is walked once per run, not once per node reached."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from podaudit.collect.source import read_node
from podaudit.kubelet.nodeindex import ApiNodeIndex
from podaudit.model import ApiNodeFacts, Interface
from podaudit.run.select import snapshot_cluster
from tests.cli_helpers import run_json
from tests.stub_api import DEMO_API
from tests.test_nodename import AWS_NAME, AWS_NODE, ETH0, OTHER, api, aws_snapshot, name_for

AWS = ["--cloud-provider=aws"]
TAKEN = "cloud provider aws: the EC2 instance's private DNS name, taken from the API Node object ({}): node name {}"


def test_a_machine_reached_by_ip_is_found_by_its_internal_ip() -> None:
    name = name_for(AWS, "ip-10-0-1-23", api(OTHER, AWS_NODE), (ETH0,))
    assert (name.value, name.decided_by, name.kubelet_minor) == (AWS_NAME, "api", 26)
    assert name.provenance[-1].what == TAKEN.format("its InternalIP address matches this machine", AWS_NAME)


def test_a_machine_is_found_by_its_hostname_address_lowercased() -> None:
    name = name_for(AWS, " IP-10-0-1-23.EC2.Internal\n", api(OTHER, AWS_NODE))
    assert (name.value, name.decided_by) == (AWS_NAME, "api")
    assert name.provenance[-1].what == TAKEN.format("its Hostname address matches this machine", AWS_NAME)
    both = name_for(AWS, "ip-10-0-1-23.ec2.internal", api(AWS_NODE), (ETH0,))
    assert both.provenance[-1].what == TAKEN.format("its Hostname and InternalIP address matches this machine",
                                                    AWS_NAME)


def test_every_kind_of_address_that_matches_is_said_once_the_node_is_found() -> None:
    node = ApiNodeFacts("n-1", (("ExternalIP", "10.0.1.23"), ("InternalIP", "10.0.1.23")), "v1.26.1")
    name = name_for(AWS, "h", api(node), (ETH0,))
    assert name.provenance[-1].what == TAKEN.format("its ExternalIP and InternalIP address matches this machine",
                                                    "n-1")


def test_only_internal_ip_and_hostname_addresses_find_a_machine() -> None:
    for kind in ("ExternalIP", "InternalDNS", "ExternalDNS"):
        node = ApiNodeFacts("n-1", ((kind, "10.0.1.23"), (kind + "2", "host-a")), "v1.26.1")
        name = name_for(AWS, "Host-A", api(node), (ETH0,))
        assert (name.value, name.decided_by, name.kubelet_minor) == ("host-a", "guess", None), kind


def test_an_address_two_nodes_share_finds_neither() -> None:
    twin = ApiNodeFacts("ip-10-0-1-99.ec2.internal", (("InternalIP", "10.0.1.23"),), "v1.26.5")
    name = name_for(AWS, "ip-10-0-1-23", api(AWS_NODE, twin), (ETH0,))
    assert (name.value, name.decided_by, name.kubelet_minor) == ("ip-10-0-1-23", "guess", None)
    assert any("the API lists no Node for this machine; guessed node name ip-10-0-1-23" in p.detail
               for p in name.problems)
    # Two Nodes whose Hostname addresses differ only in case are one address: neither is this machine.
    upper, lower = (ApiNodeFacts(n, (("Hostname", h),)) for n, h in (("n-a", "WORKER-7"), ("n-b", "worker-7")))
    assert name_for([], "worker-7", api(upper, lower)).problems == ()
    alone = name_for([], "worker-7", api(upper))
    assert [p.detail for p in alone.problems] == [
        "the API knows this machine as Node n-a (its Hostname address matches this machine), but these settings "
        "name it worker-7"]


def test_a_node_name_the_api_lists_is_confirmed_without_being_reached_by_it() -> None:
    name = name_for([], "Host-A", api(OTHER, ApiNodeFacts("host-a")), (Interface("lo", ("127.0.0.1/8",)),))
    assert (name.value, name.decided_by) == ("host-a", "api")
    assert name.provenance[-1].what == "the API has a Node host-a: node name confirmed"


def test_a_snapshot_folder_named_by_an_ip_finds_its_node(tmp_path: Path) -> None:
    _, doc = run_json("--snapshot", str(aws_snapshot(tmp_path / "c", "192.168.121.11", api_node=True)), "sweep")
    [node] = [n for n in doc["nodes"] if n["hostname"] == "ip-10-0-1-23"]
    assert node["node"] == AWS_NAME
    said = [s["what"] for s in node["node_name_provenance"]]
    assert said[-1] == TAKEN.format("its InternalIP address matches this machine", AWS_NAME)


# -- a fleet reached by IP: the Node list is walked once per run -------------------------------


def ip_fleet(root: Path, folders: int, nodes: int) -> Path:
    """``nodes`` Nodes w-<i> (InternalIP 10.1.<i>, Hostname w-<i>); the first ``folders`` of them
    in nodes/ as the demo's node01, each folder named by its Node's InternalIP."""
    (root / "api").mkdir(parents=True)
    ips = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(nodes)]
    items = [{"metadata": {"name": f"w-{i}"}, "status": {"addresses": [
        {"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": f"w-{i}"}],
        "nodeInfo": {"kubeletVersion": "v1.29.1"}}} for i, ip in enumerate(ips)]
    (root / "api" / "nodes.json").write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    for i, ip in enumerate(ips[:folders]):
        node = root / "nodes" / ip
        shutil.copytree(DEMO_API.parent / "nodes" / "node01", node, symlinks=True)
        (node / "proc/sys/kernel/hostname").write_text(f"w-{i}\n")
        meta = json.loads((node / "podaudit.meta.json").read_text())
        meta["interfaces"] = {"eth0": [f"{ip}/16"]}
        (node / "podaudit.meta.json").write_text(json.dumps(meta))
    return root


def walks(monkeypatch: pytest.MonkeyPatch, root: Path) -> tuple[int, list[str]]:
    """How many times the run walks the Node index, and each node's name and how it was decided."""
    count = 0
    plain = ApiNodeIndex.__iter__

    def counted(self: ApiNodeIndex) -> Iterator[ApiNodeFacts]:
        nonlocal count
        count += 1
        return plain(self)

    monkeypatch.setattr(ApiNodeIndex, "__iter__", counted)
    cluster = snapshot_cluster(str(root))
    views = [read_node(node).view for node in cluster.nodes]
    monkeypatch.undo()
    return count, [f"{v.node_name.value} {v.node_name.decided_by}" for v in views if v is not None]


def test_the_node_list_is_walked_once_per_run_not_per_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    few, named_few = walks(monkeypatch, ip_fleet(tmp_path / "few", 2, 40))
    many, named_many = walks(monkeypatch, ip_fleet(tmp_path / "many", 12, 40))
    assert sorted(named_many) == sorted(f"w-{i} api" for i in range(12))
    assert sorted(named_few) == ["w-0 api", "w-1 api"]
    assert few == many  # building the index: the same count for 2 machines as for 12


def test_a_worker_chunk_does_not_carry_the_node_list(tmp_path: Path) -> None:
    """Worker processes get nodes pickled ten at a time: the Nodes travel once per worker, as a
    file, so a chunk weighs the same with 20 Nodes in the API as with 2,000."""
    from multiprocessing.reduction import ForkingPickler

    from podaudit.run.nodes_file import register

    register()  # as run/worker.py does before it starts a worker

    def chunk_bytes(nodes: int) -> int:
        cluster = snapshot_cluster(str(ip_fleet(tmp_path / f"n{nodes:04}", 10, nodes)))
        chunk = list(enumerate(cluster.nodes))
        sent = bytes(ForkingPickler.dumps(chunk))  # what Connection.send writes to a worker
        back = [n.hints for _, n in pickle.loads(sent)]
        assert back == [n.hints for n in cluster.nodes]  # type: ignore[attr-defined]
        return len(sent)

    assert chunk_bytes(2000) == chunk_bytes(20)


def test_worker_processes_find_each_node_reached_by_ip(tmp_path: Path) -> None:
    """100 snapshot nodes are read in worker processes (run/sweep.py): each worker reads the
    Nodes from the run's one file and names every machine as one process would."""
    root = ip_fleet(tmp_path / "fleet", 100, 300)
    temp = tmp_path / "tmp"
    temp.mkdir()
    _, doc = run_json("--snapshot", str(root), "sweep", env={"TMPDIR": str(temp)})
    named = {n["hostname"]: (n["node"], n["node_name_decided_by"]) for n in doc["nodes"]}
    assert named == {f"w-{i}": (f"w-{i}", "api") for i in range(100)} and doc["unavailable"] == []
    assert list(temp.iterdir()) == []  # the run's file of Nodes is gone with it
