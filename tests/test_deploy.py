"""docs/deploy (in-cluster collection) and the Dockerfile.

Every Kubernetes manifest, and what each kustomization renders, is validated against the
Kubernetes OpenAPI schemas that the kubernetes-validate package ships (strict: an unknown or
misspelt field fails). Then the checks a reviewer makes of a pod that reads the node's root:
``review`` lists what is wrong with a workload, and ``test_review_catches`` breaks each
setting in turn to show that every check can fail.

The Dockerfile cannot be built here (no docker): its instructions are parsed and checked, and
the build context that .dockerignore leaves is computed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy"
README = DEPLOY / "README.md"
# The oldest Kubernetes the manifests target (appArmorProfile: 1.30; recursiveReadOnly on by
# default: 1.31) and the newest the installed kubernetes-validate ships.
K8S_VERSIONS = ("1.31", kubernetes_validate.latest_version())
NAMESPACE = "podaudit"
# Exactly the capabilities docs/deploy/README.md justifies; nothing else may be added.
COLLECTOR_CAPS = {"SYS_PTRACE", "DAC_READ_SEARCH"}
COLLECT = ["podaudit", "collect", "--root", "/host"]
WATCH = ["podaudit", "watch", "--local", "--root", "/host"]
# The containers that read the node (its / at /host, the capabilities above); no other may.
NODE_READERS = {"collect", "watch"}
# Custom resources of the Prometheus Operator: no OpenAPI schema in kubernetes-validate; their
# shape is checked by their own tests (here and tests/test_watch_metrics.py).
OPERATOR_API = "monitoring.coreos.com/v1"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "value": "", "effect": "NoSchedule"}
# What may differ between the Job's pod and the DaemonSet's: how each runs, not what it may do.
PER_KIND = {"nodeName", "restartPolicy", "containers", "initContainers"}

Doc = dict[str, Any]


# --- loading -------------------------------------------------------------------------------

def load(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def kustomizations() -> list[Path]:
    return sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))


def kustomize_refs(folder: Path) -> tuple[list[Path], list[Path]]:
    """The resource files and the patch files a kustomization names (folders left out)."""
    (k,) = load(folder / "kustomization.yaml")
    resources = [(folder / r).resolve() for r in k.get("resources", [])]
    patches = [(folder / p["path"]).resolve() for p in k.get("patches", []) if "path" in p]
    return [r for r in resources if r.is_file()], patches


def raw_manifests() -> list[Path]:
    """Every YAML file under docs/deploy that is a whole Kubernetes object (not a
    kustomization, not a patch)."""
    patches = {p for folder in kustomizations() for p in kustomize_refs(folder)[1]}
    return sorted(p for p in DEPLOY.rglob("*.yaml")
                  if p.name != "kustomization.yaml" and p.resolve() not in patches)


@pytest.fixture(scope="session")
def rendered(kubectl_bin: str) -> dict[str, list[Doc]]:
    """What `kubectl apply -k` would send, per kustomization (kubectl's own kustomize)."""
    out = {}
    for folder in kustomizations():
        run = subprocess.run([kubectl_bin, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"kubectl kustomize {folder}: {run.stderr}"
        out[str(folder.relative_to(DEPLOY))] = [d for d in yaml.safe_load_all(run.stdout) if d]
    return out


def one(docs: list[Doc], kind: str) -> Doc:
    found = [d for d in docs if d.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def workloads(rendered: dict[str, list[Doc]]) -> dict[str, Doc]:
    """Every workload that runs the collector, by where it comes from."""
    return {
        "base DaemonSet": one(rendered["base"], "DaemonSet"),
        "job.yaml": one(load(DEPLOY / "job.yaml"), "Job"),
        "shared-volume DaemonSet": one(rendered["shared-volume"], "DaemonSet"),
    }


# --- the reviewer's checks -----------------------------------------------------------------

def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def all_containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def collector(pod: Doc) -> Doc:
    found = [c for c in all_containers(pod) if c["name"] == "collect"]
    assert len(found) == 1, "one container named collect"
    return found[0]


def argv(container: Doc) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def tolerates(toleration: Doc, taint: Doc) -> bool:
    """Kubernetes' Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("key") and toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("value")
    return bool(toleration.get("key")) and toleration.get("value", "") == taint.get("value", "")


def review(workload: Doc) -> list[str]:
    """What a reviewer would refuse in a collector workload; [] when it is right."""
    problems: list[str] = []
    pod = pod_spec(workload)
    host_volumes = {v["name"] for v in pod.get("volumes", []) if v.get("hostPath", {}).get("path") == "/"}
    if not pod.get("hostPID"):
        problems.append("hostPID is not true")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("the pod mounts a service account token")
    pod_sc = pod.get("securityContext", {})
    if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("seccompProfile is not RuntimeDefault")
    if not any(tolerates(t, CONTROL_PLANE_TAINT) for t in pod.get("tolerations", [])):
        problems.append("control-plane nodes are not tolerated")
    if len(host_volumes) != 1:
        problems.append(f"expected one hostPath volume of /, found {len(host_volumes)}")
    cmd = argv(collector(pod))
    if cmd[:len(COLLECT)] != COLLECT:
        problems.append(f"the collector does not run {' '.join(COLLECT)}: {cmd}")
    if collector(pod).get("securityContext", {}).get("runAsUser", pod_sc.get("runAsUser")) != 0:
        problems.append("the collector does not run as root (root-only files)")
    for c in all_containers(pod):
        name, sc = c["name"], c.get("securityContext", {})
        if sc.get("privileged") or pod_sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        caps = sc.get("capabilities", {})
        if caps.get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities do not drop ALL")
        wanted = COLLECTOR_CAPS if name in NODE_READERS else set()
        if set(caps.get("add", [])) != wanted or len(caps.get("add", [])) != len(wanted):
            problems.append(f"{name}: adds capabilities {caps.get('add', [])}, not {sorted(wanted)}")
        resources = c.get("resources", {})
        if not (resources.get("requests") and resources.get("limits", {}).get("memory")):
            problems.append(f"{name}: no resource requests or memory limit")
        for mount in c.get("volumeMounts", []):
            if mount["name"] not in host_volumes:
                continue
            if name not in NODE_READERS:
                problems.append(f"{name}: mounts the node's /")
            if mount["mountPath"] != "/host" or mount.get("readOnly") is not True:
                problems.append(f"{name}: / is not mounted read-only at /host")
            if mount.get("recursiveReadOnly") not in ("IfPossible", "Enabled"):
                problems.append(f"{name}: /host is not recursively read-only (submounts stay writable)")
    if not any(m["name"] in host_volumes and m["mountPath"] == "/host" for m in collector(pod).get("volumeMounts", [])):
        problems.append("collect: / is not mounted at /host")
    return problems


def pod_contract(workload: Doc) -> Doc:
    """The part of a collector pod that decides what it may read and how it runs the
    collector; the Job and the DaemonSet must agree on all of it."""
    pod = pod_spec(workload)
    contract = {k: v for k, v in pod.items() if k not in PER_KIND}
    contract["collect"] = collector(pod)
    return contract


def test_review_passes(workloads: dict[str, Doc]) -> None:
    for where, workload in workloads.items():
        assert review(workload) == [], where


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation of the collector pod: 'pod.hostPID', 'collect.securityContext.privileged'..."""
    def mutate(pod: Doc) -> None:
        head, *keys = path.split(".")
        target = pod if head == "pod" else collector(pod) if head == "collect" else \
            next(c for c in all_containers(pod) if c["name"] == head)
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if value is _DELETE:
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = value
    return mutate


_DELETE = object()


def _host_mount(pod: Doc) -> Doc:
    return next(m for m in collector(pod)["volumeMounts"] if m["mountPath"] == "/host")


MUTATIONS: dict[str, tuple[Callable[[Doc], None], str]] = {
    "no hostPID": (_set("pod.hostPID", False), "hostPID"),
    "token mounted": (_set("pod.automountServiceAccountToken", _DELETE), "token"),
    "seccomp unconfined": (_set("pod.securityContext.seccompProfile", {"type": "Unconfined"}), "seccomp"),
    "no tolerations": (_set("pod.tolerations", []), "control-plane"),
    "other taint only": (_set("pod.tolerations", [{"key": "gpu", "operator": "Exists"}]), "control-plane"),
    "wrong command": (_set("collect.command", ["podaudit", "node"]), "does not run"),
    "no root": (_set("pod.securityContext.runAsUser", 1000), "root"),
    "privileged": (_set("collect.securityContext.privileged", True), "privileged"),
    "escalation": (_set("collect.securityContext.allowPrivilegeEscalation", True), "allowPrivilegeEscalation"),
    "writable rootfs": (_set("collect.securityContext.readOnlyRootFilesystem", False), "readOnlyRootFilesystem"),
    "no drop ALL": (_set("collect.securityContext.capabilities.drop", ["NET_RAW"]), "drop ALL"),
    "SYS_ADMIN": (_set("collect.securityContext.capabilities.add", [*COLLECTOR_CAPS, "SYS_ADMIN"]), "adds"),
    "no SYS_PTRACE": (_set("collect.securityContext.capabilities.add", ["DAC_READ_SEARCH"]), "adds"),
    "no limits": (_set("collect.resources", {}), "resource"),
    "host / writable": (lambda pod: _host_mount(pod).update(readOnly=False), "read-only at /host"),
    "only top read-only": (lambda pod: _host_mount(pod).pop("recursiveReadOnly"), "recursively"),
    "host / elsewhere": (lambda pod: _host_mount(pod).update(mountPath="/node"), "at /host"),
    "host path not /": (lambda pod: pod["volumes"][0]["hostPath"].update(path="/etc"), "hostPath volume"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_review_catches(workloads: dict[str, Doc], mutation: str) -> None:
    mutate, expected = MUTATIONS[mutation]
    for where, workload in workloads.items():
        broken = copy.deepcopy(workload)
        host = [v for v in pod_spec(broken)["volumes"] if v.get("hostPath", {}).get("path") == "/"]
        pod_spec(broken)["volumes"] = [*host, *[v for v in pod_spec(broken)["volumes"] if v not in host]]
        mutate(pod_spec(broken))
        problems = review(broken)
        assert any(expected in p for p in problems), f"{where}, {mutation}: {problems}"


def test_review_catches_extra_caps_on_the_other_container(workloads: dict[str, Doc]) -> None:
    broken = copy.deepcopy(workloads["base DaemonSet"])
    pod_spec(broken)["containers"].append({
        "name": "sidecar", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["SYS_PTRACE"]}},
        "volumeMounts": [{"name": "host", "mountPath": "/host"}]})
    problems = review(broken)
    assert any(p.startswith("sidecar: adds") for p in problems)
    assert "sidecar: mounts the node's /" in problems


# --- schema validation ---------------------------------------------------------------------

def schema_cases() -> Iterator[Any]:
    for path in raw_manifests():
        for i, doc in enumerate(load(path)):
            if doc.get("apiVersion") == OPERATOR_API:
                continue
            for version in K8S_VERSIONS:
                yield pytest.param(doc, version, id=f"{path.relative_to(DEPLOY)}#{i}-{doc.get('kind')}-{version}")


@pytest.mark.parametrize(("doc", "version"), list(schema_cases()))
def test_manifest_is_valid(doc: Doc, version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_kustomizations_are_valid(rendered: dict[str, list[Doc]], version: str) -> None:
    for where, docs in rendered.items():
        assert docs, where
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where}: {doc['kind']} {doc['metadata']['name']}: {exc}")


def test_strict_validation_bites(workloads: dict[str, Doc]) -> None:
    """The validator refuses a misspelt field and a wrong type: it is not a no-op."""
    misspelt = copy.deepcopy(workloads["job.yaml"])
    collector(pod_spec(misspelt))["securityContext"]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, K8S_VERSIONS[-1], strict=True)
    wrong = copy.deepcopy(workloads["base DaemonSet"])
    pod_spec(wrong)["hostPID"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, K8S_VERSIONS[0], strict=True)


def test_every_yaml_file_is_checked() -> None:
    """A manifest is validated, or a kustomization (rendered, then validated), or a patch a
    kustomization names; each kustomization's resources exist."""
    checked = {p.resolve() for p in raw_manifests()}
    for folder in kustomizations():
        checked.add((folder / "kustomization.yaml").resolve())
        checked.update(kustomize_refs(folder)[1])
        (k,) = load(folder / "kustomization.yaml")
        for name in k.get("resources", []):
            assert (folder / name).exists(), f"{folder}: resource {name} is missing"
    assert {p.resolve() for p in DEPLOY.rglob("*.y*ml")} == checked
    assert raw_manifests(), "no manifests found"


# --- the deployment as a whole ------------------------------------------------------------

def test_job_and_daemonset_pod_specs_agree(workloads: dict[str, Doc]) -> None:
    assert pod_contract(workloads["job.yaml"]) == pod_contract(workloads["base DaemonSet"])


def test_pod_contract_sees_a_difference(workloads: dict[str, Doc]) -> None:
    job = copy.deepcopy(workloads["job.yaml"])
    collector(pod_spec(job))["securityContext"]["capabilities"]["add"].append("NET_ADMIN")
    assert pod_contract(job) != pod_contract(workloads["base DaemonSet"])
    job = copy.deepcopy(workloads["job.yaml"])
    pod_spec(job)["hostNetwork"] = False
    assert pod_contract(job) != pod_contract(workloads["base DaemonSet"])


def test_log_mode_prints_an_armored_bundle(workloads: dict[str, Doc]) -> None:
    for where in ("base DaemonSet", "job.yaml"):
        cmd = argv(collector(pod_spec(workloads[where])))
        assert cmd[cmd.index("--output") + 1] == "armored", where
        assert cmd[cmd.index("--bundle") + 1] == "-", where
        assert "--redact" in cmd, f"{where}: bundles in logs are redacted"


def watch_container(pod: Doc) -> Doc:
    (watch,) = pod["containers"]
    assert watch["name"] == "watch"
    return watch


def test_daemonset_collects_once_then_watches(workloads: dict[str, Doc]) -> None:
    """A DaemonSet restarts exited containers: the one-shot collector is an init container
    (its bundle stays in its log); the main container is the long-running watch, printing
    JSON lines to its log and serving metrics on a named port its readiness probe checks."""
    for where in ("base DaemonSet", "shared-volume DaemonSet"):
        pod = pod_spec(workloads[where])
        assert [c["name"] for c in pod["initContainers"]] == ["collect"], where
        watch = watch_container(pod)
        cmd = argv(watch)
        assert cmd[:len(WATCH)] == WATCH, cmd
        assert cmd[cmd.index("-o") + 1] == "jsonl"
        host, _, port = cmd[cmd.index("--metrics") + 1].rpartition(":")
        (metrics,) = [p for p in watch["ports"] if p["name"] == "metrics"]
        assert int(port) == metrics["containerPort"] and metrics["protocol"] == "TCP"
        assert host == "0.0.0.0", "the readiness probe and the scraper reach the pod's (node's) address"
        probe = watch["readinessProbe"]["httpGet"]
        assert probe["port"] in ("metrics", metrics["containerPort"]) and probe["path"] == "/metrics"
        assert "--once" not in cmd and "--for" not in cmd, "a DaemonSet's main container must not exit"
        assert {m["name"] for m in watch["volumeMounts"]} >= {"host"}


WATCH_MUTATIONS: dict[str, tuple[Callable[[Doc], None], str]] = {
    "watch privileged": (_set("watch.securityContext.privileged", True), "watch: privileged"),
    "watch escalation": (_set("watch.securityContext.allowPrivilegeEscalation", True),
                         "watch: allowPrivilegeEscalation"),
    "watch SYS_ADMIN": (_set("watch.securityContext.capabilities.add", [*COLLECTOR_CAPS, "SYS_ADMIN"]), "watch: adds"),
    "watch writable rootfs": (_set("watch.securityContext.readOnlyRootFilesystem", False), "watch: readOnlyRoot"),
    "watch no limits": (_set("watch.resources", {}), "watch: no resource"),
    "watch host writable": (lambda pod: next(m for m in watch_container(pod)["volumeMounts"]
                                                 if m["name"] == "host").update(readOnly=False),
                            "watch: / is not mounted read-only"),
}


@pytest.mark.parametrize("mutation", sorted(WATCH_MUTATIONS))
def test_review_catches_on_the_watch_container(workloads: dict[str, Doc], mutation: str) -> None:
    mutate, expected = WATCH_MUTATIONS[mutation]
    for where in ("base DaemonSet", "shared-volume DaemonSet"):
        broken = copy.deepcopy(workloads[where])
        mutate(pod_spec(broken))
        assert any(expected in p for p in review(broken)), f"{where}, {mutation}: {review(broken)}"


def operator_docs() -> dict[str, Doc]:
    docs = {}
    for path in raw_manifests():
        for doc in load(path):
            if doc.get("apiVersion") == OPERATOR_API:
                docs[doc["kind"]] = doc
    return docs


def test_operator_resources_fit_the_daemonset(workloads: dict[str, Doc]) -> None:
    """The PodMonitor selects the DaemonSet's pods and scrapes its metrics port by name; both
    custom resources live in podaudit's namespace (their content: tests/test_watch_metrics.py)."""
    docs = operator_docs()
    assert set(docs) == {"PodMonitor", "PrometheusRule"}
    for doc in docs.values():
        assert doc["metadata"]["namespace"] == NAMESPACE and doc["metadata"]["name"]
    monitor = docs["PodMonitor"]["spec"]
    labels = workloads["base DaemonSet"]["spec"]["template"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= labels.items()
    assert not monitor["selector"]["matchLabels"].items() <= \
        workloads["job.yaml"]["spec"]["template"]["metadata"]["labels"].items()
    ports = {p["name"] for p in watch_container(pod_spec(workloads["base DaemonSet"]))["ports"]}
    for endpoint in monitor["podMetricsEndpoints"]:
        assert endpoint["port"] in ports and endpoint["path"] == "/metrics"


def test_job_runs_once_on_one_node(workloads: dict[str, Doc]) -> None:
    job = workloads["job.yaml"]
    assert job["spec"]["completions"] == 1
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    pod = pod_spec(job)
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeName"] == "NODE_NAME"
    assert "NODE_NAME" in job["metadata"]["name"]


def test_shared_volume_writes_a_file_the_hold_container_reads(workloads: dict[str, Doc]) -> None:
    pod = pod_spec(workloads["shared-volume DaemonSet"])
    cmd = argv(collector(pod))
    assert cmd[cmd.index("--bundle") + 1] == "/bundles/$(NODE_NAME).tar.gz"
    assert "--armor" not in cmd and "--output" not in cmd
    env = {e["name"]: e for e in collector(pod)["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    volume = next(v for v in pod["volumes"] if v["name"] == "bundles")
    assert volume["hostPath"]["path"] == "/var/lib/podaudit/bundles"
    mounts = watch_container(pod)["volumeMounts"]
    assert {"name": "bundles", "mountPath": "/bundles", "readOnly": True} in mounts


def test_namespace_service_account_and_placement(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["base"]
    ns = one(docs, "Namespace")
    assert ns["metadata"]["name"] == NAMESPACE
    # hostPID, hostPath and the added capabilities are refused by PodSecurity baseline.
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    sa = one(docs, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    for doc in [*docs, *load(DEPLOY / "job.yaml")]:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]
        if doc["kind"] in ("DaemonSet", "Job"):
            assert pod_spec(doc)["serviceAccountName"] == sa["metadata"]["name"]


def test_readme_matches_the_manifests(workloads: dict[str, Doc]) -> None:
    """The documented gathering command selects the DaemonSet's pods and reads the
    collector's log whole; the documented capabilities are the granted ones."""
    text = README.read_text(encoding="utf-8")
    for cap in COLLECTOR_CAPS:
        assert f"CAP_{cap}" in text, cap
    commands = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S)
                for line in block.replace("\\\n", " ").splitlines() if line.startswith("kubectl logs ")]
    assert commands, "no kubectl logs command in README.md"
    words = shlex.split(commands[0].split(">")[0])
    assert words[words.index("-c") + 1] == "collect"
    assert "--tail=-1" in words and "--prefix=false" in words
    selector = dict(kv.split("=") for kv in words[words.index("-l") + 1].split(","))
    labels = workloads["base DaemonSet"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert not selector.items() <= workloads["job.yaml"]["spec"]["template"]["metadata"]["labels"].items()


# --- Dockerfile ----------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        instruction, _, rest = whole.partition(" ")
        out.append((instruction.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def test_dockerfile_shape() -> None:
    steps = dockerfile()
    kinds = [k for k, _ in steps]
    known = {"ARG", "FROM", "WORKDIR", "COPY", "RUN", "LABEL", "ENV", "ENTRYPOINT", "CMD", "USER"}
    assert set(kinds) <= known, set(kinds) - known
    first = next(k for k in kinds if k != "ARG")
    assert first == "FROM", "only ARG may come before the first FROM"
    args = dict(a.partition("=")[::2] for k, a in steps[:kinds.index("FROM")] if k == "ARG")
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], a.split()[0]) for k, a in steps if k == "FROM"]
    assert re.fullmatch(r"python:3\.1[12]-slim", bases[-1]), bases
    entry = [a for k, a in steps if k == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["podaudit"], "ENTRYPOINT must be the exec form [\"podaudit\"]"
    assert entry_points(group="console_scripts", name="podaudit"), "no podaudit console script"


def test_dockerfile_installs_the_repository() -> None:
    installs = []
    for kind, rest in dockerfile():
        if kind == "RUN" and "pip install" in rest:
            words = shlex.split(rest)
            targets = [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
            installs.append((words, targets))
    assert installs, "no RUN pip install"
    words, targets = installs[0]
    assert targets == ["."], targets
    assert "--no-cache-dir" in words
    assert not any(k == "USER" and a.split(":")[0] not in ("0", "root") for k, a in dockerfile()), \
        "the collector reads root-only files: the image runs as root (docs/deploy/README.md)"


# --- .dockerignore -------------------------------------------------------------------------

def ignore_patterns() -> list[re.Pattern[str]]:
    out = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not modelled by this test"
        rx = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", line.strip("/")):
            rx += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        out.append(re.compile(rx))
    return out


def build_context() -> set[str]:
    """The files docker would send, as Docker reads .dockerignore (paths from the context's
    root, an excluded folder excludes what it holds)."""
    patterns = ignore_patterns()

    def excluded(rel: str) -> bool:
        return any(p.fullmatch(rel) for p in patterns)

    sent = set()
    for folder, dirs, files in os.walk(ROOT):
        rel_dir = os.path.relpath(folder, ROOT)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = [d for d in dirs if not excluded(prefix + d)]
        sent.update(prefix + f for f in files if not excluded(prefix + f))
    return sent


def test_build_context() -> None:
    sent = build_context()
    for needed in ("pyproject.toml", "README.md", "podaudit/cli/__init__.py", "podaudit/collect/gather/main.sh"):
        assert needed in sent, needed
    for kept_out in (".venv/", ".git/", "tests/", ".hypothesis/"):
        assert not any(s.startswith(kept_out) for s in sent), kept_out
    assert not any("__pycache__" in s or s.endswith(".egg-info") for s in sent)
    for kind, rest in dockerfile():
        if kind == "COPY" and not rest.startswith("--from"):
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert source in sent or any(s.startswith(source.rstrip("/") + "/") for s in sent), \
                    f"COPY {source}: not in the build context"
    size = sum((ROOT / s).stat().st_size for s in sent)
    assert size < 20 << 20, f"build context of {size} bytes"


def test_dockerignore_matcher_excludes() -> None:
    patterns = ignore_patterns()
    for path in (".venv", "podaudit/__pycache__", "podaudit/collect/__pycache__", "podaudit.egg-info", "tests"):
        assert any(p.fullmatch(path) for p in patterns), path
    assert not any(p.fullmatch("podaudit") or p.fullmatch("podaudit/cli/__init__.py") for p in patterns)
