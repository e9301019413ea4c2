"""The kubelet's node name, which is the mirror pod suffix, and how podaudit knows it.

cmd/kubelet/app/server.go ``run``: with ``--cloud-provider`` neither empty nor ``external``
it first calls cloud-provider ``InitCloudProvider`` (an unregistered name:
``unknown cloud provider "x"``, and the kubelet exits), then component-helpers
``GetHostname`` (``--hostname-override`` when non-empty, else the hostname; trimmed and
lowercased; empty after trimming: ``empty hostname is invalid``), then ``getNodeName``: the
cloud's ``Instances().CurrentNodeName(hostname)`` when a cloud was made, else that hostname.
The legacy providers answer: aws the EC2 instance's PrivateDnsName, openstack the
metadata's instance name, gce and azure the hostname given, vsphere its own
``os.Hostname()``. Which of them exist, and whether ``NewMainKubelet`` refuses them
(``DisableCloudProviders``), depends on the kubelet's version (``cloud_fate``), known from
the API Node's ``status.nodeInfo.kubeletVersion``.

A name podaudit cannot derive from what it read (a cloud's) is taken from the API's Node
for this machine when the API lists one, else guessed: ``NodeName.decided_by`` says which,
and rules do not raise a high finding on a guessed name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from podaudit.kubelet.flags import GO_BOOLS, FlagValue, ParsedArgs
from podaudit.kubelet.gojson import go_trim_space
from podaudit.kubelet.launch import go_lower
from podaudit.kubelet.nodeindex import ApiNodeIndex
from podaudit.model import ApiNodeFacts, Arg, NodeHints, NodeSnapshot, Problem, ProblemKind, Step

# settings: the kubelet's own rule over what podaudit read (the hostname, --hostname-override);
# api: taken from, or confirmed by, the API's Node for this machine; guess: neither.
DecidedBy = Literal["settings", "api", "guess"]


@dataclass(frozen=True)
class NodeName:
    value: str
    provenance: tuple[Step, ...]
    problems: tuple[Problem, ...] = ()
    # The kubelet cannot start with these settings: it runs no pods at all.
    fatal: bool = False
    decided_by: DecidedBy = "settings"
    # The kubelet's 1.x release, as the API's Node for this machine says (None: unknown).
    kubelet_minor: int | None = None

    @property
    def guessed(self) -> bool:
        """podaudit could not tell the kubelet's name: nothing may be concluded from it."""
        return self.decided_by == "guess"

    @property
    def confirmed(self) -> bool:
        """The API's Node for this machine has this name."""
        return self.decided_by == "api"


@dataclass(frozen=True)
class _ApiMatch:
    node: ApiNodeFacts
    how: str  # how the Node was found, for people


def resolve_node_name(flags: ParsedArgs, args: tuple[Arg, ...], snapshot: NodeSnapshot,
                      hints: NodeHints | None = None, config_gates: Mapping[str, Any] | None = None) -> NodeName:
    """The name the kubelet registers and suffixes mirror pods with, and its release when the
    API says. ``config_gates`` is the kubelet config's ``featureGates`` when the caller has it
    (the flag wins over it)."""
    match = _api_match(snapshot, hints)
    name = _resolve(flags, args, snapshot, hints, config_gates, match)
    return replace(name, kubelet_minor=minor_of(match.node.kubelet_version)) if match else name


def _resolve(flags: ParsedArgs, args: tuple[Arg, ...], snapshot: NodeSnapshot, hints: NodeHints | None,
             config_gates: Mapping[str, Any] | None, match: _ApiMatch | None) -> NodeName:
    base = _from_hostname(flags, args, snapshot)
    cloud = flags.get("cloud-provider")
    if cloud is None or cloud.value in {"", "external"}:
        return _confirmed(base, match, hints)
    origin = args[cloud.index - 1].origin
    version = match.node.kubelet_version if match else ""
    fate = cloud_fate(cloud.value, minor_of(version), gate_from_flag(flags.get("feature-gates"), config_gates))
    # run(): InitCloudProvider (unknown cloud provider) comes before GetHostname (empty
    # hostname), which comes before NewMainKubelet (built-in cloud providers are disabled).
    if fate.exits is not None and (fate.exits.startswith("unknown") or not base.fatal):
        return _exits(fate.exits, origin, version, base, match, hints)
    if base.fatal:
        return base
    notes = (_doubt(f"--cloud-provider={cloud.value}: {fate.doubt}"),) if fate.doubt else ()
    if fate.names == "cloud":
        return _from_cloud(cloud.value, fate, origin, base, match, notes)
    if fate.names == "own-hostname":
        base = _own_hostname(cloud.value, origin, snapshot, base)
    else:
        base = replace(base, provenance=(origin, *base.provenance, Step(
            f"cloud provider {cloud.value} keeps the hostname as the node name (CurrentNodeName)", origin.source,
            origin.line)))
    named = _confirmed(base, match, hints)
    return replace(named, problems=(*notes, *named.problems))


def _from_hostname(flags: ParsedArgs, args: tuple[Arg, ...], snapshot: NodeSnapshot) -> NodeName:
    """component-helpers GetHostname: the override when non-empty, else the hostname."""
    override = flags.get("hostname-override")
    if override is not None and override.value:
        origin = args[override.index - 1].origin
        name = go_lower(go_trim_space(override.value))
        if not name:
            why = "--hostname-override is blank: the kubelet refuses to start (empty hostname is invalid)"
            return NodeName("", (origin,), (_doubt(why),), fatal=True)
        step = Step(f"node name {name} (--hostname-override, trimmed, lowercased)", origin.source, origin.line)
        return NodeName(name, (origin, step))
    hostname = go_trim_space(snapshot.hostname or "")
    if hostname:
        name = go_lower(hostname)
        step = Step(f"hostname {hostname} → node name {name}", "/proc/sys/kernel/hostname")
        return NodeName(name, (step,))
    label = snapshot.label
    step = Step(f"hostname unknown: using the snapshot's name {label}", "snapshot")
    return NodeName(label.lower(), (step,), (_doubt("hostname unknown: node name taken from the snapshot's name"),),
                    decided_by="guess")


def _exits(message: str, origin: Step, version: str, base: NodeName, match: _ApiMatch | None,
           hints: NodeHints | None) -> NodeName:
    """The kubelet stops at start with this provider: the problem names the word and quotes it.
    A kubelet process that runs with the word proves podaudit wrong: then it says so instead."""
    where = f" (kubelet {version})" if version else ""
    if origin.source.startswith("/proc/"):
        why = f"podaudit reads this word as fatal{where}, yet the kubelet runs with it: {message} ({origin.what})"
        named = _confirmed(replace(base, decided_by="guess"), match, hints)
        return replace(named, problems=(_doubt(why), *named.problems))
    detail = f"the kubelet exits at start{where}: {message} (word {origin.what})"
    return NodeName("", (origin,), (Problem(ProblemKind.NODE_NAME, origin.source or None, detail, origin.line),),
                    fatal=True)


def _from_cloud(provider: str, fate: CloudFate, origin: Step, base: NodeName, match: _ApiMatch | None,
                notes: tuple[Problem, ...]) -> NodeName:
    """A name only the cloud knows (aws, openstack): the API's Node for this machine, else a guess."""
    if match is not None:
        step = Step(f"cloud provider {provider}: {fate.what}, taken from the API Node object ({match.how}): "
                    f"node name {match.node.name}", "api")
        return NodeName(match.node.name, (origin, step), notes, decided_by="api")
    why = (f"--cloud-provider={provider}: the kubelet names this node by {fate.what}, which podaudit cannot read "
           f"here, and the API lists no Node for this machine; guessed node name {base.value}")
    step = Step(f"cloud provider {provider} names the node ({fate.what}); guessed {base.value}", origin.source,
                origin.line)
    return NodeName(base.value, (origin, *base.provenance, step), (*notes, _doubt(why)), decided_by="guess")


def _own_hostname(provider: str, origin: Step, snapshot: NodeSnapshot, base: NodeName) -> NodeName:
    """vsphere's CurrentNodeName is its own os.Hostname(): no override, not lowercased."""
    hostname = (snapshot.hostname or "").removesuffix("\n")
    if not go_trim_space(hostname):
        return replace(base, decided_by="guess")
    step = Step(f"cloud provider {provider}: the machine's own hostname {hostname} is the node name "
                "(--hostname-override ignored, case kept)", origin.source, origin.line)
    return NodeName(hostname, (origin, step))


def _confirmed(name: NodeName, match: _ApiMatch | None, hints: NodeHints | None) -> NodeName:
    """The API's word on a name derived from the settings: the same Node name confirms it; a
    Node for this machine under another name is said (the settings' name is what they do)."""
    if name.fatal or hints is None or not hints.nodes_loaded:
        return name
    reached = hints.api_node is not None and hints.api_node.name == name.value  # the usual case: no lookup
    if reached or name.value in ApiNodeIndex.of(hints.api_nodes).by_name:
        step = Step(f"the API has a Node {name.value}: node name confirmed", "api")
        return replace(name, provenance=(*name.provenance, step), decided_by="api")
    if match is not None:
        why = (f"the API knows this machine as Node {match.node.name} ({match.how}), but these settings name it "
               f"{name.value}")
        return replace(name, problems=(*name.problems, _doubt(why)))
    return name


def _api_match(snapshot: NodeSnapshot, hints: NodeHints | None) -> _ApiMatch | None:
    """The API's Node for this machine: the one podaudit reached it as, else the only Node whose
    InternalIP is one of its addresses or whose Hostname address is its hostname."""
    if hints is None or not hints.nodes_loaded:
        return None
    if hints.api_node is not None:
        return _ApiMatch(hints.api_node, f"the Node podaudit reached as {hints.api_node.name}")
    ips = {address.split("/")[0] for iface in snapshot.interfaces[:256] for address in iface.addresses[:64]}
    ips -= {"127.0.0.1", "::1"}
    host = go_lower(go_trim_space(snapshot.hostname or ""))
    found = ApiNodeIndex.of(hints.api_nodes).matching(ips, host)  # by address: no scan of every Node
    if len(found) != 1:
        return None  # none, or ambiguous: nothing is concluded
    kinds = sorted({kind for kind, value in found[0].addresses if value in ips or (host and value.lower() == host)})
    return _ApiMatch(found[0], f"its {' and '.join(kinds)} address matches this machine")


def _doubt(detail: str) -> Problem:
    return Problem(ProblemKind.NODE_NAME, None, detail)


# cloud-provider plugins.go InitCloudProvider and kubelet.go NewMainKubelet's messages.
UNKNOWN = 'unknown cloud provider "{}"'
DISABLED = ('cloud provider "{}" was specified, but built-in cloud providers are disabled. Please set '
            "--cloud-provider=external and migrate to an external cloud provider")
# The last minor release whose kubelet registers each legacy provider (legacy-cloud-providers:
# openstack is gone from v0.26.0, aws from v0.27.0, azure and vsphere from v0.30.0, and the
# repository, gce with it, ends with v0.30).
LAST_MINOR = {"openstack": 25, "aws": 26, "azure": 29, "vsphere": 29, "gce": 30}
# What each provider's Instances().CurrentNodeName answers.
NAMES: dict[str, tuple[str, str]] = {
    "aws": ("cloud", "the EC2 instance's private DNS name"),
    "openstack": ("cloud", "the instance's name from the OpenStack metadata service"),
    "gce": ("hostname", ""), "azure": ("hostname", ""), "vsphere": ("own-hostname", ""),
}
GATE = "DisableCloudProviders"  # pkg/features: Alpha false 1.22, Beta true 1.29, GA locked 1.31


@dataclass(frozen=True)
class CloudFate:
    """What an in-tree ``--cloud-provider`` does to a kubelet of some version."""

    names: str = "hostname"  # cloud (only the cloud knows the name), hostname, own-hostname (vsphere)
    what: str = ""  # the cloud's name for the node, for people
    exits: str | None = None  # the kubelet's message when it stops at start
    doubt: str = ""  # what podaudit cannot tell (the kubelet's version is unknown)


def cloud_fate(provider: str, minor: int | None, gate: bool | None) -> CloudFate:
    """run() -> InitCloudProvider (an unregistered name stops it), then NewMainKubelet refuses an
    in-tree provider while DisableCloudProviders is on (``gate``: as set, None: the default)."""
    last = LAST_MINOR.get(provider)
    names, what = NAMES.get(provider, ("hostname", ""))
    if minor is None:
        return _unversioned(provider, last, names, what)
    if minor >= 31:  # the gate is GA and locked on; the legacy providers are gone
        return CloudFate(exits=DISABLED.format(provider))
    if last is None or minor > last:
        return CloudFate(exits=UNKNOWN.format(provider))
    if (gate if gate is not None else minor >= 29) and minor >= 22:
        return CloudFate(exits=DISABLED.format(provider))
    return CloudFate(names, what)


def _unversioned(provider: str, last: int | None, names: str, what: str) -> CloudFate:
    if last is None:
        return CloudFate(exits=UNKNOWN.format(provider))
    if names == "cloud":
        until = f"kubelets from 1.{last + 1} exit with it ({UNKNOWN.format(provider)})"
    else:
        until = f"kubelets from 1.29 exit with it unless {GATE}=false ({DISABLED.format(provider)})"
    return CloudFate(names, what, doubt=f"{until}; podaudit does not know this kubelet's version")


def minor_of(version: str) -> int | None:
    """The minor of a kubeletVersion such as ``v1.26.5-eks-1a2b`` or ``v1.29.3+k3s1``."""
    found = re.match(r"v?1\.(\d{1,3})(?:\.|$|[-+])", version.strip())
    return int(found.group(1)) if found else None


def gate_from_flag(flag: FlagValue | None, config: Mapping[str, Any] | None) -> bool | None:
    """DisableCloudProviders as ``--feature-gates`` (cliflag MapStringBool: ``k=v`` pairs,
    trimmed, strconv.ParseBool) or else the config's ``featureGates`` set it; None: not set."""
    if flag is not None:
        pairs = (pair.partition("=") for pair in flag.value.split(",")[:1000])
        said = [go_trim_space(value) for key, _, value in pairs
                if go_trim_space(key) == GATE and go_trim_space(value) in GO_BOOLS]
        if said:
            return GO_BOOLS[said[-1]]  # the map keeps the last
    value = config.get(GATE) if isinstance(config, Mapping) else None
    return value if isinstance(value, bool) else None
