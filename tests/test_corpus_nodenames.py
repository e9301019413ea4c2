"""Issue 14 class 4, node names: the name the kubelet registers (and suffixes mirror pods with),
by kubelet version and --cloud-provider, and whether it cannot start at all.

cmd/kubelet/app/server.go ``run`` (the 1.29-era copy: InitCloudProvider, then GetHostname,
then ``getNodeName``, which asks the cloud's ``Instances().CurrentNodeName(hostname)`` when a
cloud was made) ties the rows together; each row names the function that decides it. The
kubelet's version is the API Node's ``status.nodeInfo.kubeletVersion``.

Sources read: kubernetes/component-helpers @1961876b; kubernetes/cloud-provider tags
v0.25.0-v0.31.0 (= kubelet 1.25-1.31); kubernetes/legacy-cloud-providers tags v0.25.0-v0.30.0;
pkg/features kube_features.go's versioned DisableCloudProviders spec (Alpha/false 1.22,
Beta/true 1.29, GA locked 1.31) and pkg/kubelet/kubelet.go NewMainKubelet's check (index
copies, no line numbers: the kubernetes repository is too big to fetch here).
"""

from __future__ import annotations

from dataclasses import dataclass

from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.nodename import NodeName, resolve_node_name
from podaudit.model import ApiNodeFacts, Arg, Interface, NodeHints, NodeSnapshot, Step
from tests.corpus import Case, cases

CH = "staging/src/k8s.io/component-helpers/node/util/hostname.go GetHostname"
CP = "staging/src/k8s.io/cloud-provider/plugins.go"
LEGACY = "staging/src/k8s.io/legacy-cloud-providers"
DISABLED = ('cloud provider "{}" was specified, but built-in cloud providers are disabled. Please set '
            "--cloud-provider=external and migrate to an external cloud provider")


@dataclass(frozen=True)
class Node:
    """A machine: the kubelet's words, its hostname and address, and the API's Node for it."""

    words: tuple[str, ...]
    hostname: str = "Node-1"
    version: str = ""  # the kubeletVersion of the API's Node for this machine ("" : no API)
    api_name: str = "ip-10-0-1-23.ec2.internal"


@dataclass(frozen=True)
class Want:
    name: str  # the node name ("" when the kubelet exits)
    exits: str = ""  # the kubelet's message when it cannot start
    guessed: bool = False  # podaudit could not tell the name


def resolve(node: Node) -> NodeName:
    args = tuple(Arg(w, Step(w, "/etc/default/kubelet", 3)) for w in node.words)
    snap = NodeSnapshot("node-1", node.hostname, interfaces=[Interface("eth0", ("10.0.1.23/24",))])
    hints = None
    if node.version:
        facts = ApiNodeFacts(node.api_name, (("InternalIP", "10.0.1.23"),), node.version)
        hints = NodeHints("10.0.1.23", None, None, (facts,), True)
    return resolve_node_name(parse_args(list(node.words)), args, snap, hints)


def aws(version: str, *words: str) -> Node:
    return Node(("--cloud-provider=aws", *words), "ip-10-0-1-23", version)


ROWS = [
    # GetHostname: the hostname or a non-empty override, trimmed and lowercased.
    Case("hostname-lowercased", f"{CH} L28-46 (@1961876b)", Node(()), Want("node-1")),
    Case("override-trimmed-lowercased", f"{CH} L29-45 (@1961876b)",
         Node(("--hostname-override= Web.Example ",)), Want("web.example")),
    Case("empty-override-is-the-hostname", f"{CH} L30-36 (@1961876b)",
         Node(("--hostname-override=",)), Want("node-1")),
    Case("blank-override-exits", f"{CH} L40-43 (@1961876b)",
         Node(("--hostname-override=   ",)), Want("", "empty hostname is invalid")),
    # No cloud: InitCloudProvider returns nil for "" and "external", getNodeName keeps the hostname.
    Case("cloud-provider-empty", f"{CP} InitCloudProvider L140-142 (v0.27.0)",
         Node(("--cloud-provider=",), version="v1.27.1", api_name="node-1"), Want("node-1")),
    Case("cloud-provider-external", f"{CP} InitCloudProvider L144-147, IsExternal L88-90 (v0.27.0)",
         Node(("--cloud-provider=external", "--hostname-override=Web"), version="v1.31.4", api_name="web"),
         Want("web")),
    # aws: the EC2 instance's PrivateDnsName, whatever the hostname or the override.
    Case("aws-1.26-private-dns-name", f"{LEGACY}/aws/aws.go CurrentNodeName L955-957, mapInstanceToNodeName "
         "L4965-4967 (v0.26.0)", aws("v1.26.5-eks-1234"), Want("ip-10-0-1-23.ec2.internal")),
    Case("aws-1.26-ignores-override", f"{LEGACY}/aws/aws.go CurrentNodeName L955-957 (v0.26.0)",
         aws("v1.26.5", "--hostname-override=mine"), Want("ip-10-0-1-23.ec2.internal")),
    Case("aws-1.22-private-dns-name", f"{LEGACY}/aws/aws.go newAWSInstance L1958-1972 (v0.26.0); "
         f"{CP} deprecatedCloudProviders L38-49 (v0.25.0)", aws("v1.22.17"), Want("ip-10-0-1-23.ec2.internal")),
    Case("aws-without-api-is-guessed", f"{LEGACY}/aws/aws.go buildSelfAWSInstance L2365-2387 (v0.26.0)",
         aws(""), Want("ip-10-0-1-23", guessed=True)),
    Case("aws-1.27-exits", f"{CP} InitCloudProvider L136-173, unknown L168-170 (v0.27.0; aws/ gone from "
         f"{LEGACY} v0.27.0)", aws("v1.27.3"), Want("", 'unknown cloud provider "aws"')),
    # openstack: the metadata service's instance name; gone from 1.26.
    Case("openstack-1.25-metadata-name", f"{LEGACY}/openstack/openstack_instances.go CurrentNodeName L74-80 "
         "(v0.25.0)", Node(("--cloud-provider=openstack",), "node-1", "v1.25.16", "worker-a"), Want("worker-a")),
    Case("openstack-1.26-exits", f"{CP} InitCloudProvider L137-174, unknown L169-171 (v0.26.0; openstack/ "
         f"gone from {LEGACY} v0.26.0)", Node(("--cloud-provider=openstack",), version="v1.26.0"),
         Want("", 'unknown cloud provider "openstack"')),
    # gce and azure: CurrentNodeName returns the hostname it is given (the override counts).
    Case("gce-1.28-hostname", f"{LEGACY}/gce/gce_instances.go CurrentNodeName L489-491 (v0.28.0)",
         Node(("--cloud-provider=gce", "--hostname-override=GKE-1"), version="v1.28.9", api_name="gke-1"),
         Want("gke-1")),
    Case("gce-1.28-gate-on-exits", f"{CP} IsDeprecatedInternal L94-102 (v0.27.0); kubelet.go NewMainKubelet "
         "DisableCloudProviders check (Alpha 1.22)",
         Node(("--cloud-provider=gce", "--feature-gates=DisableCloudProviders=true"), version="v1.28.9"),
         Want("", DISABLED.format("gce"))),
    Case("gce-1.29-exits", f"{CP} IsDeprecatedInternal L94-102, deprecatedCloudProviders L38-47 (v0.29.0); "
         "DisableCloudProviders Beta default true (1.29)", Node(("--cloud-provider=gce",), version="v1.29.4"),
         Want("", DISABLED.format("gce"))),
    Case("gce-1.29-gate-off-hostname", f"{LEGACY}/gce/gce_instances.go CurrentNodeName L489-491 (v0.29.0)",
         Node(("--cloud-provider=gce", "--feature-gates=DisableCloudProviders=false"), version="v1.29.4",
              api_name="node-1"), Want("node-1")),
    Case("gce-1.30-gate-off-hostname", f"{LEGACY}/gce/gce_instances.go CurrentNodeName L489-491 (v0.30.0)",
         Node(("--cloud-provider=gce", "--feature-gates=DisableCloudProviders=false"), version="v1.30.2",
              api_name="node-1"), Want("node-1")),
    Case("gce-1.31-exits", f"{CP} deprecatedCloudProviders L38-45 (v0.31.0); DisableCloudProviders GA locked "
         "(1.31)", Node(("--cloud-provider=gce",), version="v1.31.4"), Want("", DISABLED.format("gce"))),
    Case("azure-1.28-hostname", f"{LEGACY}/azure/azure_instances.go CurrentNodeName L424-426 (v0.28.0)",
         Node(("--cloud-provider=azure",), "AKS-Node-0", "v1.28.3", "aks-node-0"), Want("aks-node-0")),
    Case("azure-1.30-exits", f"{CP} InitCloudProvider L134-171, unknown L166-168 (v0.30.0; azure/ gone from "
         f"{LEGACY} v0.30.0)", Node(("--cloud-provider=azure", "--feature-gates=DisableCloudProviders=false"),
                                    version="v1.30.1"), Want("", 'unknown cloud provider "azure"')),
    # vsphere: its own os.Hostname(), neither overridden nor lowercased.
    Case("vsphere-1.28-own-hostname", f"{LEGACY}/vsphere/vsphere.go CurrentNodeName L770-772, newWorkerNode "
         "L330-337 (v0.28.0)", Node(("--cloud-provider=vsphere", "--hostname-override=other"), "vm-7", "v1.28.2",
                                    "vm-7"), Want("vm-7")),
    Case("vsphere-1.28-keeps-case", f"{LEGACY}/vsphere/vsphere.go CurrentNodeName L770-772 (v0.28.0)",
         Node(("--cloud-provider=vsphere",), "VM-7", "v1.28.2", "vm-7"), Want("VM-7")),
    Case("vsphere-1.30-exits", f"{CP} InitCloudProvider L134-171 (v0.30.0; vsphere/ gone from {LEGACY} "
         "v0.30.0)", Node(("--cloud-provider=vsphere",), version="v1.30.0"),
         Want("", 'unknown cloud provider "vsphere"')),
    # A name no provider registered: GetCloudProvider returns nil, InitCloudProvider refuses it.
    Case("unregistered-provider-exits", f"{CP} GetCloudProvider L77-85, InitCloudProvider L168-170 (v0.27.0)",
         Node(("--cloud-provider=Foo",), version="v1.26.3"), Want("", 'unknown cloud provider "Foo"')),
]


@cases(ROWS)
def test_the_node_name_is_the_kubelets(case: Case) -> None:
    name = resolve(case.given)
    want: Want = case.want
    said = " ".join(p.text() for p in name.problems)
    if want.exits:
        assert name.fatal and want.exits in said, said
        return
    assert (name.value, name.fatal, name.guessed) == (want.name, False, want.guessed), said
