"""PA2xx: the hygiene of the static pod directory, entry by entry, as the kubelet reads it."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule
from podaudit.kubelet.validation import api_references

# Names editors, package managers and hurried humans leave behind (the kubelet reads them all).
BACKUP_NAMES = ("*.bak", "*.back", "*.backup", "*.orig", "*.old", "*.save", "*.tmp", "*.temp", "*~", "*.swp",
                "*.swo", "*-bak", "*_bak", "*.bak.*", "*.dpkg-*", "*.rpmnew", "*.rpmsave", "*.ucf-*", "*.disabled",
                "*.copy", "#*#")


def _name(path: str) -> str:
    return posixpath.basename(path)


@rule("PA201", "high", "two files define the same pod",
      what="Several files in the static pod directory define the same namespace/name; the kubelet runs the "
           "lexically last path and ignores the others (and swaps between them on inotify events).",
      why="Edits to the file you think is live do nothing (kubernetes#55596, #136962); each swap restarts the pod.",
      fix="Keep one file per pod: move the others out of the directory (`podaudit delete` or `mv FILE /root/`).",
      example="cp-1: kube-apiserver.yaml also defines kube-system/kube-apiserver; "
              "the kubelet runs kube-apiserver.yaml.bak")
def duplicates(ctx: NodeContext) -> Iterator[Finding]:
    for entry in ctx.view.entries:
        if entry.fate == "shadowed" and entry.pod and entry.related:
            yield finding("PA201", ctx.node, entry.path,
                          f"{ctx.node}: {entry.path} also defines {entry.pod.namespace}/{entry.pod.name}; "
                          f"the kubelet runs {entry.related[0]}", key=entry.pod.key)


@rule("PA202", "high", "a backup, editor or temp file is read as a manifest",
      what="A file named like a backup or editor file (*.bak, *.orig, *~, *.tmp, *.swp, *-bak, ...) sits in the "
           "static pod directory and the kubelet reads it: the kubelet has no extension filter.",
      why="`cp kube-apiserver.yaml kube-apiserver.yaml.bak` next to the original runs the backup instead "
          "(it sorts last), and renaming a manifest to .bak does not stop it (kubernetes/kubeadm#2823).",
      fix="Move backups out of the directory (`mv /etc/kubernetes/manifests/x.bak /root/`); to disable a "
          "manifest, move it out or rename it to start with a dot.",
      example="cp-1: kube-apiserver.yaml.bak is read by the kubelet as kube-system/kube-apiserver")
def backup_files(ctx: NodeContext) -> Iterator[Finding]:
    for entry in ctx.view.entries:
        name = _name(entry.path)
        if entry.fate in {"loaded", "shadowed", "rejected"} and any(fnmatch.fnmatch(name, p) for p in BACKUP_NAMES):
            what = f"as {entry.pod.namespace}/{entry.pod.name}" if entry.pod else f"and {entry.fate} it"
            yield finding("PA202", ctx.node, entry.path, f"{ctx.node}: {name} is read by the kubelet {what}")


@rule("PA203", "medium", "a file in the static pod directory cannot be parsed",
      what="The kubelet cannot decode a file (invalid YAML or JSON, not UTF-8, unreadable, 10 MiB or more), or a "
           "value has the wrong Go type for its field as YAML 1.1 reads it (a label or annotation `on`, `y`, `1.10`; "
           "an env value `8080`; `containerPort: \"80\"`; `hostNetwork: \"true\"`; `.inf` anywhere), and skips it "
           "with a log line only. The reason is the kubelet's own message.",
      why="The pod you expect never appears, and nothing in the API says why (kubernetes#41476).",
      fix="Fix the line the message names (quote a value that must stay text: `tier: \"on\"`, `value: \"8080\"`), "
          "or move the file out of the directory.",
      example="node-1: web.yaml: couldn't parse as pod(json: cannot unmarshal bool into Go struct field "
              "ObjectMeta.metadata.labels of type string), please check config file")
def unparsable(ctx: NodeContext) -> Iterator[Finding]:
    return _rejected(ctx, "PA203", {"decode", "unreadable"})


def _rejected(ctx: NodeContext, rule_id: str, codes: set[str]) -> Iterator[Finding]:
    """Entries the kubelet rejected for one of these reasons (ManifestEntry.code)."""
    for entry in ctx.view.entries:
        if entry.fate == "rejected" and entry.code in codes:
            yield finding(rule_id, ctx.node, entry.path, f"{ctx.node}: {_name(entry.path)}: {entry.reason}")


@rule("PA204", "medium", "a file is not a v1 Pod",
      what="A file decodes, but not to apiVersion v1, kind Pod (a Deployment, a PodList, plain text).",
      why="The kubelet runs only Pods from files; anything else is skipped with a log line.",
      fix="Static pods are single Pod objects; apply other objects with kubectl, and move the file out.",
      example='node-1: deployment.yaml: couldn\'t parse as pod(no kind "Deployment" is registered for version '
              '"apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"), please check config file')
def not_a_pod(ctx: NodeContext) -> Iterator[Finding]:
    return _rejected(ctx, "PA204", {"not-a-pod"})


@rule("PA205", "high", "the kubelet rejects the pod as invalid",
      what="The pod fails the kubelet's validation (ValidatePodCreate, after its defaulting): the name plus the node "
           "suffix is not a lowercase RFC 1123 subdomain of at most 253 characters; a namespace, container, volume "
           "or port name is invalid or repeated; a volumeMount names no volume; a port is out of range or clashes "
           "with another host port; requests exceed limits; a restartPolicy, dnsPolicy or imagePullPolicy value is "
           "unknown; a probe has no handler or two; an env name is invalid; an image is missing. The reason is the "
           "kubelet's own message and field path.",
      why="The pod never runs and no mirror pod appears; only the kubelet's log says so (kubernetes#119135).",
      fix="Fix the field the message names (`podaudit node` shows each rejected file's reason), e.g. add the "
          "missing volume, shorten the port name to 15 characters, lower the request below the limit.",
      example='node-1: web.yaml: invalid pod: spec.containers[0].volumeMounts[0].name: Not found: "data"')
def invalid_pod(ctx: NodeContext) -> Iterator[Finding]:
    return _rejected(ctx, "PA205", {"invalid"})


@rule("PA206", "medium", "a multi-document file: only the first document runs",
      what="A YAML file holds several documents (---); the kubelet decodes the first and silently drops the rest.",
      why="The second pod in the file never runs, and nothing says so.",
      fix="One pod per file: split the file.",
      example="node-1: multi.yaml holds several documents; only default/multi-first runs")
def multi_document(ctx: NodeContext) -> Iterator[Finding]:
    for entry in ctx.view.entries:
        if any("several YAML documents" in w for w in entry.warnings):
            runs = f"; only {entry.pod.namespace}/{entry.pod.name} runs" if entry.pod else ""
            message = f"{ctx.node}: {_name(entry.path)} holds several documents{runs}"
            yield finding("PA206", ctx.node, entry.path, message)


@rule("PA207", "info", "entries the kubelet ignores",
      what="Dot-files, subdirectories and special files in the static pod directory: the kubelet skips them.",
      why="Usually harmless (.swp files, a backups/ folder), but a manifest placed in a subdirectory never runs.",
      fix="Nothing, if intended; move manifests up to the directory itself.",
      example="node-1: old/ is a directory: the kubelet does not recurse")
def ignored(ctx: NodeContext) -> Iterator[Finding]:
    for entry in ctx.view.entries:
        if entry.fate == "ignored":
            yield finding("PA207", ctx.node, entry.path, f"{ctx.node}: {_name(entry.path)}: {entry.reason}")


@rule("PA208", "medium", "a static pod references API objects",
      what="The pod names a service account, secrets, config maps, volumes claims or other API objects.",
      why="The mirror pod is refused (NodeRestriction), so kubectl never shows the pod (kubernetes#103587); "
          "since v1.34 (PreventStaticPodAPIReferences) the kubelet rejects the pod outright.",
      fix="Static pods cannot use API objects: put the data in hostPath files, or run the workload as a "
          "DaemonSet.",
      example="node-1: agent.yaml references service account agent, secret creds (volume creds)")
def api_objects(ctx: NodeContext) -> Iterator[Finding]:
    for entry in ctx.view.entries:
        if entry.fate in {"loaded", "shadowed"} and entry.spec:
            refs = api_references(entry.spec)
            if refs:
                yield finding("PA208", ctx.node, entry.path,
                              f"{ctx.node}: {_name(entry.path)} references {', '.join(refs)}")


@rule("PA209", "low", "explicit metadata.uid in a manifest",
      what="The manifest sets metadata.uid, which the kubelet keeps verbatim instead of hashing the file.",
      why="Edits no longer change the pod's identity, so the kubelet may not restart the pod on change; copies "
          "of the file on several nodes share one UID.",
      fix="Remove metadata.uid from the manifest (rke2 writes one on purpose; baseline it there).",
      example="cp-1: etcd.yaml sets metadata.uid 3f1e...")
def explicit_uid(ctx: NodeContext) -> Iterator[Finding]:
    for entry in ctx.view.entries:
        meta = entry.spec.get("metadata") if entry.spec else None
        if entry.fate in {"loaded", "shadowed"} and isinstance(meta, dict) and meta.get("uid"):
            message = f"{ctx.node}: {_name(entry.path)} sets metadata.uid {meta['uid']}"
            yield finding("PA209", ctx.node, entry.path, message)
