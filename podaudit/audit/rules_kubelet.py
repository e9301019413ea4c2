"""PA1xx: how the kubelet was found and where its static pods come from."""

from __future__ import annotations

from collections.abc import Iterator

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule
from podaudit.kubelet.config import INVALID, config_value

# Flags whose KubeletConfiguration field a config file may also set (KubeletFlags vs config).
FLAG_FIELDS = {
    "pod-manifest-path": ("staticPodPath",), "manifest-url": ("staticPodURL",),
    "anonymous-auth": ("authentication", "anonymous", "enabled"), "authorization-mode": ("authorization", "mode"),
    "read-only-port": ("readOnlyPort",), "client-ca-file": ("authentication", "x509", "clientCAFile"),
    "cgroup-driver": ("cgroupDriver",), "max-pods": ("maxPods",), "cluster-domain": ("clusterDomain",),
    "file-check-frequency": ("fileCheckFrequency",), "rotate-certificates": ("rotateCertificates",),
    "fail-swap-on": ("failSwapOn",), "container-runtime-endpoint": ("containerRuntimeEndpoint",),
}


@rule("PA101", "medium", "kubelet not running: settings taken from its systemd unit",
      what="No kubelet process runs on the node; podaudit rebuilt its command line from the systemd unit, "
           "drop-ins and env files, as `systemctl start kubelet` would run it now.",
      why="Nothing runs the static pods while the kubelet is down, and what the files say is only what the "
          "next start would do. A kubelet that keeps failing usually means a broken config file or flag.",
      fix="`systemctl status kubelet` and `journalctl -u kubelet -b` say why it stopped; fix the config, "
          "then `systemctl restart kubelet`.",
      example="node-7: no kubelet process; rebuilt from kubelet.service")
def kubelet_not_running(ctx: NodeContext) -> Iterator[Finding]:
    inv = ctx.view.invocation
    if inv.argv_source == "systemd" and inv.unit is not None:
        yield finding("PA101", ctx.node, inv.unit.unit_path,
                      f"{ctx.node}: no kubelet process runs; settings rebuilt from {inv.unit.unit}")


@rule("PA102", "medium", "restart pending: the kubelet's files changed since it started",
      what="The kubelet config file, a --config-dir drop-in, or its systemd unit/drop-in/env file changed after "
           "the running kubelet started, or the unit would now start it with other arguments.",
      why="The kubelet reads its flags and config only at start: a new staticPodPath (or anything else) is not in "
          "effect yet, and the next restart (a reboot, an upgrade) changes behaviour without warning.",
      fix="Review the change, then `systemctl daemon-reload && systemctl restart kubelet` when it is intended.",
      example="cp-1: /var/lib/kubelet/config.yaml changed after the kubelet started")
def restart_pending(ctx: NodeContext) -> Iterator[Finding]:
    for pending in ctx.view.restart_pending:
        reason = pending.text()
        yield finding("PA102", ctx.node, pending.path, f"{ctx.node}: {reason}", key=reason)


@rule("PA112", "high", "the kubelet cannot start with its settings",
      what="The kubelet's command line or config files make it exit at start: a word that is no flag (a stray "
           "`# comment` from an environment file, an empty `${VAR}`, a launcher's split), a flag pflag refuses, "
           "a --config or --config-dir drop-in that does not load, a missing --config-dir, an unusable node name. "
           "No kubelet process runs, so no static pod from these settings runs either.",
      why="systemd restarts a kubelet that exits, forever: the node stays NotReady and every static pod it should "
          "run (the control plane on a kubeadm node) is down. The log says only `unknown command #` or "
          "`failed to merge kubelet configs`; podaudit names the word or file and where it came from.",
      fix="Fix the word or file podaudit names (quote the value in the environment file, delete the comment, "
          "create or fix the drop-in), then `systemctl daemon-reload && systemctl restart kubelet` and "
          "`journalctl -u kubelet -b` to confirm.",
      example="node-3: the kubelet exits at start: unknown command # (word #: $KUBELET_EXTRA_ARGS = --v=2 # debug)")
def kubelet_cannot_start(ctx: NodeContext) -> Iterator[Finding]:
    if ctx.view.invocation.process is not None:
        return  # it runs: what stops its next start is a pending restart (PA102)
    for blocker in ctx.view.startup.blockers:
        reason = blocker.text()
        yield finding("PA112", ctx.node, blocker.path, f"{ctx.node}: {reason}", key=reason)


@rule("PA103", "low", "a command-line flag overrides the config file",
      what="A kubelet flag sets a field that the --config file (or a drop-in) also sets, to a different value.",
      why="Flags win over the config file (kubeletConfigFlagPrecedence): whoever edits config.yaml sees a value "
          "the kubelet ignores, the classic 'I changed staticPodPath and nothing happened'.",
      fix="Keep each setting in one place: remove the flag (from the unit, kubeadm-flags.env or "
          "/etc/default/kubelet) or the config field, and restart the kubelet.",
      example="node-7: --pod-manifest-path=/srv/static overrides staticPodPath: /etc/kubernetes/manifests")
def flag_overrides_config(ctx: NodeContext) -> Iterator[Finding]:
    view = ctx.view
    for flag, field_path in FLAG_FIELDS.items():
        value = view.flags.get(flag)
        configured = config_value(view.config, field_path)
        # An empty config value (kubeadm writes containerRuntimeEndpoint: "") is not a conflict.
        if value is None or configured in (None, "", INVALID) or str(configured).lower() == value.value.lower():
            continue
        where = view.invocation.args[value.index - 1].origin
        yield finding("PA103", ctx.node, view.config_file,
                      f"{ctx.node}: --{flag}={value.value} (from {where.where()}) overrides "
                      f"{'.'.join(field_path)}: {configured} in the config", key=flag)


@rule("PA104", "high", "static pod path missing or not a directory",
      what="The effective static pod path does not exist, is not a directory (a regular file is run as the only "
           "manifest), or cannot be read.",
      why="A missing path makes the kubelet log 'path does not exist, ignoring' every second and run no file pods; "
          "on a control plane that means no API server after the next restart. A file path is legal but rarely "
          "intended.",
      fix="Create the directory (`install -d -m 700 -o root -g root PATH`) or correct staticPodPath / "
          "--pod-manifest-path, then restart the kubelet.",
      example="node-3: /etc/kubernetes/manifests does not exist")
def static_pod_path_missing(ctx: NodeContext) -> Iterator[Finding]:
    path = ctx.view.static_pod_path.value
    if path is None:
        return
    record = ctx.view.records.get(path)
    if record is None or record.kind in {"dir", "denied", "uncollected"}:
        return
    what = {"missing": "does not exist", "file": "is a regular file: the kubelet runs it as the only manifest"}
    yield finding("PA104", ctx.node, path,
                  f"{ctx.node}: static pod path {path} {what.get(record.kind, record.error or 'is not a directory')}")


@rule("PA105", "medium", "staticPodURL in use",
      what="The kubelet fetches static pods over HTTP (staticPodURL / --manifest-url).",
      why="Whoever controls that URL (or the network path to it) runs pods on the node, bypassing admission "
          "(Threat Matrix MS-M9032: avoid web-hosted manifests). Nothing on disk shows what runs.",
      fix="Remove staticPodURL / --manifest-url unless the distribution needs it (k0s, Talos serve it locally), "
          "and restart the kubelet.",
      example="edge-1: staticPodURL http://10.0.0.5/pods.yaml")
def static_pod_url(ctx: NodeContext) -> Iterator[Finding]:
    url = ctx.view.static_pod_url
    if url.value is not None:
        source = url.provenance[-1].where() if url.provenance else "the kubelet's settings"
        yield finding("PA105", ctx.node, url.provenance[-1].source if url.provenance else None,
                      f"{ctx.node}: static pods are fetched from {url.value} (set in {source})")


@rule("PA106", "medium", "static pods enabled on a node expected to have none",
      what="A worker (or a role whose baseline expects no static pods) has a static pod path or URL set.",
      why="Every enabled static pod source is a way to run pods that bypasses admission and the API; the DISA "
          "Kubernetes STIG asks to disable staticPodPath on worker nodes. kubeadm enables it everywhere by default.",
      fix="Set `staticPodPath: \"\"` in the kubelet config (and drop --pod-manifest-path), then restart the "
          "kubelet; or record the node's role and expected pods in a baseline.",
      example="worker-2: static pods are enabled (staticPodPath /etc/kubernetes/manifests) on a worker")
def enabled_on_worker(ctx: NodeContext) -> Iterator[Finding]:
    view = ctx.view
    expects_none = not ctx.expected.static_pods if ctx.expected is not None else ctx.role == "worker"
    source = view.static_pod_path.value or view.static_pod_url.value
    if expects_none and source is not None:
        yield finding("PA106", ctx.node, view.static_pod_path.value,
                      f"{ctx.node}: static pods are enabled ({source}) on a {ctx.role} expected to run none")
