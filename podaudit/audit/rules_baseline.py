"""Cluster rules: static pods against the baseline (PA501, PA502) and drift between nodes of
the same role (PA503).

Manifests are compared across nodes once each node's own identity is set aside: its node
name, hostname and addresses are replaced by placeholders before hashing, so kubeadm's
kube-apiserver.yaml (which carries the node's --advertise-address) compares equal across
control-plane nodes. A baseline's pinned ``sha256`` is always the file's exact bytes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, TypeVar

from podaudit.audit.baseline import manifest_sha256
from podaudit.audit.registry import Finding, finding, rule

if TYPE_CHECKING:
    from podaudit.audit.context import ClusterContext, NodeContext
    from podaudit.kubelet.resolve import NodeView, StaticPod

T = TypeVar("T", bound=Hashable)

NODE_PLACEHOLDER = b"<node-name>"
ADDRESS_PLACEHOLDER = b"<node-address>"
# Nodes listed by name in one message, before "and N more".
_LIST_AT_MOST = 5


@rule("PA501", "high", "static pod not in the baseline, or its manifest differs from the baseline's",
      what="A node runs a static pod that the baseline does not expect for the node's role (control-plane or "
           "worker), or an expected pod from a manifest whose sha256 differs from the one the baseline pins. "
           "Only with a baseline (--baseline FILE or builtin:kubeadm|rke2|k3s).",
      why="A file dropped into the static pod directory runs with no API request, no admission control and no "
          "audit log entry, and comes back when its mirror pod is deleted: persistence (MS-TA9017). Editing a "
          "control-plane manifest (an extra container, a weakened flag) is the same technique, so a changed "
          "pinned manifest is reported here too.",
      fix="Find who wrote the file (podaudit find shows it with owner and times). If the pod belongs there, add it "
          "to the baseline for that role with a reason (re-record with podaudit sweep --write-baseline after an "
          "upgrade changed pinned manifests); if not, remove it with podaudit remove.",
      example="worker-2: static pod kube-system/node-helper (/etc/kubernetes/manifests/node-helper.yaml) is not "
              "in the baseline for worker nodes (builtin:kubeadm): possible persistence (MS-TA9017)",
      scope="cluster")
def not_in_baseline(ctx: ClusterContext) -> Iterator[Finding]:
    if ctx.baseline is None:
        return
    for node in ctx.nodes:
        expected = ctx.baseline.expect(node.role)
        if expected is None:
            continue
        wanted = {p.key: p for p in expected.static_pods}
        for pod in node.view.static_pods:
            key = f"{pod.namespace}/{pod.name}"
            want = wanted.get(key)
            if want is None:
                yield finding("PA501", node.node, pod.manifest_path,
                              f"{node.node}: static pod {key} ({pod.manifest_path}) is not in the baseline for "
                              f"{node.role} nodes ({ctx.baseline.source}): possible persistence (MS-TA9017)", key)
                continue
            have = manifest_sha256(node.view, pod)
            if want.sha256 is not None and have is not None and have != want.sha256:
                yield finding("PA501", node.node, pod.manifest_path,
                              f"{node.node}: static pod {key} runs from {pod.manifest_path}, whose content differs "
                              f"from the baseline's ({ctx.baseline.source}): sha256 {have[:12]}, expected "
                              f"{want.sha256[:12]}; an altered manifest can be persistence (MS-TA9017)",
                              f"{key}#content")


@rule("PA502", "medium", "expected static pod missing",
      what="The baseline expects a static pod on every node of a role and a node of that role does not run it "
           "from its static pod path (no manifest, or one the kubelet rejects). Only with a baseline, and not "
           "for a node podaudit could not read completely.",
      why="A control-plane node without its etcd or kube-apiserver manifest is degraded or runs the component "
          "another way; a node that lost kube-proxy stops routing Service traffic. It can also mean the node is "
          "not the role the baseline thinks it is.",
      fix="Restore the manifest from a healthy node of the role or from the installer (kubeadm init phase "
          "control-plane, an rke2 restart), fix the file the kubelet rejects (podaudit find says why), or drop "
          "the pod from the baseline, or suppress PA502 for that node, with a reason.",
      example="cp-2: expected static pod kube-system/etcd (kubeadm control plane: stacked etcd member) is not "
              "run from /etc/kubernetes/manifests on this control-plane node (baseline builtin:kubeadm)",
      scope="cluster")
def missing_expected(ctx: ClusterContext) -> Iterator[Finding]:
    if ctx.baseline is None:
        return
    for node in ctx.nodes:
        expected = ctx.baseline.expect(node.role)
        if expected is None or node.view.incomplete:
            continue
        present = {f"{p.namespace}/{p.name}" for p in node.view.static_pods}
        path = node.view.static_pod_path.value
        where = f"from {path}" if path is not None else "(the kubelet has no static pod path)"
        for pod in expected.static_pods:
            if pod.key not in present:
                yield finding("PA502", node.node, path,
                              f"{node.node}: expected static pod {pod.key} ({pod.reason}) is not run {where} on this "
                              f"{node.role} node (baseline {ctx.baseline.source})", pod.key)


@rule("PA503", "medium", "node differs from the other nodes of its role",
      what="Among the nodes of one role (two or more, read completely), a node whose effective static pod path, "
           "set of static pods (namespace/name) or manifest content (per pod) differs from the majority of the "
           "role. One finding per deviating node names every difference and what the majority has. Manifests "
           "are compared with each node's own name and addresses set aside; needs no baseline.",
      why="Nodes of one role are meant to be configured alike; the odd one out is where someone changed the "
          "kubelet's configuration or dropped a file by hand. kube-bench and the Compliance Operator do not "
          "compare the static pod inventory across nodes.",
      fix="Diff the node's manifest or kubelet settings with a majority node's (podaudit find shows both with "
          "their provenance), then bring the odd node in line, or suppress PA503 for it with a reason.",
      example="worker-3: differs from the other worker nodes: static pod path /srv/pods (2 of 3 worker nodes: "
              "/etc/kubernetes/manifests); runs kube-system/debug, which 2 of 3 worker nodes do not (worker-1, "
              "worker-2)",
      scope="cluster")
def drift(ctx: ClusterContext) -> Iterator[Finding]:
    roles: dict[str, list[NodeContext]] = {}
    for node in ctx.nodes:
        # Unread or kubelet-less nodes (a bastion in the inventory) say nothing about their role.
        if not node.view.incomplete and node.view.invocation.argv_source != "none":
            roles.setdefault(node.role, []).append(node)
    for role, nodes in roles.items():
        if len(nodes) < 2:
            continue
        differences: dict[str, list[str]] = {n.node: [] for n in nodes}
        _path_drift(role, nodes, differences)
        _pod_drift(role, nodes, differences)
        _content_drift(role, nodes, differences)
        for node in nodes:
            if differences[node.node]:
                yield finding("PA503", node.node, node.view.static_pod_path.value,
                              f"{node.node}: differs from the other {role} nodes: " + "; ".join(differences[node.node]))


def _majority(values: dict[str, T]) -> T | None:
    """The value more than half of the nodes share, if any."""
    if not values:
        return None
    value, count = Counter(values.values()).most_common(1)[0]
    return value if count * 2 > len(values) else None


def _path_drift(role: str, nodes: list[NodeContext], out: dict[str, list[str]]) -> None:
    paths = {n.node: n.view.static_pod_path.value for n in nodes}
    if len(set(paths.values())) == 1:
        return
    common = _majority(paths)
    if common is not None:
        share = sum(1 for p in paths.values() if p == common)
        for name, path in paths.items():
            if path != common:
                out[name].append(f"static pod path {_show(path)} ({share} of {len(nodes)} {role} nodes: "
                                 f"{_show(common)})")
        return
    # No majority (two nodes, or an even split): every node is told how they split.
    split: dict[str | None, list[str]] = {}
    for name, path in paths.items():
        split.setdefault(path, []).append(name)
    spread = "; ".join(f"{_show(path)} on {_names(names)}" for path, names in split.items())
    for name, path in paths.items():
        out[name].append(f"static pod path {_show(path)}, and the {role} nodes disagree with no majority ({spread})")


def _pod_drift(role: str, nodes: list[NodeContext], out: dict[str, list[str]]) -> None:
    pods = {n.node: {f"{p.namespace}/{p.name}" for p in n.view.static_pods} for n in nodes}
    everything = sorted(set().union(*pods.values()))
    total = len(nodes)
    for key in everything:
        holders = [name for name, keys in pods.items() if key in keys]
        others = [name for name in pods if key not in pods[name]]
        if not others:
            continue
        if len(holders) * 2 > total:
            for name in others:
                out[name].append(f"lacks {key}, which {len(holders)} of {total} {role} nodes run")
        else:
            # A minority (or half) runs it: the unexpected file is where it is present.
            for name in holders:
                out[name].append(f"runs {key}, which {len(others)} of {total} {role} nodes do not "
                                 f"({_names(others)})")


def _content_drift(role: str, nodes: list[NodeContext], out: dict[str, list[str]]) -> None:
    runs: dict[str, dict[str, tuple[NodeContext, StaticPod]]] = {}
    for node in nodes:
        for pod in node.view.static_pods:
            runs.setdefault(f"{pod.namespace}/{pod.name}", {})[node.node] = (node, pod)
    for key in sorted(runs):
        holders = runs[key]
        digests = {name: d for name, (n, p) in holders.items() if (d := content_digest(n.view, p)) is not None}
        if len(digests) < 2 or len(set(digests.values())) == 1:
            continue
        # No majority (every control-plane etcd.yaml names its own peers): node-specific, not drift.
        common = _majority(digests)
        if common is None:
            continue
        sharing = [name for name, d in digests.items() if d == common]
        ref_node, ref_pod = holders[sharing[0]]
        ref_hash = manifest_sha256(ref_node.view, ref_pod) or "?"
        for name, digest in digests.items():
            if digest == common:
                continue
            node, pod = holders[name]
            here = manifest_sha256(node.view, pod) or "?"
            out[name].append(f"{key} manifest content differs from the one {len(sharing)} of {len(digests)} {role} "
                             f"nodes share (sha256 {here[:12]} here, {ref_hash[:12]} in {sharing[0]}:"
                             f"{ref_pod.manifest_path})")


def _show(path: str | None) -> str:
    return path if path is not None else "(none)"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_LIST_AT_MOST])
    return shown + (f" and {len(names) - _LIST_AT_MOST} more" if len(names) > _LIST_AT_MOST else "")


# The characters that may not touch a name or an address for it to count as that name or
# address (regex \w on bytes is ASCII [A-Za-z0-9_]): "node1" is not in "node10" nor in
# "node1.example.com", and 10.0.0.1 is not in 10.0.0.12.
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NAME_EDGE = _WORD | frozenset(b".-")
_IPV4_EDGE = _WORD | frozenset(b".")
_IPV6_EDGE = _WORD | frozenset(b".:")


def _identity_words(view: NodeView) -> list[tuple[bytes, frozenset[int], bytes]]:
    """The node's own name, hostname and addresses as they appear in its manifests: each word,
    the bytes that may not touch it, and its placeholder."""
    names = {view.node_name.value, *([view.hostname.strip()] if view.hostname else [])}
    names |= {n.lower() for n in names}
    addresses = {a.split("/")[0] for a in (view.network.node_addresses if view.network else ())}
    # Longest first, so a hostname that contains the node name is replaced whole.
    words = [(name.encode("utf-8", "surrogateescape"), _NAME_EDGE, NODE_PLACEHOLDER)
             for name in sorted((n for n in names if len(n) >= 3), key=len, reverse=True)]
    words += [(address.encode("utf-8", "surrogateescape"), _IPV6_EDGE if ":" in address else _IPV4_EDGE,
               ADDRESS_PLACEHOLDER) for address in sorted(a for a in addresses if a)]
    return words


def _replace_word(data: bytes, word: bytes, edge: frozenset[int], placeholder: bytes) -> bytes:
    """``data`` with every whole ``word`` (no ``edge`` byte just before or after) replaced,
    left to right: what re.sub of (?<!edge)word(?!edge) does, without compiling a pattern for
    every node (each node's name and addresses are its own, so no pattern cache ever hits:
    that cost 0.5 ms per node, serially, in a fleet's drift check)."""
    if not word:
        return data
    parts: list[bytes] = []
    start = done = 0
    while (at := data.find(word, start)) >= 0:
        end = at + len(word)
        if (at and data[at - 1] in edge) or (end < len(data) and data[end] in edge):
            start = at + 1
            continue
        parts += (data[done:at], placeholder)
        start = done = end
    return b"".join((*parts, data[done:])) if parts else data


def content_digest(view: NodeView, pod: StaticPod) -> str | None:
    """sha256 of the pod's manifest with the node's own name and addresses replaced by
    placeholders: equal on two nodes when their manifests differ only in who they are."""
    data = next((e.record.data for e in view.entries if e.path == pod.manifest_path and e.record.data is not None),
                None)
    if data is None:
        return None
    for word, edge, placeholder in _identity_words(view):
        data = _replace_word(data, word, edge, placeholder)
    return hashlib.sha256(data).hexdigest()


def group_identical(contexts: list[NodeContext], findings: dict[str, tuple[tuple[str, str], ...]] | None = None
                    ) -> list[tuple[list[str], NodeContext]]:
    """Nodes whose static pod path, its source, static pods (namespace/name and manifest content,
    as compared for drift), problems, pending restarts and unread paths are identical, grouped in
    first-seen order; each group with its first node's context, for a report that shows one row
    per group."""
    groups: dict[tuple[object, ...], tuple[list[str], NodeContext]] = {}
    for ctx in contexts:
        view = ctx.view
        pods = tuple(sorted((p.namespace, p.name, content_digest(view, p) or "") for p in view.static_pods))
        key = (view.static_pod_path.value, view.static_pod_path.source, pods, tuple(view.problems),
               tuple(view.restart_pending), tuple(view.incomplete), (findings or {}).get(ctx.node, ()))
        if key in groups:
            groups[key][0].append(ctx.node)
        else:
            groups[key] = ([ctx.node], ctx)
    return list(groups.values())
