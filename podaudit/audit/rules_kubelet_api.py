"""PA406: the kubelet's own API open to anyone on the network (CIS Kubernetes 4.2.1-4.2.4).

The effective settings come from the kubelet model (kubelet/auth.py): flags over the config
files, then the defaults that apply.
"""

from __future__ import annotations

from collections.abc import Iterator

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule
from podaudit.kubelet.auth import kubelet_auth


@rule("PA406", "high", "kubelet API open: anonymous auth, AlwaysAllow, read-only port or no client CA",
      what="The kubelet's effective authentication and authorization, decided as the kubelet decides them: "
           "--anonymous-auth, --authorization-mode, --read-only-port and --client-ca-file on the command line "
           "beat the config file and drop-ins; unset fields take the KubeletConfiguration v1beta1 defaults "
           "when a --config file is used (anonymous off, Webhook, port 0) and the flag defaults when none is "
           "(anonymous ON, AlwaysAllow, read-only port 10255). One finding per setting.",
      why="CIS Kubernetes 4.2.1 (anonymous auth off), 4.2.2 (authorization not AlwaysAllow), 4.2.3 (client CA "
          "set) and 4.2.4 (readOnlyPort 0). An open kubelet API on :10250 lets anyone on the network list "
          "pods, read their environment and exec into any container, static pods included; the read-only "
          "port :10255 leaks pod specs without any authentication.",
      fix="In the kubelet config file (/var/lib/kubelet/config.yaml): `authentication: {anonymous: {enabled: "
          "false}, webhook: {enabled: true}, x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}}`, "
          "`authorization: {mode: Webhook}`, `readOnlyPort: 0`; remove any overriding --anonymous-auth, "
          "--authorization-mode, --read-only-port flag from the unit, kubeadm-flags.env or /etc/default/kubelet; "
          "then `systemctl daemon-reload && systemctl restart kubelet`.",
      example="node-9: kubelet anonymous authentication is enabled (no --config and no --anonymous-auth: "
              "kubelet flag default)",
      cis=("4.2.1", "4.2.2", "4.2.3", "4.2.4"))
def kubelet_api_open(ctx: NodeContext) -> Iterator[Finding]:
    node = ctx.node
    auth = kubelet_auth(ctx.view)
    if auth is None:
        return
    if auth.anonymous.value is True:
        yield finding("PA406", node, auth.anonymous.path,
                      f"{node}: kubelet anonymous authentication is enabled ({auth.anonymous.why})",
                      key="authentication.anonymous.enabled")
    if auth.mode.value == "AlwaysAllow":
        yield finding("PA406", node, auth.mode.path,
                      f"{node}: kubelet authorization mode is AlwaysAllow ({auth.mode.why})", key="authorization.mode")
    port = auth.read_only_port
    if port.value is not None and port.value != 0:
        yield finding("PA406", node, port.path,
                      f"{node}: kubelet read-only port {port.value} is open, no authentication ({port.why})",
                      key="readOnlyPort")
    if auth.client_ca.value == "":
        yield finding("PA406", node, auth.client_ca.path,
                      f"{node}: kubelet has no client CA file, client certificates are not verified "
                      f"({auth.client_ca.why})", key="authentication.x509.clientCAFile")
