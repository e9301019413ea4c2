"""PA9xx: nodes that could not be audited, or only in part.

Every kind of failure is exactly one of these rules (``rule_for``; mypy checks that the match
covers every kind), so no node that could not be audited goes unreported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from podaudit.audit.context import ClusterContext, NodeContext
from podaudit.audit.registry import Category, Finding, finding, rule
from podaudit.model import FailureKind, NodeFailure

NOT_AUDITED = Category.NOT_AUDITED


def rule_for(kind: FailureKind) -> str:
    """The one rule that reports a node failed for this reason."""
    match kind:
        case (FailureKind.UNREACHABLE | FailureKind.TIMEOUT | FailureKind.DEADLINE | FailureKind.INTERRUPTED
              | FailureKind.GATHER | FailureKind.CONFIG | FailureKind.ERROR):
            return "PA901"
        case FailureKind.HOST_KEY_UNKNOWN | FailureKind.HOST_KEY_CHANGED:
            return "PA902"
        case FailureKind.AUTH | FailureKind.SUDO:
            return "PA903"
        case (FailureKind.RBAC | FailureKind.IMAGE | FailureKind.ADMISSION | FailureKind.KUBECTL_MISSING
              | FailureKind.KUBECTL):
            return "PA906"
        case _:
            _unmapped(kind)


def _unmapped(kind: NoReturn) -> NoReturn:
    """typing.assert_never (Python 3.11): mypy fails when a kind above is left out."""
    raise AssertionError(f"no rule for failure kind {kind!r}")


def _failed(ctx: ClusterContext, rule_id: str) -> Iterator[NodeFailure]:
    return (failure for failure in ctx.failures if rule_for(failure.kind) == rule_id)


@rule("PA901", "high", "node could not be audited",
      what="podaudit could not read the node: no connection, a timeout, the sweep deadline, or the node's answer "
           "could not be read.",
      why="A node that is not audited is a node whose static pods nobody checked; the report covers the others.",
      fix="Check the address and that sshd answers (`ssh -v NODE true`); raise --timeout for slow nodes.",
      example="worker-9: worker-9 (10.0.0.9:22): connection refused", scope="cluster", category=NOT_AUDITED)
def unreachable(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in _failed(ctx, "PA901"):
        # One fingerprint per node, whether it timed out or refused this time.
        yield finding("PA901", failure.node, None, failure.message)


@rule("PA902", "high", "host key refused",
      what="The node's SSH host key is unknown or differs from the one in known_hosts; nothing was sent.",
      why="An unknown key may be a new node; a changed key may be a reinstalled node or someone in the middle.",
      fix="Verify the fingerprint out of band, then `ssh-keyscan NODE >> ~/.ssh/known_hosts` (or run once with "
          "--accept-new-host-keys for new nodes); for a changed key, remove the old line after verifying.",
      example="node-4: host key for 10.0.0.4 is unknown (SHA256:...)", scope="cluster", category=NOT_AUDITED)
def host_key(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in _failed(ctx, "PA902"):
        yield finding("PA902", failure.node, None, failure.message, key=failure.kind.value)


@rule("PA903", "medium", "permission denied or sudo needed",
      what="The login was refused, sudo refused to run the read-only collector, or podaudit could not read files "
           "the kubelet reads (the report for that node is incomplete).",
      why="Manifests and kubelet files are root-only on hardened nodes: without root the answer may miss a file "
          "(a .bak twin that wins, an unexpected pod).",
      fix="Log in as root, or run with --sudo and allow the user with the sudoers line podaudit prints.",
      example="node-2: sudo -n refused (a password is required)", scope="cluster", category=NOT_AUDITED)
def permission(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in _failed(ctx, "PA903"):
        yield finding("PA903", failure.node, None, failure.message, key=failure.kind.value)
    for node in ctx.nodes:
        for unread in node.view.incomplete:
            path = unread.path or ""
            yield finding("PA903", node.node, unread.path, f"{node.node}: cannot read {path}: {unread.detail}",
                          key=path)


@rule("PA904", "medium", "no kubelet found",
      what="Neither a kubelet process nor a kubelet, k3s, rke2 or MicroK8s systemd unit was found on the node.",
      why="Either this is not a Kubernetes node, or its kubelet runs in a way podaudit does not recognise; "
          "its static pods are unknown.",
      fix="Check the inventory; if the node runs a kubelet, tell us how it starts (a bug report with the "
          "process's command line).",
      example="bastion-1: no kubelet process and no kubelet unit found", category=NOT_AUDITED)
def no_kubelet(ctx: NodeContext) -> Iterator[Finding]:
    if ctx.view.invocation.argv_source == "none":
        yield finding("PA904", ctx.node, None, f"{ctx.node}: no kubelet process and no kubelet unit found")


@rule("PA906", "high", "node could not be audited through kubectl debug",
      what="podaudit could not read the node through a `kubectl debug node` pod: the cluster forbids this user the "
           "debug pods (RBAC), an admission policy (PodSecurity, a webhook, Gatekeeper/Kyverno) refused them or made "
           "them unprivileged, the debug image cannot be pulled or run, or kubectl is missing or failed.",
      why="A node that is not audited is a node whose static pods nobody checked. Without this finding a sweep "
          "whose every debug pod was refused would look clean.",
      fix="Follow the line podaudit prints for the node: grant the RBAC it names (create, get, list, patch and "
          "delete on pods, get on pods/log, get on nodes: docs/kubectl-debug.md), use --debug-namespace with a "
          "namespace labelled pod-security.kubernetes.io/enforce=privileged, use --debug-image with an image the "
          "nodes can pull (any image with sh, chroot and base64), install kubectl (or --kubectl PATH), or use "
          "--via ssh.",
      example="node-1: kubectl debug: forbidden (Error from server (Forbidden): pods is forbidden: User "
              "\"jane\" cannot create resource \"pods\" ...): podaudit needs create, get, list, patch and delete on "
              "pods, get on pods/log, and get on nodes (docs/kubectl-debug.md)",
      scope="cluster", category=NOT_AUDITED)
def debug_pod_refused(ctx: ClusterContext) -> Iterator[Finding]:
    for failure in _failed(ctx, "PA906"):
        yield finding("PA906", failure.node, None, failure.message, key=failure.kind.value)
