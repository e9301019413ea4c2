"""Class 3 of the kubelet agreement corpus: launchers that build the kubelet's words themselves.

MicroK8s ``kubelite`` (canonical/microk8s @d099c907, the v1.36.0 kubelite patch; its
``ReadArgsFromFile`` is byte-identical in v1.27.0) and the ``run-kubelite-with-args`` wrapper;
k3s ``pkg/daemons/agent`` and ``pkg/util/args.go`` (main, index copies 4664273863, 4833829603,
8075376521; the old layout @82394d7d); rke2 @6ce1a801. Go's own rules as of go1.19.
Each row is a node (files, a process or a unit); ``want`` is what the kubelet is handed
(its words, in order, with the file line each came from), the static pod path it reads, and
what stops the launcher. Stray words are words here: the kubelet refuses them itself.
"""

from __future__ import annotations

from typing import Any

from podaudit.kubelet.resolve import analyze_node
from podaudit.model import ProblemKind, ProcessRecord
from tests.corpus import Case, cases
from tests.memnode import mem_node

PATCH = "canonical/microk8s build-scripts/components/kubernetes/patches/v1.36.0/0000-Kubelite-integration.patch"
READ = f"{PATCH} cmd/kubelite/app/options/options.go ReadArgsFromFile"
MK = " (d099c907)"
TRIM = f"{READ} L61-65 TrimSpace, skip empty and '#'{MK}; go1.19 src/strings/strings.go TrimSpace L945-977"
QUOTES = f"{READ} L66-69 ReplaceAll of every \" and '{MK}"
SPLIT = f"{READ} L70-73 strings.Split(line, \" \"){MK}"
EXPAND = f"{READ} L72 os.ExpandEnv; go1.19 src/os/env.go Expand L16-45, getShellName L72-96"
OPEN = f"{READ} L52-55 klog.Fatalf on os.Open{MK}"
SCAN = f"{READ} L58-59, L75-77; go1.19 src/bufio/scan.go Scan L194 ErrTooLong, MaxScanTokenSize L80{MK}"
LINES = "go1.19 src/bufio/scan.go ScanLines L350-364, dropCR L337-342 (split at \\n, drop one trailing \\r)"
UTILS = "microk8s-resources/actions/common/utils.sh"
SANITISE = f"{UTILS} sanitise_args_kubelet L269-308, skip_opt_in_local_config L182-191{MK}"
WRAPPER = f"microk8s-resources/wrappers/run-kubelite-with-args L63-74{MK}"
SNAPCRAFT = f"snap/snapcraft.yaml daemon-kubelite L350-353; {PATCH} options.go NewOptions L37-48{MK}"
K3S = "k3s-io/k3s pkg/daemons/agent/agent.go"
EXTRACT = f"{K3S} extractConfigArgs L101-132 (main, index copy 4664273863)"
COPY = f"{K3S} extractConfigArgs L134-150, startKubelet L63-82 (main, index copy 4664273863)"
GETARGS = "k3s-io/k3s pkg/util/args.go GetArgs L27-95 (main, index copy 8075376521)"
OWN = "k3s-io/k3s pkg/daemons/agent/agent_linux.go kubeletArgsAndConfig L72-80, L107-109 (main, index copy 4833829603)"
OLD = "k3s-io/k3s pkg/daemons/agent/agent_linux.go kubeletArgs L61-78 (@82394d7d)"
DEFAULTS = f"{K3S} defaultKubeletConfig L247-249, writeKubeletConfig L155-161 (main, index copy 4664273863)"
LOWER = "k3s-io/k3s pkg/agent/util#GetHostnameAndIPs strings.ToLower (main, index copy 41795080075)"
RKE2 = "rancher/rke2 pkg/executor/staticpod/staticpod.go Kubelet L145-157 (6ce1a801)"
RKE2_CLOUD = ("rancher/rke2 pkg/rke2/rke2_linux.go L109-120, pkg/cli/cmds/root.go validateCloudProvider L245-273"
              " (6ce1a801)")

SNAP_DATA = "/var/snap/microk8s/current"
ARGS = f"{SNAP_DATA}/args/kubelet"
KUBELITE = ProcessRecord(700, ("/snap/microk8s/6070/kubelite", f"--kubelet-args-file={ARGS}"))
K3S_PROC = ProcessRecord(812, ("/usr/local/bin/k3s", "server"))
K3S_UNIT = "/etc/systemd/system/k3s.service"
CONF_D = "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d"
DEFAULT_PODS = "/var/lib/rancher/k3s/agent/pod-manifests"
HEAD = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
K3S_DEFAULTS = {f"{CONF_D}/00-k3s-defaults.conf": HEAD + f"staticPodPath: {DEFAULT_PODS}\n"}


def lite(text: str, **files: str) -> dict[str, Any]:
    """A MicroK8s node whose kubelet args file holds ``text``."""
    return {"files": {ARGS: text, **{k.replace("__", "/"): v for k, v in files.items()}}, "processes": [KUBELITE]}


def k3s(*kubelet_args: str, managed: bool = True, flags: str = "",
        files: dict[str, str] | None = None) -> dict[str, Any]:
    """A k3s server started by its unit with these --kubelet-arg values, in this order."""
    words = " ".join([flags, *(f"--kubelet-arg={a}" for a in kubelet_args)]).strip()
    unit = f"[Service]\nExecStart=/usr/local/bin/k3s server {words}\n"
    base = {K3S_UNIT: unit, **(K3S_DEFAULTS if managed else {})}
    return {"files": {**base, **(files or {})}, "processes": [K3S_PROC]}


def rke2(flags: str = "") -> dict[str, Any]:
    """rke2 not running: its unit is what would start it."""
    conf = "/var/lib/rancher/rke2/agent/etc/kubelet.conf.d/00-rke2-defaults.conf"
    return {"files": {"/usr/local/lib/systemd/system/rke2-server.service":
                      f"[Service]\nExecStart=/usr/local/bin/rke2 server {flags}\n",
                      conf: HEAD + "staticPodPath: /var/lib/rancher/rke2/agent/pod-manifests\n"}}


MANAGED = [f"--config-dir={CONF_D}"]
# k3s always names its kubelet: --node-name, else the hostname (mem_node's), lowercased.
NAMED = "--hostname-override=node-a"
LONG = "--node-labels=" + "x" * (64 * 1024 - 14)
RKE2_FIRST = ["--volume-plugin-dir=/var/lib/kubelet/volumeplugins", "--file-check-frequency=5s",
              "--sync-frequency=30s"]
RKE2_CONF_D = "--config-dir=/var/lib/rancher/rke2/agent/etc/kubelet.conf.d"

KUBELITE_ROWS = [
    Case("kubelite-flag-equals-value", EXPAND, lite("--root-dir=${SNAP_COMMON}/var/lib/kubelet\n"),
         {"words": ["--root-dir=/var/snap/microk8s/common/var/lib/kubelet"]}),
    Case("kubelite-flag-space-value-is-two-words", SPLIT, lite("--v=2\n--pod-manifest-path ${SNAP_DATA}/pods\n"),
         {"words": ["--v=2", "--pod-manifest-path", f"{SNAP_DATA}/pods"], "path": f"{SNAP_DATA}/pods",
          "line": {f"{SNAP_DATA}/pods": 2}}),
    Case("kubelite-quotes-deleted", QUOTES, lite('--eviction-hard="memory.available<100Mi,nodefs.available<1Gi"\n'),
         {"words": ["--eviction-hard=memory.available<100Mi,nodefs.available<1Gi"]}),
    Case("kubelite-quoted-space-splits-the-value", QUOTES + "; " + SPLIT, lite('--v=1\n--node-labels="a=1, b=2"\n'),
         {"words": ["--v=1", "--node-labels=a=1,", "b=2"], "line": {"b=2": 2}}),
    Case("kubelite-two-spaces-give-an-empty-word", SPLIT, lite("--config-dir  /x\n"),
         {"words": ["--config-dir", "", "/x"], "line": {"/x": 1}}),
    Case("kubelite-inline-comment-is-words", TRIM + "; " + SPLIT, lite("--v=2 # debug\n"),
         {"words": ["--v=2", "#", "debug"], "line": {"#": 1}}),
    Case("kubelite-comment-and-blank-lines-skipped", TRIM, lite("  # a comment\n\n\t--v=3\t\n"),
         {"words": ["--v=3"], "line": {"--v=3": 3}}),
    Case("kubelite-tab-is-not-a-separator", SPLIT, lite("--v=2\t--max-pods=5\n"),
         {"words": ["--v=2\t--max-pods=5"]}),
    Case("kubelite-only-newline-ends-a-line", LINES, lite("--v=2\r--max-pods=5\r\n"),
         {"words": ["--v=2\r--max-pods=5"]}),
    Case("kubelite-quotes-removed-after-the-empty-test", TRIM + "; " + QUOTES, lite('""\n'),
         {"words": [""], "line": {"": 1}}),
    Case("kubelite-quoted-hash-is-not-a-comment", TRIM + "; " + QUOTES, lite('"# old"\n'),
         {"words": ["#", "old"]}),
    Case("kubelite-every-quote-deleted", QUOTES, lite("--node-labels='it''s'=x\n"),
         {"words": ["--node-labels=its=x"]}),
    Case("kubelite-snap-variables-expand", EXPAND, lite("--cert-dir=${SNAP}/certs\n--root-dir=$SNAP_DATA/r\n"),
         {"words": ["--cert-dir=/snap/microk8s/current/certs", f"--root-dir={SNAP_DATA}/r"]}),
    Case("kubelite-unknown-variable-is-empty", EXPAND, lite("--pod-manifest-path=$NOT_SET/pods\n"),
         {"words": ["--pod-manifest-path=/pods"], "path": "/pods"}),
    Case("kubelite-go-expand-edge-syntax", EXPAND, lite("--a=${B\n--c=${}d\n--e=$\n--f=$/g\n--h=$1i\n"),
         {"words": ["--a=B", "--c=d", "--e=$", "--f=$/g", "--h=i"]}),
    Case("kubelite-line-just-under-the-scanner-limit", SCAN, lite(LONG[:-1] + "\n"),
         {"count": 1}),
    Case("kubelite-line-at-the-scanner-limit-stops-kubelite", SCAN, lite(LONG + "\n--v=2\n"),
         {"words": [], "problem": "Failed to read arguments file bufio.Scanner: token too long"}),
    Case("kubelite-missing-args-file-stops-kubelite", OPEN, {"files": {}, "processes": [KUBELITE]},
         {"words": [], "problem": f"Failed to open arguments file open {ARGS}: no such file or directory"}),
    Case("sanitiser-removes-a-removed-flag-at-next-start", SANITISE + "; " + WRAPPER,
         lite("--v=2\n--network-plugin=cni\n--container-runtime remote\n"),
         {"words": ["--v=2"], "step": "removed at the next start"}),
    Case("sanitiser-keeps-a-bare-flag-at-end-of-line", SANITISE, lite("--logtostderr\n"),
         {"words": ["--logtostderr"]}),
    Case("sanitiser-drops-deviceplugins-gate", SANITISE, lite("--feature-gates=DevicePlugins=true,Foo=false\n"),
         {"words": ["--feature-gates=,Foo=false"]}),
    Case("sanitiser-off-with-the-lock-file", WRAPPER,
         lite("--network-plugin=cni\n", **{f"{SNAP_DATA}/var/lock/no-arg-sanitisation": ""}),
         {"words": ["--network-plugin=cni"]}),
    Case("kubelite-unit-reads-the-default-args-file", SNAPCRAFT,
         {"files": {ARGS: "--pod-manifest-path=/srv/p\n", "/etc/systemd/system/snap.microk8s.daemon-kubelite.service":
                    "[Service]\nExecStart=/usr/bin/snap run microk8s.daemon-kubelite\n"}},
         {"words": ["--pod-manifest-path=/srv/p"], "path": "/srv/p"}),
]

K3S_ROWS = [
    Case("k3s-managed-config-dir-only", OWN + "; " + DEFAULTS, k3s(),
         {"words": [*MANAGED, NAMED], "path": DEFAULT_PODS}),
    Case("k3s-user-pod-manifest-path-flag", GETARGS, k3s("pod-manifest-path=/x"),
         {"words": [*MANAGED, NAMED, "--pod-manifest-path=/x"], "path": "/x"}),
    Case("k3s-config-is-copied-not-passed", EXTRACT + "; " + COPY,
         k3s("config=/etc/k/kc.yaml", files={"/etc/k/kc.yaml": HEAD + "staticPodPath: /y\n",
                                             f"{CONF_D}/10-cli-config.conf": HEAD + "staticPodPath: /y\n"}),
         {"words": [*MANAGED, NAMED], "path": "/y"}),
    Case("k3s-config-copy-differs", COPY,
         k3s("config=/etc/k/kc.yaml", files={"/etc/k/kc.yaml": HEAD + "staticPodPath: /new\n",
                                             f"{CONF_D}/10-cli-config.conf": HEAD + "staticPodPath: /old\n"}),
         {"words": [*MANAGED, NAMED], "path": "/old",
          "problem": "k3s copies /etc/k/kc.yaml at start; the copy differs"}),
    Case("k3s-config-source-missing", COPY, k3s("config=/etc/k/gone.yaml"),
         {"words": [*MANAGED, NAMED], "problem": "k3s cannot copy config /etc/k/gone.yaml"}),
    Case("k3s-config-dir-copied-in-order", COPY,
         k3s("config-dir=/etc/k/d", files={"/etc/k/d/50.conf": HEAD + "staticPodPath: /z\n",
                                           f"{CONF_D}/20-cli-config-dir/50.conf": HEAD + "staticPodPath: /z\n"}),
         {"words": [*MANAGED, NAMED], "path": "/z"}),
    Case("k3s-config-dir-copy-differs", COPY,
         k3s("config-dir=/etc/k/d", files={"/etc/k/d/50.conf": HEAD + "staticPodPath: /z\n"}),
         {"words": [*MANAGED, NAMED], "path": DEFAULT_PODS, "problem": "the copy differs (50.conf)"}),
    Case("k3s-config-inside-conf-d-not-copied", COPY,
         k3s(f"config={CONF_D}/99-mine.conf", files={f"{CONF_D}/99-mine.conf": HEAD + "staticPodPath: /m\n"}),
         {"words": [*MANAGED, NAMED], "path": "/m"}),
    Case("k3s-empty-config-value-stops-k3s", EXTRACT, k3s("config="),
         {"problem": "value required for kubelet-arg --config"}),
    Case("k3s-config-dir-takes-next-kubelet-arg", EXTRACT,
         k3s("config-dir", "/etc/k/d", files={"/etc/k/d/a.conf": HEAD, f"{CONF_D}/20-cli-config-dir/a.conf": HEAD}),
         {"words": [*MANAGED, NAMED]}),
    Case("k3s-bare-kubelet-arg-swallows-the-next", EXTRACT + "; " + GETARGS,
         k3s("fail-swap-on", "pod-manifest-path=/x"),
         {"words": [*MANAGED, "--fail-swap-on=true", NAMED], "path": DEFAULT_PODS,
          "problem": "kubelet-arg 'pod-manifest-path=/x' is dropped"}),
    Case("k3s-config-plus-is-not-stripped", EXTRACT + "; " + GETARGS, k3s("config+=/c.yaml"),
         {"words": ["--config=/c.yaml", *MANAGED, NAMED]}),
    Case("k3s-user-key-replaces-k3s-own", GETARGS + "; " + OWN, k3s("hostname-override=Foo", flags="--node-name=web"),
         {"words": [*MANAGED, "--hostname-override=Foo"]}),
    Case("k3s-node-label-becomes-node-labels", OWN.replace(" L72-80, L107-109", "#argsMap[node-labels]") + "; "
         + GETARGS, k3s(flags="--node-label=role=worker --node-label=tier=edge"),
         {"words": [*MANAGED, NAMED, "--node-labels=role=worker,tier=edge"]}),
    Case("k3s-node-name-lowercased", LOWER + "; " + OWN, k3s(flags="--node-name=Web1"),
         {"words": [*MANAGED, "--hostname-override=web1"], "node": "web1"}),
    Case("k3s-sorted-by-key-repeats-kept", GETARGS, k3s("max-pods=1", "eviction-hard=a<1", "max-pods=2"),
         {"words": [*MANAGED, "--eviction-hard=a<1", NAMED, "--max-pods=1", "--max-pods=2"]}),
    Case("k3s-minus-prepends-plus-appends", GETARGS, k3s("max-pods=1", "max-pods-=2", "max-pods+=3"),
         {"words": [*MANAGED, NAMED, "--max-pods=2", "--max-pods=1", "--max-pods=3"]}),
    Case("k3s-old-layout-passes-pod-manifest-path", OLD, k3s(managed=False),
         {"words": [NAMED, f"--pod-manifest-path={DEFAULT_PODS}"], "path": DEFAULT_PODS}),
    Case("k3s-old-layout-user-path-replaces-k3s-own", OLD + "; " + GETARGS, k3s("pod-manifest-path=/u", managed=False),
         {"words": [NAMED, "--pod-manifest-path=/u"], "path": "/u"}),
    Case("k3s-old-layout-passes-config-through", OLD + "; " + GETARGS,
         k3s("config=/etc/k/kc.yaml", managed=False, files={"/etc/k/kc.yaml": HEAD + "staticPodPath: /y\n"}),
         {"words": ["--config=/etc/k/kc.yaml", NAMED, f"--pod-manifest-path={DEFAULT_PODS}"],
          "path": DEFAULT_PODS}),
    Case("k3s-old-layout-bare-arg-swallows-nothing", OLD + "; " + GETARGS,
         k3s("fail-swap-on", "max-pods=9", managed=False),
         {"words": ["--fail-swap-on=true", NAMED, "--max-pods=9",
                    f"--pod-manifest-path={DEFAULT_PODS}"]}),
    Case("rke2-puts-its-flags-first", RKE2 + "; " + OWN, rke2(),
         {"words": [*RKE2_FIRST, RKE2_CONF_D, NAMED], "path": "/var/lib/rancher/rke2/agent/pod-manifests"}),
    Case("rke2-bundled-cloud-provider-is-external", RKE2 + "; " + RKE2_CLOUD, rke2("--cloud-provider-name=harvester"),
         {"words": [*RKE2_FIRST, "--cloud-provider=external", RKE2_CONF_D, NAMED]}),
    Case("rke2-aws-cloud-provider-passes-none", RKE2_CLOUD, rke2("--cloud-provider-name=aws"),
         {"words": [*RKE2_FIRST, RKE2_CONF_D, NAMED]}),
]


@cases(KUBELITE_ROWS + K3S_ROWS)
def test_launcher_builds_the_kubelets_words(case: Case) -> None:
    view = analyze_node(mem_node(case.given["files"], processes=case.given.get("processes", [])))
    args = view.invocation.args
    words = [a.value for a in args]
    want = case.want
    if "words" in want:
        assert words == want["words"]
    if "count" in want:
        assert len(words) == want["count"]
    if "path" in want:
        assert view.static_pod_path.value == want["path"]
    if "node" in want:
        assert view.node_name.value == want["node"]
    for word, line in want.get("line", {}).items():
        origin = next(a.origin for a in args if a.value == word)
        assert (origin.source, origin.line) == (ARGS, line)
    if "step" in want:
        assert any(want["step"] in s.what for s in view.invocation.discovery)
    # What the launcher itself says (the kubelet's own refusals of stray words are another class's).
    launcher = [p.text() for p in view.problems if p.kind in {ProblemKind.KUBELET, ProblemKind.CANNOT_START}
                and any(w in p.detail for w in ("kubelite", "k3s", "kubelet-arg"))]
    if "problem" in want:
        assert any(want["problem"] in p for p in launcher), launcher
        # A launcher that cannot start its kubelet: nothing runs (kubelet/startup.py).
        stops = [p for p in launcher if "the kubelet cannot start:" in p]
        assert bool(view.startup.blockers) == bool(stops), (stops, view.startup.blockers)
        assert all(p.state == "kubelet-cannot-start" for p in view.reconciled.pods) or not stops
    else:
        assert not launcher, launcher


def test_a_k3s_node_role_label_stops_its_kubelet() -> None:
    """k3s passes --node-label values as the kubelet's --node-labels (kubeletArgsAndConfig); the
    kubelet's ValidateKubeletFlags refuses node-role.kubernetes.io labels: k3s (not running
    here) would start a kubelet that exits, so no static pod runs."""
    files = {**k3s()["files"], "/etc/rancher/k3s/config.yaml": "node-label:\n  - node-role.kubernetes.io/worker=true\n",
             f"{DEFAULT_PODS}/web.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
                                         "  - {name: c, image: nginx}\n"}
    view = analyze_node(mem_node(files))
    assert any("labels specified with --node-labels: [node-role.kubernetes.io/worker]" in b.detail
               for b in view.startup.blockers)
    assert [p.state for p in view.reconciled.pods] == ["kubelet-cannot-start"]
