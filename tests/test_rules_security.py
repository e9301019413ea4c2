"""PA401-PA406 on real-shaped node trees: a clean copy of the kubeadm-usrlib fixture, changed
one thing at a time (modes and owners through podaudit.meta.json, as docs/snapshot-format.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from podaudit.audit import registry, rules_pods
from podaudit.audit.context import NodeContext
from podaudit.collect.local import LocalNode
from podaudit.kubelet.resolve import NodeView, analyze_node
from podaudit.model import FileRecord
from tests.memnode import mem_node

registry.load_all_rules()  # PA401-PA406 live in rules_files, rules_pods and rules_kubelet_api
NODES = Path(__file__).parent / "fixtures" / "nodes"
DEMO = Path(__file__).parent.parent / "podaudit" / "demo" / "cluster" / "nodes"
SECURITY = ("PA401", "PA402", "PA403", "PA404", "PA405", "PA406")
MANIFESTS = "/etc/kubernetes/manifests"
CMDLINE = "proc/1362/cmdline"
# What CIS asks of kubeadm-usrlib's files that its side file gives 0644 (and the parents that
# a git checkout gives whatever the umask said): set explicitly, so "clean" is the same everywhere.
CLEAN = {
    "/": {"mode": "0755"}, "/etc": {"mode": "0755"}, "/etc/kubernetes": {"mode": "0755"},
    "/var/lib/kubelet/config.yaml": {"mode": "0600"},
    "/var/lib/kubelet/kubeadm-flags.env": {"mode": "0600"},
    "/etc/sysconfig/kubelet": {"mode": "0600"},
    "/usr/lib/systemd/system/kubelet.service": {"mode": "0600"},
    "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": {"mode": "0600"},
}
PRIVILEGED = """\
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: default}
spec:
  hostPID: true
  containers:
  - name: agent
    image: busybox
    securityContext:
      privileged: true
      capabilities: {add: [NET_ADMIN, CAP_SYS_ADMIN, CHOWN]}
  volumes:
  - name: root
    hostPath: {path: /}
"""


def node_tree(tmp_path: Path, meta: dict[str, dict[str, Any]] | None = None,
              files: dict[str, str] | None = None, links: dict[str, str] | None = None,
              dirs: tuple[str, ...] = (), cmdline: list[str] | None = None) -> Path:
    """A clean kubeadm control plane (cp-1) in tmp_path, with the changes asked for."""
    root = tmp_path / "node"
    shutil.copytree(NODES / "kubeadm-usrlib", root, symlinks=True)
    side = json.loads((root / "podaudit.meta.json").read_text())
    side["paths"].update(CLEAN)
    # New files and directories: CIS-clean unless asked otherwise, whatever the umask says.
    side["paths"].update({p: {"mode": "0600"} for p in files or {}})
    side["paths"].update({p: {"mode": "0755"} for p in dirs})
    side["paths"].update(meta or {})
    (root / "podaudit.meta.json").write_text(json.dumps(side))
    for path in dirs:
        (root / path.lstrip("/")).mkdir(parents=True)
    for path, text in (files or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for path, target_path in (links or {}).items():
        (root / path.lstrip("/")).symlink_to(target_path)
    if cmdline is not None:
        (root / CMDLINE).write_bytes(b"\0".join(w.encode() for w in cmdline) + b"\0")
    return root


def view_of(root: Path) -> NodeView:
    node = LocalNode(str(root))
    return analyze_node(node.snapshot, node)


def run(rule_id: str, view: NodeView, expected: Any = None) -> list[registry.Finding]:
    return list(registry.RULES[rule_id].check(NodeContext(view, "control-plane", expected)))


def messages(rule_id: str, view: NodeView, expected: Any = None) -> list[tuple[str | None, str]]:
    found = run(rule_id, view, expected)
    assert all(f.severity == registry.RULES[rule_id].severity for f in found)
    return [(f.path, f.message) for f in found]


def kubeadm_cmdline() -> list[str]:
    return (NODES / "kubeadm-usrlib" / CMDLINE).read_bytes().decode().rstrip("\0").split("\0")


def test_rules_registered_with_docs() -> None:
    severities = {"PA401": "medium", "PA402": "medium", "PA403": "high", "PA404": "medium",
                  "PA405": "high", "PA406": "high"}
    for rule_id, severity in severities.items():
        found = registry.RULES[rule_id]
        assert found.severity == severity
        assert found.scope == "node"
        assert found.what and found.why and found.fix and found.example
    assert "CIS" in registry.RULES["PA401"].why
    assert "MS-TA9017" in registry.RULES["PA403"].why


def test_clean_kubeadm_node_is_silent(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path))
    assert len(view.static_pods) == 4
    for rule_id in SECURITY:
        assert run(rule_id, view) == [], rule_id


def test_shared_kubeadm_fixture_fails_cis_4_1_only(tmp_path: Path) -> None:
    """kubeadm-usrlib (as shipped) gives its unit, drop-in, env files and config.yaml 0644:
    CIS 4.1.1/4.1.9 want 600, so PA404 fires on those five files and nothing else does."""
    view = view_of(NODES / "kubeadm-usrlib")
    assert [p for p, _ in messages("PA404", view)] == [
        "/var/lib/kubelet/config.yaml",
        "/usr/lib/systemd/system/kubelet.service",
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/var/lib/kubelet/kubeadm-flags.env",
        "/etc/sysconfig/kubelet",
    ]
    for rule_id in ("PA401", "PA402", "PA405", "PA406"):
        assert run(rule_id, view) == [], rule_id


@pytest.mark.parametrize("node", ["controlplane", "node01"])
def test_demo_nodes(node: str) -> None:
    """The demo's nodes fail the same CIS 4.1 file checks, and nothing else (the parents'
    modes come from the checkout, so PA403 is not asserted on the shipped tree)."""
    view = view_of(DEMO / node)
    assert [p for p, _ in messages("PA404", view)] == [
        "/var/lib/kubelet/config.yaml",
        "/lib/systemd/system/kubelet.service",
        "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/var/lib/kubelet/kubeadm-flags.env",
        "/etc/default/kubelet",
    ]
    for rule_id in ("PA401", "PA402", "PA405", "PA406"):
        assert run(rule_id, view) == [], rule_id


def test_pa401_every_entry_the_kubelet_reads(tmp_path: Path) -> None:
    root = node_tree(
        tmp_path,
        meta={
            MANIFESTS: {"mode": "0775"},
            f"{MANIFESTS}/kube-apiserver.yaml": {"mode": "0644"},
            f"{MANIFESTS}/etcd.yaml.bak": {"mode": "0640"},
            f"{MANIFESTS}/notes.txt": {"mode": "0666"},
            f"{MANIFESTS}/.hidden.yaml": {"mode": "0666"},
            f"{MANIFESTS}/old": {"mode": "0777"},
            "/opt/pods/agent.yaml": {"mode": "0604"},
        },
        files={
            f"{MANIFESTS}/etcd.yaml.bak": (NODES / "kubeadm-usrlib/etc/kubernetes/manifests/etcd.yaml").read_text(),
            f"{MANIFESTS}/notes.txt": "just some notes\n",
            f"{MANIFESTS}/.hidden.yaml": "x: 1\n",
            "/opt/pods/agent.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: agent}\n"
                                    "spec: {containers: [{name: a, image: busybox}]}\n",
        },
        links={f"{MANIFESTS}/agent.yaml": "/opt/pods/agent.yaml"},
        dirs=(f"{MANIFESTS}/old",),
    )
    view = view_of(root)
    assert messages("PA401", view) == [
        (MANIFESTS, "cp-1: static pod directory /etc/kubernetes/manifests has mode 0775, more permissive than 0755"),
        (f"{MANIFESTS}/agent.yaml", "cp-1: manifest /etc/kubernetes/manifests/agent.yaml (-> /opt/pods/agent.yaml) "
                                    "(loaded) has mode 0604, more permissive than 0600"),
        (f"{MANIFESTS}/etcd.yaml.bak", "cp-1: manifest /etc/kubernetes/manifests/etcd.yaml.bak (loaded) has mode "
                                       "0640, more permissive than 0600"),
        (f"{MANIFESTS}/kube-apiserver.yaml", "cp-1: manifest /etc/kubernetes/manifests/kube-apiserver.yaml (loaded) "
                                             "has mode 0644, more permissive than 0600"),
        (f"{MANIFESTS}/notes.txt", "cp-1: manifest /etc/kubernetes/manifests/notes.txt (rejected) has mode 0666, "
                                   "more permissive than 0600"),
    ]
    fates = {e.path: e.fate for e in view.entries}
    assert fates[f"{MANIFESTS}/etcd.yaml"] == "shadowed"  # shadowed entries are judged too (it is 0600)


def test_pa401_shadowed_entry(tmp_path: Path) -> None:
    etcd = (NODES / "kubeadm-usrlib/etc/kubernetes/manifests/etcd.yaml").read_text()
    view = view_of(node_tree(tmp_path, meta={f"{MANIFESTS}/etcd.yaml": {"mode": "0644"}},
                             files={f"{MANIFESTS}/etcd.yaml~": etcd}))
    assert messages("PA401", view) == [
        (f"{MANIFESTS}/etcd.yaml", "cp-1: manifest /etc/kubernetes/manifests/etcd.yaml (shadowed) has mode 0644, "
                                   "more permissive than 0600"),
    ]


def test_pa402_owner(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, meta={
        MANIFESTS: {"gid": 1000},
        f"{MANIFESTS}/kube-scheduler.yaml": {"uid": 1000, "gid": 1000},
    }))
    assert messages("PA402", view) == [
        (MANIFESTS, "cp-1: static pod directory /etc/kubernetes/manifests is owned 0:1000, not root:root"),
        (f"{MANIFESTS}/kube-scheduler.yaml", "cp-1: manifest /etc/kubernetes/manifests/kube-scheduler.yaml (loaded) "
                                             "is owned 1000:1000, not root:root"),
    ]


def test_pa403_writable_parent_and_directory(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, meta={"/etc/kubernetes": {"mode": "0777"}, MANIFESTS: {"uid": 1000}}))
    assert messages("PA403", view) == [
        (MANIFESTS, "cp-1: /etc/kubernetes/manifests (the static pod directory) is owned by uid 1000, mode 0755: "
                    "a non-root user can add or replace static pod manifests"),
        ("/etc/kubernetes", "cp-1: /etc/kubernetes (a parent of /etc/kubernetes/manifests) is world-writable, "
                            "group-writable (gid 0), mode 0777: a non-root user can add or replace static pod "
                            "manifests"),
    ]
    assert [f.severity for f in run("PA403", view)] == ["high", "high"]


def test_pa403_sticky_world_writable_parent_is_reported(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, meta={"/etc/kubernetes": {"mode": "1777"}}))
    assert messages("PA403", view) == [
        ("/etc/kubernetes", "cp-1: /etc/kubernetes (a parent of /etc/kubernetes/manifests) is world-writable, "
                            "group-writable (gid 0), mode 1777 (sticky, but anyone may create the path when it is "
                            "missing): a non-root user can add or replace static pod manifests"),
    ]


def test_pa403_static_pod_dir_in_tmp_that_does_not_exist(tmp_path: Path) -> None:
    """staticPodPath under /tmp, not created yet: anyone can create it and plant a pod."""
    config = (NODES / "kubeadm-usrlib/var/lib/kubelet/config.yaml").read_text()
    config = config.replace("staticPodPath: /etc/kubernetes/manifests", "staticPodPath: /tmp/manifests")
    view = view_of(node_tree(tmp_path, meta={"/tmp": {"mode": "1777"}}, dirs=("/tmp",),
                             files={"/var/lib/kubelet/config.yaml": config}))
    assert view.static_pod_path.value == "/tmp/manifests"
    assert [p for p, _ in messages("PA403", view)] == ["/tmp"]


def test_pa403_sticky_root_group_writable_parent_is_excused(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, meta={"/etc/kubernetes": {"mode": "1775", "gid": 10}}))
    assert run("PA403", view) == []
    # ...but not when the directory below it is not root's: its owner could swap it.
    view = view_of(node_tree(tmp_path / "b", meta={"/etc/kubernetes": {"mode": "1775", "gid": 10},
                                                   MANIFESTS: {"uid": 1000}}))
    assert [p for p, _ in messages("PA403", view)] == [MANIFESTS, "/etc/kubernetes"]


def test_pa403_non_root_owner_of_root(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, meta={"/": {"mode": "0755", "uid": 1000}}))
    assert messages("PA403", view) == [
        ("/", "cp-1: / (a parent of /etc/kubernetes/manifests) is owned by uid 1000, mode 0755: a non-root user "
              "can add or replace static pod manifests"),
    ]


def test_pa404_kubelet_files(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, meta={
        "/var/lib/kubelet/config.yaml": {"mode": "0640"},
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": {"mode": "0600", "uid": 0, "gid": 1000},
        "/etc/sysconfig/kubelet": {"mode": "0664", "uid": 1000},
    }))
    assert messages("PA404", view) == [
        ("/var/lib/kubelet/config.yaml",
         "cp-1: kubelet config file /var/lib/kubelet/config.yaml has mode 0640, more permissive than 0600"),
        ("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
         "cp-1: systemd drop-in /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf is owned 0:1000, "
         "not root:root"),
        ("/etc/sysconfig/kubelet",
         "cp-1: environment file /etc/sysconfig/kubelet has mode 0664, more permissive than 0600"),
        ("/etc/sysconfig/kubelet", "cp-1: environment file /etc/sysconfig/kubelet is owned 1000:0, not root:root"),
    ]
    fingerprints = [f.fingerprint for f in run("PA404", view)]
    assert len(set(fingerprints)) == 4


def test_pa404_config_dir_dropins(tmp_path: Path) -> None:
    """config-dir fixture: the --config file, each drop-in, the unit and the env file."""
    view = view_of(NODES / "config-dir")
    assert [p for p, _ in messages("PA404", view)] == [
        "/etc/kubernetes/kubelet/config.yaml",
        "/etc/kubernetes/kubelet/config.d/10-base.conf",
        "/etc/kubernetes/kubelet/config.d/50-override.conf",
        "/etc/systemd/system/kubelet.service",
        "/etc/eks/kubelet/environment",
    ]


def test_pa404_only_files_that_exist(tmp_path: Path) -> None:
    root = node_tree(tmp_path)
    (root / "etc/sysconfig/kubelet").unlink()  # EnvironmentFile=-/etc/sysconfig/kubelet: optional
    view = view_of(root)
    assert run("PA404", view) == []


def test_pa405_unexpected_privileged_pod(tmp_path: Path) -> None:
    view = view_of(node_tree(tmp_path, files={f"{MANIFESTS}/agent.yaml": PRIVILEGED}))
    assert messages("PA405", view) == [
        (f"{MANIFESTS}/agent.yaml", "cp-1: /etc/kubernetes/manifests/agent.yaml runs default/agent-cp-1, not an "
                                    "expected static pod, with hostPID, hostPath /, privileged container agent, "
                                    "container agent adds NET_ADMIN/SYS_ADMIN"),
    ]
    # A baseline that expects it silences it; one that does not expect the control plane reports it.
    expect_agent = SimpleNamespace(static_pods=tuple(SimpleNamespace(namespace=ns, name=n) for ns, n in (
        ("default", "agent"), *rules_pods.WELL_KNOWN)))
    assert run("PA405", view, expect_agent) == []
    found = run("PA405", view, SimpleNamespace(static_pods=()))
    assert {f.path for f in found} == {f"{MANIFESTS}/{n}.yaml" for n in (
        "agent", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")}


def test_pa405_unprivileged_or_not_running_pods_are_silent(tmp_path: Path) -> None:
    plain = PRIVILEGED.replace("hostPID: true", "hostPID: false").replace("privileged: true", "privileged: false")
    plain = plain.replace("NET_ADMIN, CAP_SYS_ADMIN, CHOWN", "CHOWN").replace("  volumes:\n  - name: root\n"
                                                                                "    hostPath: {path: /}\n", "")
    view = view_of(node_tree(tmp_path, files={f"{MANIFESTS}/agent.yaml": plain,
                                              # a dot-file never runs
                                              f"{MANIFESTS}/.agent.yaml": PRIVILEGED.replace("agent", "hidden")}))
    assert run("PA405", view) == []


def test_pod_risks_on_odd_data() -> None:
    assert rules_pods.pod_risks(None) == []
    assert rules_pods.pod_risks({"spec": "x"}) == []
    odd = {"spec": {"hostNetwork": "true", "volumes": ["x", {"hostPath": "/"}],
                    "containers": [None, {"name": "c", "securityContext": {"capabilities": {"add": "ALL"}}},
                                   {"name": "d", "securityContext": {"capabilities": {"add": ["all", 3]}}}]}}
    assert rules_pods.pod_risks(odd) == ["container d adds ALL"]


def _with_config(tmp_path: Path, old: str, new: str, **kwargs: Any) -> NodeView:
    config = (NODES / "kubeadm-usrlib/var/lib/kubelet/config.yaml").read_text()
    assert old in config
    return view_of(node_tree(tmp_path, files={"/var/lib/kubelet/config.yaml": config.replace(old, new)}, **kwargs))


def test_pa406_config_file_settings(tmp_path: Path) -> None:
    view = _with_config(tmp_path, "anonymous:\n    enabled: false", "anonymous:\n    enabled: true")
    assert messages("PA406", view) == [
        ("/var/lib/kubelet/config.yaml",
         "cp-1: kubelet anonymous authentication is enabled (authentication.anonymous.enabled: true in "
         "/var/lib/kubelet/config.yaml)"),
    ]
    assert [f.severity for f in run("PA406", view)] == ["high"]
    view = _with_config(tmp_path / "b", "  mode: Webhook", "  mode: AlwaysAllow")
    assert messages("PA406", view) == [
        ("/var/lib/kubelet/config.yaml",
         "cp-1: kubelet authorization mode is AlwaysAllow (authorization.mode: AlwaysAllow in "
         "/var/lib/kubelet/config.yaml)"),
    ]


def test_pa406_v1beta1_defaults_with_a_config_file(tmp_path: Path) -> None:
    """No authentication/authorization in config.yaml: the v1beta1 defaults are anonymous off,
    Webhook, port 0; only the missing client CA is reported."""
    old = ("authentication:\n  anonymous:\n    enabled: false\n  webhook:\n    cacheTTL: 0s\n    enabled: true\n"
           "  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\nauthorization:\n  mode: Webhook\n  webhook:\n"
           "    cacheAuthorizedTTL: 0s\n    cacheUnauthorizedTTL: 0s\n")
    view = _with_config(tmp_path, old, "")
    assert messages("PA406", view) == [
        ("/var/lib/kubelet/config.yaml",
         "cp-1: kubelet has no client CA file, client certificates are not verified (unset in "
         "/var/lib/kubelet/config.yaml: KubeletConfiguration v1beta1 default)"),
    ]
    assert run("PA406", view)[0].fingerprint != run("PA406", _with_config(
        tmp_path / "b", "  mode: Webhook", "  mode: AlwaysAllow"))[0].fingerprint


def test_pa406_flags_beat_the_config(tmp_path: Path) -> None:
    argv = [*kubeadm_cmdline(), "--anonymous-auth", "--read-only-port", "10255",
            "--authorization-mode=AlwaysAllow", "--client-ca-file="]
    view = view_of(node_tree(tmp_path, cmdline=argv))
    assert messages("PA406", view) == [
        (None, "cp-1: kubelet anonymous authentication is enabled (--anonymous-auth=true from /proc/1362/cmdline)"),
        (None, "cp-1: kubelet authorization mode is AlwaysAllow (--authorization-mode=AlwaysAllow from "
               "/proc/1362/cmdline)"),
        (None, "cp-1: kubelet read-only port 10255 is open, no authentication (--read-only-port=10255 from "
               "/proc/1362/cmdline)"),
        (None, "cp-1: kubelet has no client CA file, client certificates are not verified (--client-ca-file= "
               "from /proc/1362/cmdline)"),
    ]
    # A flag that turns things off beats an insecure config too.
    argv = [*kubeadm_cmdline(), "--anonymous-auth=false"]
    view = _with_config(tmp_path / "b", "anonymous:\n    enabled: false", "anonymous:\n    enabled: true",
                        cmdline=argv)
    assert run("PA406", view) == []


def test_pa406_flag_from_an_env_file_names_it(tmp_path: Path) -> None:
    root = node_tree(tmp_path, cmdline=[*kubeadm_cmdline(), "--read-only-port=10255"])
    (root / "etc/sysconfig/kubelet").write_text("KUBELET_EXTRA_ARGS=--read-only-port=10255\n")
    view = view_of(root)
    assert messages("PA406", view) == [
        ("/etc/sysconfig/kubelet", "cp-1: kubelet read-only port 10255 is open, no authentication "
                                   "(--read-only-port=10255 from /etc/sysconfig/kubelet:1)"),
    ]


def test_pa406_flag_defaults_without_a_config_file(tmp_path: Path) -> None:
    """No --config: the kubelet's flag defaults, anonymous on, AlwaysAllow, port 10255."""
    argv = [w for w in kubeadm_cmdline() if not w.startswith("--config=")]
    view = view_of(node_tree(tmp_path, cmdline=argv))
    assert view.config_file is None
    unit = "/usr/lib/systemd/system/kubelet.service"
    assert messages("PA406", view) == [
        (unit, "cp-1: kubelet anonymous authentication is enabled (no --config and no --anonymous-auth: "
               "kubelet flag default)"),
        (unit, "cp-1: kubelet authorization mode is AlwaysAllow (no --config and no --authorization-mode: "
               "kubelet flag default)"),
        (unit, "cp-1: kubelet read-only port 10255 is open, no authentication (no --config and no "
               "--read-only-port: kubelet flag default)"),
        (unit, "cp-1: kubelet has no client CA file, client certificates are not verified (no --config and no "
               "--client-ca-file: kubelet flag default)"),
    ]


def test_pa406_pre111_flags_fixture() -> None:
    view = view_of(NODES / "pre111-flags")
    assert [f.message.split(" (")[0] for f in run("PA406", view)] == [
        "old-master: kubelet anonymous authentication is enabled",
        "old-master: kubelet read-only port 10255 is open, no authentication",
    ]


def test_pa406_secure_distributions_are_silent() -> None:
    for fixture in ("k3s", "rke2"):
        assert run("PA406", view_of(NODES / fixture)) == [], fixture


def test_pa406_unjudgeable_config_is_skipped(tmp_path: Path) -> None:
    """A config the kubelet cannot load (it would not start) or odd types: no finding, no crash."""
    view = view_of(node_tree(tmp_path, files={"/var/lib/kubelet/config.yaml": "::: not yaml"}))
    assert run("PA406", view) == []
    view = _with_config(tmp_path / "b", "staticPodPath:", "readOnlyPort: abc\nstaticPodPath:")
    assert run("PA406", view) == []
    view = _with_config(tmp_path / "c", "  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt", "  x509: 3")
    assert run("PA406", view) == []
    view = _with_config(tmp_path / "d", "    enabled: false\n  webhook", "    enabled: 'yes'\n  webhook")
    assert run("PA406", view) == []


def test_rules_never_raise_on_odd_records(tmp_path: Path) -> None:
    """Records without modes or owners, unreadable parents, a static pod path that is gone."""
    view = view_of(node_tree(tmp_path, files={f"{MANIFESTS}/agent.yaml": PRIVILEGED}))
    for path, record in list(view.records.items()):
        view.records[path] = FileRecord(path, record.kind, data=record.data, target=record.target)
    view.records["/etc"] = FileRecord("/etc", "denied", error="denied")
    for rule_id in SECURITY:
        run(rule_id, view)
    assert [f.path for f in run("PA405", view)] == [f"{MANIFESTS}/agent.yaml"]
    view.records.clear()
    view.entries.clear()
    for rule_id in SECURITY:
        assert run(rule_id, view) == [], rule_id


def test_no_kubelet_no_findings() -> None:
    snap = mem_node({"/etc/kubernetes/manifests/a.yaml": PRIVILEGED})
    view = analyze_node(snap)
    assert view.invocation.kind == "none"
    for rule_id in SECURITY:
        assert run(rule_id, view) == [], rule_id
