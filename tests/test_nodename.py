"""The kubelet's node name (kubelet/nodename.py): GetHostname, the cloud providers by kubelet
version, and the API's Node confirming or correcting it. The upstream rows are in
tests/test_corpus_nodenames.py; these cover podaudit's own side (how it says it, hostile input)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.nodename import NodeName, gate_from_flag, minor_of, resolve_node_name
from podaudit.model import ApiNodeFacts, Arg, Interface, NodeHints, NodeSnapshot, Step
from tests.cli_helpers import run_json
from tests.stub_api import DEMO_API


def name_for(words: list[str], hostname: str | None = "Host-A", hints: NodeHints | None = None,
             interfaces: tuple[Interface, ...] = (), source: str = "/etc/default/kubelet") -> NodeName:
    args = tuple(Arg(w, Step(w, source)) for w in words)
    snap = NodeSnapshot("label", hostname, interfaces=list(interfaces))
    return resolve_node_name(parse_args(words), args, snap, hints)


def api(*nodes: ApiNodeFacts, reached: ApiNodeFacts | None = None) -> NodeHints:
    return NodeHints(None, None, reached, nodes, True)


AWS_NODE = ApiNodeFacts("ip-10-0-1-23.ec2.internal", (("Hostname", "ip-10-0-1-23.ec2.internal"),
                                                      ("InternalIP", "10.0.1.23")), "v1.26.5-eks-1234")
OTHER = ApiNodeFacts("ip-10-0-9-9.ec2.internal", (("InternalIP", "10.0.9.9"),), "v1.26.5-eks-1234")
ETH0 = Interface("eth0", ("10.0.1.23/24",))


def test_override_is_trimmed_and_lowercased() -> None:
    name = name_for(["--hostname-override", " Worker-7 "])
    assert (name.value, name.fatal, name.decided_by) == ("worker-7", False, "settings")


def test_empty_override_falls_back_to_the_hostname() -> None:
    name = name_for(["--hostname-override="])
    assert (name.value, name.problems) == ("host-a", ())


def test_blank_override_stops_the_kubelet() -> None:
    name = name_for(["--hostname-override=   "])
    assert name.fatal and "empty hostname is invalid" in name.problems[0].text()


def test_unknown_hostname_uses_the_label_and_says_so() -> None:
    name = name_for([], hostname=None)
    assert name.value == "label" and name.problems and name.guessed


def test_aws_name_is_found_by_the_machines_address() -> None:
    name = name_for(["--cloud-provider=aws"], "ip-10-0-1-23", api(OTHER, AWS_NODE), (ETH0,))
    assert (name.value, name.decided_by, name.fatal) == ("ip-10-0-1-23.ec2.internal", "api", False)
    said = " ".join(s.what for s in name.provenance)
    assert "the EC2 instance's private DNS name, taken from the API Node object" in said
    assert "InternalIP address matches" in said


def test_aws_name_is_the_node_it_was_reached_as() -> None:
    name = name_for(["--cloud-provider=aws"], "whatever", api(OTHER, AWS_NODE, reached=AWS_NODE))
    assert (name.value, name.confirmed) == ("ip-10-0-1-23.ec2.internal", True)


def test_aws_ignores_the_override() -> None:
    name = name_for(["--cloud-provider=aws", "--hostname-override=mine"], "h", api(AWS_NODE, reached=AWS_NODE))
    assert name.value == "ip-10-0-1-23.ec2.internal"


def test_aws_without_the_api_is_a_guess_that_says_why() -> None:
    name = name_for(["--cloud-provider=aws"], "ip-10-0-1-23")
    assert (name.value, name.guessed, name.fatal) == ("ip-10-0-1-23", True, False)
    text = " ".join(p.text() for p in name.problems)
    assert "private DNS name" in text and "kubelets from 1.27 exit" in text


def test_two_nodes_with_the_machines_addresses_decide_nothing() -> None:
    twin = ApiNodeFacts("twin", (("InternalIP", "10.0.1.23"),), "v1.26.1")
    name = name_for(["--cloud-provider=aws"], "ip-10-0-1-23", api(AWS_NODE, twin), (ETH0,))
    assert name.guessed


def test_loopback_addresses_match_no_node() -> None:
    local = ApiNodeFacts("local", (("InternalIP", "127.0.0.1"),), "v1.26.1")
    name = name_for(["--cloud-provider=aws"], "h", api(local), (Interface("lo", ("127.0.0.1/8",)),))
    assert name.guessed


def test_the_api_confirms_a_hostname_name() -> None:
    node = ApiNodeFacts("host-a", (), "v1.31.4")
    name = name_for([], "Host-A", api(node))
    assert (name.value, name.confirmed) == ("host-a", True)
    assert name.provenance[-1].what == "the API has a Node host-a: node name confirmed"


def test_the_api_knowing_the_machine_by_another_name_is_said() -> None:
    node = ApiNodeFacts("worker-1", (("InternalIP", "10.0.1.23"),), "v1.31.4")
    name = name_for([], "Host-A", api(node), (ETH0,))
    assert (name.value, name.decided_by) == ("host-a", "settings")
    assert "the API knows this machine as Node worker-1" in name.problems[0].text()


def test_a_fatal_provider_names_the_word_and_where() -> None:
    newer = ApiNodeFacts("n", (), "v1.27.3")
    name = name_for(["--cloud-provider=aws"], "n", api(newer, reached=newer))
    [problem] = name.problems
    assert name.fatal and problem.path == "/etc/default/kubelet"
    assert problem.text() == ('/etc/default/kubelet: the kubelet exits at start (kubelet v1.27.3): unknown cloud '
                              'provider "aws" (word --cloud-provider=aws)')


def test_a_running_kubelet_with_a_fatal_word_proves_podaudit_wrong() -> None:
    newer = ApiNodeFacts("n", (), "v1.27.3")
    name = name_for(["--cloud-provider=aws"], "n", api(newer, reached=newer), source="/proc/42/cmdline")
    assert not name.fatal and "yet the kubelet runs with it" in name.problems[0].text()


def test_versions_and_gates_are_read_from_hostile_text() -> None:
    assert [minor_of(v) for v in ("v1.26.5-eks-1", "v1.29.3+k3s1", "1.30", "v2.0.0", "", "v1.x", "v1.2" + "9" * 9)] \
        == [26, 29, 30, None, None, None, None]
    flag = parse_args(["--feature-gates= DisableCloudProviders = false ,X=true,DisableCloudProviders=junk"])
    assert gate_from_flag(flag.get("feature-gates"), None) is False
    assert gate_from_flag(None, {"DisableCloudProviders": "false"}) is None  # not a YAML bool: not set
    assert gate_from_flag(None, {"DisableCloudProviders": False}) is False


def test_hostile_hints_never_crash() -> None:
    junk = ApiNodeFacts("", (("InternalIP", ""), ("Hostname", "")), "v1." + "9" * 500)
    for words in (["--cloud-provider=aws"], ["--cloud-provider=vsphere"], ["--cloud-provider=\x00"], []):
        name = name_for(words, "", api(junk, reached=junk), (Interface("x", ("junk",)),))
        assert isinstance(name.value, str)


# -- end to end: a cluster snapshot whose node an in-tree aws provider named ------------------

AWS_NAME = "ip-10-0-1-23.ec2.internal"


def aws_snapshot(root: Path, folder: str, *, api_node: bool) -> Path:
    """The demo cluster with node01 an EC2 instance (hostname ip-10-0-1-23) whose kubelet 1.26 runs
    with --cloud-provider=aws, so the API knows it (and its mirror pods) as AWS_NAME."""
    shutil.copytree(DEMO_API.parent, root, symlinks=True)
    node = root / "nodes" / folder
    (root / "nodes" / "node01").rename(node)
    (node / "proc/sys/kernel/hostname").write_text("ip-10-0-1-23\n")
    cmdline = node / "proc/1042/cmdline"
    cmdline.write_bytes(cmdline.read_bytes() + b"--cloud-provider=aws\0")
    flags = node / "var/lib/kubelet/kubeadm-flags.env"
    flags.write_text(flags.read_text().replace('"\n', ' --cloud-provider=aws"\n'))
    api = root / "api"
    for path in [api / "pods.json", api / "nodes.json", *api.glob("*/node01.json")]:
        path.write_text(path.read_text().replace("node01", AWS_NAME))
        if path.name == "node01.json":
            path.rename(path.with_name(f"{AWS_NAME}.json"))
    nodes = json.loads((api / "nodes.json").read_text())
    for item in nodes["items"]:
        if item["metadata"]["name"] == AWS_NAME:
            item["status"]["nodeInfo"]["kubeletVersion"] = "v1.26.5-eks-1234"
    nodes["items"] = [n for n in nodes["items"] if api_node or n["metadata"]["name"] != AWS_NAME]
    (api / "nodes.json").write_text(json.dumps(nodes))
    return root


def test_an_aws_named_node_is_confirmed_from_the_api(tmp_path: Path) -> None:
    _, doc = run_json("--snapshot", str(aws_snapshot(tmp_path / "c", AWS_NAME, api_node=True)), "sweep")
    [node] = [n for n in doc["nodes"] if n["hostname"] == "ip-10-0-1-23"]
    assert node["node"] == AWS_NAME
    said = [s["what"] for s in node["node_name_provenance"]]
    assert said[-1] == (f"cloud provider aws: the EC2 instance's private DNS name, taken from the API Node object "
                        f"(the Node podaudit reached as {AWS_NAME}): node name {AWS_NAME}")
    assert [f for f in doc["findings"] if f["id"] == "PA301"] == []  # its mirror pods carry that name
    assert {p["state"] for p in node["static_pods"]} == {"running"}


def test_no_high_pa301_on_a_name_podaudit_guessed(tmp_path: Path) -> None:
    """The API lists no Node for this machine: the kubelet's name (the private DNS name) is not
    known here, so the missing mirror pods may just be named otherwise: low, "cannot tell"."""
    _, doc = run_json("--snapshot", str(aws_snapshot(tmp_path / "c", "ip-10-0-1-23", api_node=False)), "sweep")
    [node] = [n for n in doc["nodes"] if n["hostname"] == "ip-10-0-1-23"]
    assert node["node"] == "ip-10-0-1-23"
    assert any("private DNS name" in p and "guessed node name ip-10-0-1-23" in p for p in node["problems"])
    [found] = [f for f in doc["findings"] if f["id"] == "PA301"]
    assert found["severity"] == "low"
    assert found["message"].startswith("cannot tell: podaudit guessed the node name ip-10-0-1-23")
