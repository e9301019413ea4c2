"""Class 6 of the kubelet agreement corpus: a kubelet that cannot start runs nothing.

Each row is a kubeadm-shaped node tree (the deb package's kubelet.service and 10-kubeadm.conf,
kubeadm-flags.env, /etc/default/kubelet, config.yaml, one manifest) with no kubelet process,
changed in one place. ``want`` is the start of the reason the kubelet exits (``None``: it
starts); the pod from the manifest must then be ``kubelet-cannot-start``, never running, and
PA112 must name the word or file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import RULES, load_all_rules
from podaudit.collect.local import LocalNode
from podaudit.kubelet.resolve import NodeView, analyze_node
from tests.corpus import Case, cases
from tests.kubeadm_units import build

# kubernetes and systemd are beyond the mirror's size limit here: their rows name the function
# (a '#' anchor) as read in the search index; pflag v1.0.9 and component-* are read at their lines.
SERVER = "cmd/kubelet/app/server.go#NewKubeletCommand RunE (v1.31)"
MERGE = "cmd/kubelet/app/server.go#mergeKubeletConfigurations (v1.31)"
OPTS = "cmd/kubelet/app/options/options.go#ValidateKubeletFlags (v1.31)"
LABELS = "kubernetes/kubelet pkg/apis/well_known_labels.go (63b32497)"
PFLAG = "spf13/pflag v1.0.9 flag.go"
ENVFILE = "systemd src/basic/env-file.c#parse_env_file_internal (v256)"
REPLACE = "systemd src/basic/env-util.c#replace_env_argv (v256)"


def extra(args: str) -> dict[str, str]:
    """/etc/default/kubelet with KUBELET_EXTRA_ARGS as written (the file's own text)."""
    return {"etc/default/kubelet": f"KUBELET_EXTRA_ARGS={args}\n"}


ROWS = [
    Case("stock-kubeadm-starts", f"{SERVER}; {PFLAG} parseArgs L1129-1158", {}, None),
    Case("inline-comment-in-env-file", f"{ENVFILE} state VALUE: '#' is special only before a key; "
         f"{REPLACE}: a bare $VAR is split at white space; {SERVER} cleanFlagSet.Args() check",
         extra("--v=2 # debug"), "the kubelet exits at start: unknown command #"),
    Case("quoted-value-then-comment", f"{ENVFILE} state PRE_VALUE after a closing quote",
         extra('"--v=2" # debug'), "the kubelet exits at start: unknown command debug"),
    Case("comment-line-is-fine", f"{ENVFILE} state PRE_KEY: '#' starts a comment",
         {"etc/default/kubelet": "# KUBELET_EXTRA_ARGS=--v=2 # debug\nKUBELET_EXTRA_ARGS=--v=2\n"}, None),
    Case("bool-flag-then-false", f"{PFLAG} parseLongArg L978-1036; bool.go BoolVarP NoOptDefVal L56; "
         f"{SERVER} Args() check",
         extra("--fail-swap-on false"), "the kubelet exits at start: unknown command false"),
    Case("bool-flag-equals-false", f"{PFLAG} parseLongArg L978-1036; bool.go boolValue.Set L20-24",
         extra("--fail-swap-on=false"), None),
    Case("bool-flag-bad-value", f"{PFLAG} FlagSet.Set L484-514; errors.go InvalidValueError L116",
         extra("--anonymous-auth=no"),
         'the kubelet exits at start: invalid argument "no" for "--anonymous-auth" flag'),
    Case("flag-without-value-last", f"{PFLAG} parseLongArg L978-1036; errors.go ValueRequiredError L78",
         extra("--node-ip"), "the kubelet exits at start: flag needs an argument: --node-ip"),
    Case("flag-takes-next-word", f"{PFLAG} parseLongArg L978-1036 ('--flag arg' branch)",
         extra("--node-ip 10.0.0.5"), None),
    Case("wrong-case-flag", f"{PFLAG} parseLongArg L986-1010 (no case folding); errors.go L40; component-base "
         "cli/flag/flags.go WordSepNormalizeFunc L30-35", extra("--Node-Ip=10.0.0.5"),
         "the kubelet exits at start: unknown flag: --Node-Ip"),
    Case("underscore-flag-is-fine", "component-base cli/flag flags.go WordSepNormalizeFunc L30-35",
         extra("--node_ip=10.0.0.5"), None),
    Case("one-dash-long-flag", f"{PFLAG} parseSingleShortArg L1038-1112; errors.go NotExistError L44",
         extra("-node-ip=10.0.0.5"), "the kubelet exits at start: unknown shorthand flag: 'n' in -node-ip=10.0.0.5"),
    Case("short-v-is-fine", f"{PFLAG} parseSingleShortArg L1038-1112; klog -v shorthand", extra("-v4"), None),
    Case("triple-dash", f"{PFLAG} parseLongArg L981-984; errors.go InvalidSyntaxError L142", extra("---v=2"),
         "the kubelet exits at start: bad flag syntax: ---v=2"),
    Case("double-dash-then-flag", f"{PFLAG} parseArgs L1143-1147 ('--' ends the flags); {SERVER} Args() check",
         extra("-- --v=2"), "the kubelet exits at start: unknown command --v=2"),
    Case("double-dash-alone", f"{PFLAG} parseArgs L1143-1147", extra("--"), None),
    Case("help-exits", f"{SERVER} help branch; {PFLAG} parseLongArg L991-993", extra("--help"),
         "the kubelet exits at start: --help: the kubelet prints its help and exits"),
    Case("config-missing", "cmd/kubelet/app/server.go#loadConfigFile; pkg/kubelet/kubeletconfig/configfiles#Load",
         {"var/lib/kubelet/config.yaml": None}, "cannot read /var/lib/kubelet/config.yaml: missing"),
    Case("config-not-yaml", "pkg/kubelet/kubeletconfig/util/codec/codec.go#DecodeKubeletConfiguration",
         {"var/lib/kubelet/config.yaml": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: [\n"},
         "/var/lib/kubelet/config.yaml: invalid YAML"),
    Case("config-dir-missing", f"{MERGE}; Go path/filepath#WalkDir (Lstat of the root)",
         {**extra("--config-dir=/etc/kubernetes/kubelet.conf.d")},
         "--config-dir /etc/kubernetes/kubelet.conf.d: failed to merge kubelet configs"),
    Case("config-dir-bad-dropin", f"{MERGE}, #loadDropinConfigFileIntoJSON",
         {**extra("--config-dir=/etc/kubernetes/kubelet.conf.d"),
          "etc/kubernetes/kubelet.conf.d/20-x.conf": "staticPodPath: /srv\n"},
         "/etc/kubernetes/kubelet.conf.d/20-x.conf: has no apiVersion and kind"),
    Case("config-dir-skips-other-extensions", f"{MERGE} (filepath.Ext != .conf is skipped)",
         {**extra("--config-dir=/etc/kubernetes/kubelet.conf.d"),
          "etc/kubernetes/kubelet.conf.d/20-x.conf.bak": "not: a drop-in\n"}, None),
    Case("node-role-label-refused", f"{OPTS} ValidateKubeletFlags, isKubernetesLabel; {LABELS} IsKubeletLabel "
         "L67-80", extra("--node-labels=node-role.kubernetes.io/worker="),
         "failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: "
         "[node-role.kubernetes.io/worker]"),
    Case("node-namespace-label-allowed", f"{LABELS} kubeletLabelNamespaces L50-53, IsKubeletLabel L67-80",
         extra("--node-labels=node.kubernetes.io/role=worker,kubernetes.io/os=linux"), None),
    Case("custom-label-allowed", f"{OPTS} ValidateKubeletFlags (not a kubernetes.io label)",
         extra("--node-labels=role=worker"), None),
    Case("node-labels-accumulate", "component-base cli/flag/configuration_map.go ConfigurationMap.Set L36-49; "
         f"{OPTS} ValidateKubeletFlags", extra('"--node-labels=role=worker --node-labels=k8s.io/x=1"'),
         "labels specified with --node-labels: [k8s.io/x]"),
    Case("node-label-value-invalid", f"{OPTS} ValidateKubeletFlags (IsValidLabelValue)",
         extra("--node-labels=role=-worker"), "failed to validate kubelet flags: invalid node labels: 'role'"),
    Case("blank-hostname-override", "component-helpers node/util/hostname.go GetHostname L28-46; "
         f"{REPLACE}: EXTRACT_UNQUOTE keeps a quoted space in one word",
         extra("\"'--hostname-override= '\""), "--hostname-override is blank"),
    Case("empty-hostname-override", "component-helpers node/util/hostname.go GetHostname L28-33 (empty: os.Hostname)",
         extra('"--hostname-override= "'), None),
]


def view_of(root: Path) -> NodeView:
    node = LocalNode(str(root))
    return analyze_node(node.snapshot, node)


@cases(ROWS)
def test_the_kubelet_starts_or_exits_as_upstream_decides(case: Case, tmp_path: Path) -> None:
    view = view_of(build(tmp_path / case.id, case.given))
    states = {p.manifest_path: p.state for p in view.reconciled.pods}
    blockers = [b.text() for b in view.startup.blockers]
    if case.want is None:
        assert blockers == []
        assert states == {"/etc/kubernetes/manifests/etcd.yaml": "kubelet-not-running"}
        return
    assert any(case.want in b for b in blockers), blockers
    # No pod from these settings is reported as running: the kubelet never got that far.
    assert set(states.values()) <= {"kubelet-cannot-start"}
    load_all_rules()
    findings = list(RULES["PA112"].check(NodeContext(view, "control-plane")))
    assert findings and case.want[:20] in " ".join(f.message for f in findings)


def podaudit(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "podaudit", *args], capture_output=True, text=True, timeout=120)
    return proc.stdout


def test_node_and_sweep_name_the_line_the_stray_word_came_from(tmp_path: Path) -> None:
    root = str(build(tmp_path / "n", extra("--v=2 # debug")))
    node = json.loads(podaudit("--output", "json", "node", "--root", root))
    assert [p["state"] for p in node["static_pods"]] == ["kubelet-cannot-start"]
    assert any("unknown command # (word #; then debug" in p for p in node["problems"])
    sweep = json.loads(podaudit("--output", "json", "sweep", "--root", root))
    [pa112] = [f for f in sweep["findings"] if f["id"] == "PA112"]
    assert pa112["path"] == "/etc/default/kubelet" and "unknown command #" in pa112["message"]
    text = podaudit("node", "--root", root)
    assert "kubelet-cannot-start" in text and "unknown command #" in text


def conf(path: str) -> str:
    return f"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: {path}\n"


def dropins(flag: str, files: dict[str, str], links: dict[str, str] | None = None) -> tuple[str, dict[str, str],
                                                                                           dict[str, str]]:
    return flag, files, links or {}


WALK = "Go path/filepath#WalkDir (os.ReadDir order, Lstat root, no link followed)"
DROPIN_ROWS = [
    Case("dropins-in-walk-order", f"{MERGE}; {WALK}",
         dropins("/d", {"d/10-a.conf": conf("/a"), "d/20-sub/05.conf": conf("/sub"), "d/30.conf": conf("/c")}),
         "/c"),
    Case("subfolder-sorts-after", f"{MERGE}; {WALK}",
         dropins("/d", {"d/10-a.conf": conf("/a"), "d/20-sub/05.conf": conf("/sub")}), "/sub"),
    Case("extension-is-case-sensitive", f"{MERGE} (filepath.Ext(name) != \".conf\")",
         dropins("/d", {"d/10-a.conf": conf("/a"), "d/20-b.CONF": conf("/upper"), "d/30.conf.bak": conf("/bak")}),
         "/a"),
    Case("hidden-conf-is-read", f"{MERGE} (no hidden-file filter)",
         dropins("/d", {"d/.hidden.conf": conf("/hidden")}), "/hidden"),
    Case("linked-folder-is-not-walked", f"{MERGE}; {WALK}",
         dropins("/d", {"real/10-a.conf": conf("/linked")}, {"d": "/real"}), "/etc/kubernetes/manifests"),
    Case("linked-folder-with-slash-is-walked", f"{MERGE}; {WALK}; the kernel resolves 'link/'",
         dropins("/d/", {"real/10-a.conf": conf("/linked")}, {"d": "/real"}), "/linked"),
    Case("root-is-a-conf-file", f"{MERGE}; {WALK} (fn is called on the root itself)",
         dropins("/one.conf", {"one.conf": conf("/single")}), "/single"),
    Case("linked-subfolder-is-skipped", f"{MERGE}; {WALK}",
         dropins("/d", {"d/10-a.conf": conf("/a"), "real/20.conf": conf("/linked")}, {"d/20-sub": "/real"}), "/a"),
]


@cases(DROPIN_ROWS)
def test_the_drop_ins_that_apply_are_upstreams(case: Case, tmp_path: Path) -> None:
    flag, files, links = case.given
    root = build(tmp_path / "n", {**extra(f"--config-dir={flag}"), **files})
    for rel, target in links.items():
        (root / rel).symlink_to(target)
    view = view_of(root)
    assert view.startup.blockers == ()
    assert view.static_pod_path.value == case.want
