"""podaudit collect --redact: an allow-list. Secrets planted in every place a node keeps them
never reach the bundle, and the redacted bundle's analysis finds what the live read finds."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run, run_json

FIXTURES = Path(__file__).parent / "fixtures" / "nodes"
DEMO = Path(__file__).parent.parent / "podaudit" / "demo" / "cluster"
MANIFESTS = "etc/kubernetes/manifests"


def findings(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return sorted((f["id"], f["node"], f.get("path")) for f in doc["findings"])


def redacted(tmp_path: Path, *source: str) -> Path:
    bundle = tmp_path / "redacted.tar.gz"
    proc = run(*source, "collect", "--redact", "--bundle", str(bundle))
    assert proc.returncode in (0, 3), proc.stderr
    return bundle


@pytest.mark.parametrize("node", sorted(p.name for p in FIXTURES.iterdir()))
def test_a_redacted_fixture_node_gives_the_live_findings(node: str, tmp_path: Path) -> None:
    code, live = run_json("--root", str(FIXTURES / node), "sweep")
    again, analyzed = run_json("analyze", str(redacted(tmp_path, "--root", str(FIXTURES / node))))
    assert (again, findings(analyzed)) == (code, findings(live))


def test_the_redacted_demo_cluster_gives_the_live_findings(tmp_path: Path) -> None:
    code, live = run_json("--demo", "sweep")
    again, analyzed = run_json("analyze", str(redacted(tmp_path, "--demo")), "--api", str(DEMO / "api"))
    assert findings(live) and (again, findings(analyzed)) == (code, findings(live))


# -- secrets planted everywhere ------------------------------------------------------------------
def _s(n: int) -> str:
    return f"Zq{n:02d}x7Secr"  # distinctive, and never a prefix of another


GCP_KEY = json.dumps({"type": "service_account", "project_id": "p", "private_key_id": _s(1),
                      "private_key": f"-----BEGIN PRIVATE KEY-----\n{_s(2)}\n-----END PRIVATE KEY-----\n",
                      "client_email": "sa@p.iam.gserviceaccount.com"})
JWT = f"eyJhbGciOiJSUzI1NiJ9.{_s(3)}.c2lnbmF0dXJl"
POD = f"""apiVersion: v1
kind: Pod
metadata:
  name: leaky
  namespace: default
  labels:
    app: {_s(4)}
  annotations:
    note: {_s(5)}
    kubectl.kubernetes.io/last-applied-configuration: '{{"env": [{{"value": "{_s(6)}"}}]}}'
spec:
  containers:
  - name: app
    image: registry.example/app:1
    command: ["/bin/sh", "-c", "curl -H 'Authorization: Bearer {_s(7)}' https://x"]
    args: ["--password={_s(8)}", "--token", "{_s(9)}", "--db=postgres://u:{_s(10)}@db:5432/x", "--id-token={JWT}",
           "--api-key", "{_s(11)}", "{_s(12)}"]
    workingDir: {_s(13)}
    env:
    - name: PLAIN
      value: {_s(14)}
    - name: AWS_ACCESS_KEY_ID
      value: AKIA{_s(15)}
    - name: AWS_SECRET_ACCESS_KEY
      value: {_s(16)}
    - name: GITHUB_PRIVATE_KEY
      value: |
        -----BEGIN RSA PRIVATE KEY-----
        {_s(17)}
        -----END RSA PRIVATE KEY-----
    - name: GOOGLE_CREDENTIALS
      value: '{GCP_KEY}'
    - name: FROM_SECRET
      valueFrom: {{secretKeyRef: {{name: db, key: {_s(18)}}}}}
    envFrom:
    - prefix: {_s(19)}
      secretRef: {{name: more}}
    livenessProbe:
      exec: {{command: ["/bin/check", "--token={_s(20)}"]}}
    readinessProbe:
      httpGet:
        path: /healthz?token={_s(21)}
        port: 8080
        httpHeaders: [{{name: Authorization, value: "Basic {base64.b64encode(_s(22).encode()).decode()}"}}]
    lifecycle:
      postStart: {{exec: {{command: ["/bin/sh", "-c", "echo {_s(23)} > /run/x"]}}}}
      preStop: {{httpGet: {{port: 80, httpHeaders: [{{name: X-Token, value: {_s(24)}}}]}}}}
  - name: mapped
    image: registry.example/other:2
    env: [{{name: DB_PASSWORD, value: {_s(25)}}}, {{name: DB_URL, value: "mysql://root:{_s(26)}@db/x"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: second, annotations: {{t: {_s(27)}}}}}
"""
JSON_POD = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jsonpod"},
                       "spec": {"containers": [{"name": "c", "image": "i", "args": ["--secret", _s(28)],
                                                "env": [{"name": "K", "value": _s(29)}]}]}})
SECRET_OBJECT = f"""apiVersion: v1
kind: Secret
metadata: {{name: db}}
data: {{password: {base64.b64encode(_s(30).encode()).decode()}}}
stringData: {{token: {_s(31)}}}
"""
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://u:{_s(32)}@10.0.0.1:6443"}}}}]
users:
- name: admin
  user: {{client-key-data: {_s(33)}, token: {_s(34)}, password: {_s(35)}}}
"""
DROPIN = f"""[Service]
Environment="AWS_SECRET_ACCESS_KEY={_s(36)}" "MY_PRIVATE_KEY={_s(37)}"
EnvironmentFile=-/etc/kubelet-secrets.env
ExecStartPre=/bin/sh -c "echo {_s(38)}"
Description={_s(39)}
# a comment with a password: {_s(40)}
"""
ENV_FILE = f"""KUBELET_EXTRA_ARGS="--node-ip=10.20.0.21 --bootstrap-token='{_s(41)}'"
REGISTRY_PASSWORD={_s(42)}
TLS_KEY="-----BEGIN PRIVATE KEY-----
{_s(43)}
-----END PRIVATE KEY-----"
export HIDDEN={_s(44)}
# {_s(45)}
"""
CONFIG_EXTRA = f"""staticPodURL: https://fetch:{_s(46)}@pods.example/static
staticPodURLHeader:
  Authorization:
  - >-
    Bearer
    {_s(47)}
providerID: {_s(48)}
"""
ARGV = ["--token=" + _s(49), "--password", _s(50), "--manifest-url-header=Authorization:Bearer " + _s(51),
        f"--node-labels=key={_s(52)}", f"--manifest-url=https://u:{_s(53)}@pods.example/"]
COUNT = 53


def _plant(root: Path) -> None:
    (root / MANIFESTS / "leaky.yaml").write_text(POD)
    (root / MANIFESTS / "jsonpod.json").write_text(JSON_POD)
    (root / MANIFESTS / "db-secret.yaml").write_text(SECRET_OBJECT)
    (root / MANIFESTS / "admin.kubeconfig").write_text(KUBECONFIG)
    (root / MANIFESTS / "sa.json").write_text(GCP_KEY)
    (root / MANIFESTS / "tls.key").write_text(f"-----BEGIN EC PRIVATE KEY-----\n{_s(54)}\n-----END EC KEY-----\n")
    (root / MANIFESTS / "junk.bin").write_bytes(b"\xff\xfe" + _s(55).encode() + b"\x00")
    (root / "etc/systemd/system/kubelet.service.d/20-secrets.conf").write_text(DROPIN)
    (root / "etc/kubelet-secrets.env").write_text(ENV_FILE)
    (root / "etc/default/kubelet").write_text(ENV_FILE)
    config = root / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text() + CONFIG_EXTRA)
    [cmdline] = root.glob("proc/*/cmdline")
    cmdline.write_bytes(cmdline.read_bytes() + b"".join(w.encode() + b"\0" for w in ARGV))


def test_no_planted_secret_reaches_the_bundle(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(FIXTURES / "kubeadm-etc", root, symlinks=True)
    _plant(root)
    code, live = run_json("--root", str(root), "sweep")
    assert {"leaky", "jsonpod"} <= {p["name"] for p in live["nodes"][0]["static_pods"]}
    bundle = redacted(tmp_path, "--root", str(root))
    everything = gzip.decompress(bundle.read_bytes())  # every byte: names, headers, contents
    planted = [_s(n) for n in range(1, COUNT + 3)]
    planted += [base64.b64encode(_s(n).encode()).decode() for n in (22, 30)]
    leaked = [s for s in planted if s.encode() in everything]
    assert leaked == [], leaked
    again, analyzed = run_json("analyze", str(bundle))
    assert (again, findings(analyzed)) == (code, findings(live))
    assert b"REDACTED-" in everything and b"/etc/kubernetes/pki/ca.crt" in everything  # paths stay


def test_a_k3s_config_keeps_the_options_podaudit_reads_only(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(FIXTURES / "k3s", root, symlinks=True)
    config = root / "etc/rancher/k3s/config.yaml"
    config.write_text(config.read_text() + f"token: {_s(60)}\nkubelet-arg+: ['cloud-config={_s(61)}', "
                                            f"'--node-labels=a={_s(62)}']\nagent-token: {_s(63)}\n")
    code, live = run_json("--root", str(root), "sweep")
    bundle = redacted(tmp_path, "--root", str(root))
    everything = gzip.decompress(bundle.read_bytes())
    assert [n for n in range(60, 64) if _s(n).encode() in everything] == []
    assert b"node-name: k3s-server-1" in everything and b"max-pods=150" in everything
    again, analyzed = run_json("analyze", str(bundle))
    assert (again, findings(analyzed)) == (code, findings(live))


def test_equal_values_give_equal_tokens_so_a_changed_flag_still_shows() -> None:
    """A word the unit would pass differently from the running kubelet: still different."""
    from podaudit.collect.redact import redact_argv, redact_text

    argv = redact_argv(["/usr/bin/kubelet", "--node-ip=10.0.0.1", "--v", "2"])
    env = redact_text(b'KUBELET_EXTRA_ARGS="--node-ip=10.0.0.1 --v 3"\n').decode()
    assert argv[1] in env and argv[1].startswith("--node-ip=REDACTED-") and argv[3] not in env


def test_what_redaction_keeps_covers_what_the_rules_read() -> None:
    """A rule that starts reading another flag or config field must say so here, or --redact
    would hide what it needs (and the redacted analysis would differ)."""
    from podaudit.audit.rules_kubelet import FLAG_FIELDS
    from podaudit.kubelet.auth import AUTH_SETTINGS
    from podaudit.kubelet.config import READ_FIELDS
    from podaudit.kubelet.flags import READ_FLAGS

    flags = set(FLAG_FIELDS) | {setting.flag for setting in AUTH_SETTINGS}
    fields = {".".join(f) for f in FLAG_FIELDS.values()} | {".".join(s.field) for s in AUTH_SETTINGS}
    assert flags <= READ_FLAGS and fields <= set(READ_FIELDS)


def test_redacted_witnesses_drop_log_lines_and_keep_what_the_analysis_reads(tmp_path: Path) -> None:
    """A container's log lines may hold anything: they go. Exit codes, restarts and names
    stay; /configz keeps staticPodPath and loses a staticPodURLHeader token, as config.yaml does."""
    from podaudit.collect.bundle import write_tree
    from podaudit.collect.local import LocalNode
    from tests.test_bundle import _witnessed_snapshot
    from tests.test_crictl import LAST_LINE

    snapshot = _witnessed_snapshot()
    write_tree(snapshot, str(tmp_path / "cp1"), redact=True)
    meta = (tmp_path / "cp1" / "podaudit.meta.json").read_text()
    assert "command failed" not in meta and LAST_LINE not in meta and "s3cr3t-t0ken" not in meta
    witnesses = LocalNode(str(tmp_path / "cp1")).snapshot.witnesses
    assert witnesses is not None and witnesses.runtime.sandboxes is not None
    api = next(p for p in witnesses.runtime.sandboxes if p.name == "kube-apiserver-cp1")
    assert [(c.exit_code, c.restarts, c.log_tail) for c in api.containers] == [(1, 14, ())]
    assert witnesses.kubelet.configz is not None
    assert witnesses.kubelet.configz["staticPodPath"] == "/etc/kubernetes/manifests"
    assert witnesses.runtime.witness == snapshot.witnesses.runtime.witness
    assert [p.name for p in witnesses.kubelet.pods or ()] == ["kube-apiserver-cp1"]


def test_a_microk8s_args_file_keeps_its_words_as_kubelite_splits_them():
    """kubelite ReadArgsFromFile deletes quotes and splits at single spaces: a stray word (an
    inline comment, a space after a comma) stops the kubelet, and must still be one after
    redaction; a `--flag value` line keeps its pairing."""
    from podaudit.collect.redact.text import redact_args_file
    from podaudit.kubelet.launch_microk8s import line_parts

    text = ('--v=2 # debug\n--node-labels="tier=a, secret=b"\n--pod-manifest-path /var/snap/microk8s/x\n'
            "# --token=abc\n--bootstrap-token=s3cr3t\n")
    out = redact_args_file(text)
    before = [line_parts(line) for line in text.splitlines()]
    after = [line_parts(line) for line in out.splitlines()]
    assert [len(w) for w in after] == [len(w) for w in before]  # every stray word is still one
    assert [w.startswith("-") for ws in after for w in ws] == [w.startswith("-") for ws in before for w in ws]
    assert after[2] == ["--pod-manifest-path", "/var/snap/microk8s/x"]  # a path podaudit reads stays
    assert "s3cr3t" not in out and "secret=b" not in out
