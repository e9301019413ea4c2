"""Problems, failures and exit codes are values: rules read fields, never the model's English;
every node that could not be audited is a PA9xx finding; the exit code comes from the rules'
registered category; each node has one name through the whole run."""

from __future__ import annotations

import ast
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from podaudit.audit import registry
from podaudit.audit.context import ClusterContext
from podaudit.audit.engine import AuditResult
from podaudit.model import DENIED, FailureKind, NodeFailure
from tests.cli_helpers import run, run_json

NODES = Path(__file__).parent / "fixtures" / "nodes"
AUDIT = Path(__file__).parent.parent / "podaudit" / "audit"
CONFIG = "/var/lib/kubelet/config.yaml"


def node_tree(root: Path, unread: dict[str, str]) -> Path:
    """The kubeadm-usrlib fixture (its kubelet's node name is cp-1) at ``root``, with
    ``unread`` (path -> why) recorded in its side file, as a collector that was refused
    those paths records them."""
    shutil.copytree(NODES / "kubeadm-usrlib", root)
    meta = json.loads((root / "podaudit.meta.json").read_text())
    meta["unread"] = {path: {"kind": "denied", "error": why} for path, why in unread.items()}
    (root / "podaudit.meta.json").write_text(json.dumps(meta))
    return root


def test_pa903_names_the_file_it_could_not_read(tmp_path: Path) -> None:
    """Defect: the rule split the model's English at ': ' and reported the path
    "cannot read /var/lib/kubelet/config.yaml" and "cannot read cannot read ..."."""
    root = node_tree(tmp_path / "cp-1", {CONFIG: DENIED})
    code, doc = run_json("--root", str(root), "--no-api", "sweep")
    assert code == 3
    [pa903] = [f for f in doc["findings"] if f["id"] == "PA903"]
    assert pa903["path"] == CONFIG
    assert pa903["message"] == f"cp-1: cannot read {CONFIG}: {DENIED}"
    # Reports keep their words: the node's lists read as they always did.
    [node] = doc["nodes"]
    assert node["incomplete"] == [f"cannot read {CONFIG}: {DENIED}"]
    assert f"cannot read {CONFIG}: {DENIED}" in node["problems"]


def test_find_names_each_node_once(tmp_path: Path) -> None:
    """A node reached as "host-a" (--root .../host-a) whose kubelet calls itself cp-1 is cp-1
    everywhere in the answer; it was "host-a" among the candidates and the incomplete nodes."""
    root = node_tree(tmp_path / "host-a", {"/etc/kubernetes/manifests/etcd.yaml": DENIED})
    code, doc = run_json("--root", str(root), "find", "kube-apiserver-cp-1")
    assert code == 3
    assert [m["node"] for m in doc["matches"]] == ["cp-1"]
    assert [i["node"] for i in doc["incomplete"]] == ["cp-1"]
    assert [c["node"] for c in doc["candidates"]] == ["cp-1"]
    text = run("--root", str(root), "find", "kube-apiserver-cp-1").stdout
    assert "Incomplete on cp-1:" in text and "host-a" not in text


@pytest.fixture
def collection_rules() -> dict[str, registry.Rule]:
    rules = registry.load_all_rules()
    return {rule_id: rule for rule_id, rule in rules.items() if rule.category is registry.Category.NOT_AUDITED}


EXPECTED_RULE = {
    FailureKind.UNREACHABLE: "PA901", FailureKind.TIMEOUT: "PA901", FailureKind.DEADLINE: "PA901",
    FailureKind.INTERRUPTED: "PA901", FailureKind.GATHER: "PA901", FailureKind.CONFIG: "PA901",
    FailureKind.ERROR: "PA901",
    FailureKind.HOST_KEY_UNKNOWN: "PA902", FailureKind.HOST_KEY_CHANGED: "PA902",
    FailureKind.AUTH: "PA903", FailureKind.SUDO: "PA903",
    FailureKind.RBAC: "PA906", FailureKind.IMAGE: "PA906", FailureKind.ADMISSION: "PA906",
    FailureKind.KUBECTL_MISSING: "PA906", FailureKind.KUBECTL: "PA906",
}


@pytest.mark.parametrize("kind", list(FailureKind))
def test_every_failure_kind_is_exactly_one_not_audited_finding(kind: FailureKind,
                                                                collection_rules: dict[str, registry.Rule]) -> None:
    failure = NodeFailure("node-1", kind, f"node-1: {kind.value}")
    ctx = ClusterContext([], [failure])
    found = [f for rule in collection_rules.values() if rule.scope == "cluster" for f in rule.check(ctx)]
    assert [(f.id, f.node, f.message) for f in found] == [(EXPECTED_RULE[kind], "node-1", failure.message)]


@pytest.fixture
def throwaway() -> Iterator[None]:
    saved = dict(registry.RULES)
    registry.RULES.clear()
    registry.rule("PA950", "high", "looks like collection, is a finding", what="w", why="y", fix="f",
                  example="e")(lambda ctx: [])
    registry.rule("PA150", "low", "looks like a finding, is collection", what="w", why="y", fix="f", example="e",
                  category=registry.Category.NOT_AUDITED)(lambda ctx: [])
    yield
    registry.RULES.clear()
    registry.RULES.update(saved)


def test_exit_status_comes_from_the_rule_category_not_its_id(throwaway: None) -> None:
    from podaudit.run.status import ExitStatus, sweep_status

    finding = registry.finding
    partial = AuditResult(findings=[finding("PA150", "n", None, "n: not read")])
    failing = AuditResult(findings=[finding("PA950", "n", None, "n: bad"), finding("PA150", "n", None, "n: x")])
    assert sweep_status(partial, "high") is ExitStatus.PARTIAL
    assert sweep_status(failing, "high") is ExitStatus.FINDINGS  # findings at --fail-on win over "not audited"
    assert sweep_status(failing, "critical") is ExitStatus.PARTIAL
    assert sweep_status(AuditResult(), "info") is ExitStatus.OK
    assert sweep_status(AuditResult(errors=["rule PA950 failed: bug"]), "info") is ExitStatus.PARTIAL
    assert [int(s) for s in ExitStatus] == [0, 1, 2, 3]


def test_no_rule_parses_the_kubelet_command_line_again() -> None:
    """The parsed flags travel on the NodeView; a rule that parsed argv again could disagree
    with the model (and did: three copies)."""
    for module in sorted(AUDIT.glob("rules_*.py")):
        tree = ast.parse(module.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert "parse_args" not in names, module.name


def test_the_json_schema_lists_every_failure_kind() -> None:
    """The kubectl-debug kinds (rbac, image, admission, ...) were missing: a sweep through
    refused debug pods wrote JSON that failed the documented schema."""
    schema = json.loads((Path(__file__).parent.parent / "docs/schema/podaudit-v1.schema.json").read_text())
    assert set(schema["$defs"]["unavailable"]["properties"]["kind"]["enum"]) == {k.value for k in FailureKind}
