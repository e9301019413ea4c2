"""PA9xx: nodes that could not be audited, or only in part."""

from __future__ import annotations

from collections.abc import Iterator

from podaudit.audit.context import ClusterContext, NodeContext
from podaudit.audit.registry import Finding, finding, rule

UNREACHABLE = {"unreachable", "timeout", "deadline", "interrupted", "gather", "error", "config"}


@rule("PA901", "high", "node could not be audited",
      what="podaudit could not read the node: no connection, a timeout, the sweep deadline, or the node's answer "
           "could not be read.",
      why="A node that is not audited is a node whose static pods nobody checked; the report covers the others.",
      fix="Check the address and that sshd answers (`ssh -v NODE true`); raise --timeout for slow nodes.",
      example="worker-9: worker-9 (10.0.0.9:22): connection refused", scope="cluster")
def unreachable(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in ctx.failures:
        if failure.kind in UNREACHABLE:
            # One fingerprint per node, whether it timed out or refused this time.
            yield finding("PA901", failure.node, None, failure.message)


@rule("PA902", "high", "host key refused",
      what="The node's SSH host key is unknown or differs from the one in known_hosts; nothing was sent.",
      why="An unknown key may be a new node; a changed key may be a reinstalled node or someone in the middle.",
      fix="Verify the fingerprint out of band, then `ssh-keyscan NODE >> ~/.ssh/known_hosts` (or run once with "
          "--accept-new-host-keys for new nodes); for a changed key, remove the old line after verifying.",
      example="node-4: host key for 10.0.0.4 is unknown (SHA256:...)", scope="cluster")
def host_key(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in ctx.failures:
        if failure.kind.startswith("host-key"):
            yield finding("PA902", failure.node, None, failure.message, key=failure.kind)


@rule("PA903", "medium", "permission denied or sudo needed",
      what="The login was refused, sudo refused to run the read-only collector, or podaudit could not read files "
           "the kubelet reads (the report for that node is incomplete).",
      why="Manifests and kubelet files are root-only on hardened nodes: without root the answer may miss a file "
          "(a .bak twin that wins, an unexpected pod).",
      fix="Log in as root, or run with --sudo and allow the user with the sudoers line podaudit prints.",
      example="node-2: sudo -n refused (a password is required)", scope="cluster")
def permission(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in ctx.failures:
        if failure.kind in {"sudo", "auth"}:
            yield finding("PA903", failure.node, None, failure.message, key=failure.kind)
    for node in ctx.nodes:
        for reason in node.view.incomplete:
            path = reason.rsplit(": ", 1)[0]  # "<path>: <why>"; paths may hold ':'.
            yield finding("PA903", node.node, path, f"{node.node}: cannot read {reason}", key=path)


@rule("PA904", "medium", "no kubelet found",
      what="Neither a kubelet process nor a kubelet, k3s, rke2 or MicroK8s systemd unit was found on the node.",
      why="Either this is not a Kubernetes node, or its kubelet runs in a way podaudit does not recognise; "
          "its static pods are unknown.",
      fix="Check the inventory; if the node runs a kubelet, tell us how it starts (a bug report with the "
          "process's command line).",
      example="bastion-1: no kubelet process and no kubelet unit found")
def no_kubelet(ctx: NodeContext) -> Iterator[Finding]:
    if ctx.view.invocation.argv_source == "none":
        yield finding("PA904", ctx.node, None, f"{ctx.node}: no kubelet process and no kubelet unit found")
