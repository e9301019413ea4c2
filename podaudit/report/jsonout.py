"""JSON documents for ``find`` and ``node``: versioned, documented in docs/json.md and
checked against docs/schema/podaudit-v1.schema.json.

Data is exact (node names, paths, argv, link targets: what scripts compare and act on);
messages for people (findings, problems, reasons, notes, steps) are ``printable``, as every
other format shows them, so ``jq -r`` cannot print a node's escape sequence or bidi override.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from podaudit.api.view import ApiPod, ApiView
from podaudit.audit.engine import AuditResult
from podaudit.audit.match import FindResult
from podaudit.audit.registry import CIS_BENCHMARK, RULES, Finding, Rule
from podaudit.collect.source import SweepResult
from podaudit.kubelet.manifests import ManifestEntry
from podaudit.kubelet.network import NetworkFacts
from podaudit.kubelet.reconcile import PodRun, UnfiledPod
from podaudit.kubelet.resolve import NodeView, StaticPod
from podaudit.model import ContainerRun, NodeFailure, Problem, Step, Witness
from podaudit.remedy.commands import removal_commands, why_kubectl_delete_fails
from podaudit.report.escape import printable

API_VERSION = "podaudit/v1"


def dumps(doc: Any) -> str:
    # ASCII with \u escapes: file names may hold undecodable bytes (kept as lone surrogates),
    # which no strict UTF-8 stdout could print.
    return json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False)


def _prose(lines: Iterable[str]) -> list[str]:
    return [printable(line) for line in lines]


def _problems(problems: Iterable[Problem]) -> list[str]:
    return [printable(problem.text()) for problem in problems]


def step_json(step: Step) -> dict[str, Any]:
    return {"what": printable(step.what), "source": step.source, "line": step.line}


def provenance(view: NodeView) -> list[dict[str, Any]]:
    return [step_json(s) for s in view.static_pod_path.provenance]


def pod_json(node: str, view: NodeView, pod: StaticPod, api_pod: ApiPod | None = None) -> dict[str, Any]:
    """One static pod on ``node``; no removal commands when unreadable files could hide a twin."""
    run = view.reconciled.state_of(pod.manifest_path)
    running = run is not None and run.in_running_path
    return {
        "node": node,
        "namespace": pod.namespace,
        "name": pod.name,
        "mirror_name": pod.mirror_name,
        "manifest_path": pod.manifest_path,
        "shadowed_paths": list(pod.shadowed_paths),
        # A pod of the running kubelet's folder: that folder, as its /configz named it.
        "static_pod_path": view.reconciled.running.path if running else view.static_pod_path.value,
        "path_source": "configz" if running else view.static_pod_path.source,
        "argv_source": view.invocation.argv_source,
        "provenance": running_provenance(view) if running else provenance(view),
        "why_kubectl_delete_fails": printable(why_kubectl_delete_fails(node, pod)),
        "remove": [] if view.incomplete else removal_commands(node, pod),  # commands: exact, like data
        "api": api_pod_json(api_pod) if api_pod else None,
        **run_json(run, api_pod),
    }


def running_provenance(view: NodeView) -> list[dict[str, Any]]:
    running = view.reconciled.running
    return [{"what": printable(f"the running kubelet reads {running.path} ({running.via})"), "source": "configz",
             "line": None}]


def run_json(run: PodRun | None, api_pod: ApiPod | None = None) -> dict[str, Any]:
    """What the witnesses say of a static pod: its state and why, who saw it, its containers;
    ``mirror_confirmed``: the API's mirror pod carries the kubelet's UID (config.mirror) of
    this file's pod (None unless the pod runs: a pod of that name may be another folder's)."""
    uid = run.uid if run is not None and run.uid else None
    mine = run is not None and run.state == "running"
    return {
        "state": run.state if run else None,
        "state_reason": printable(run.why) if run else None,
        "witnessed_by": [s.value for s in run.witnessed_by] if run else [],
        "containers": [container_json(c) for c in run.containers] if run else [],
        "uid": uid,
        "mirror_confirmed": None if api_pod is None or uid is None or not mine else api_pod.mirror_hash == uid,
    }


def container_json(container: ContainerRun) -> dict[str, Any]:
    return {"name": container.name, "state": container.state, "reason": printable(container.reason),
            "exit_code": container.exit_code, "restarts": container.restarts,
            "log_tail": _prose(container.log_tail)}


def witness_json(witness: Witness) -> dict[str, Any]:
    return {"source": witness.source.value, "status": witness.status.value, "via": printable(witness.via),
            "detail": printable(witness.detail)}


def unfiled_json(pod: UnfiledPod) -> dict[str, Any]:
    return {"namespace": pod.namespace, "name": pod.name, "uid": pod.uid or None, "source": pod.source,
            "witnessed_by": [s.value for s in pod.witnessed_by], "state_reason": printable(pod.why),
            "containers": [container_json(c) for c in pod.containers], "manifest_path": pod.manifest_path}


def api_pod_json(pod: ApiPod) -> dict[str, Any]:
    return {"namespace": pod.namespace, "name": pod.name, "node": pod.node_name, "mirror": pod.is_mirror,
            "owner_node": pod.owner_node, "ready": pod.ready, "status": pod.status,
            "restarts": pod.restarts, "created": pod.created, "ip": pod.ip, "age": pod.age(),
            "trouble": pod.trouble()}


def api_summary(api: ApiView | None) -> dict[str, Any] | None:
    if api is None:
        return None
    return {"origin": api.origin, "loaded": sorted(api.loaded),
            "failed": {name: printable(why) for name, why in sorted(api.failed.items())},
            "configz": sorted(api.configz)}


def entry_json(entry: ManifestEntry) -> dict[str, Any]:
    record = entry.record
    return {
        "path": entry.path, "fate": entry.fate, "reason": printable(entry.reason),
        "namespace": entry.pod.namespace if entry.pod else None,
        "name": entry.pod.name if entry.pod else None,
        "mirror_name": entry.pod.mirror_name if entry.pod else None,
        "related": list(entry.related), "warnings": _prose(entry.warnings),
        "target": record.target,
        "mode": f"{record.mode:04o}" if record.mode is not None else None,
        "uid": record.uid, "gid": record.gid, "size": record.size,
    }


def node_json(node: str, view: NodeView) -> dict[str, Any]:
    inv, process = view.invocation, view.invocation.process
    return {
        "apiVersion": API_VERSION,
        "kind": "NodeReport",
        "node": node,
        "hostname": view.hostname,
        "kubelet": None if process is None else {
            "pid": process.pid, "argv": list(process.argv), "exe": process.exe, "cwd": process.cwd,
            "start_time": process.start_time, "kind": inv.kind,
        },
        "argv_source": inv.argv_source,
        "argv": [{"value": a.value, **step_json(a.origin)} for a in inv.args],
        "config_file": view.config_file,
        "config_dir": view.config_dir,
        "static_pod_path": view.static_pod_path.value,
        "path_source": view.static_pod_path.source,
        "static_pod_url": view.static_pod_url.value,
        "provenance": provenance(view),
        "node_name_provenance": [step_json(s) for s in view.node_name.provenance],
        "node_name_decided_by": view.node_name.decided_by,
        "discovery": [step_json(s) for s in inv.discovery],
        "static_pods": [pod_json(node, view, p) for p in view.static_pods],
        "entries": [entry_json(e) for e in view.entries],
        **witnesses_json(node, view),
        "restart_pending": _problems(view.restart_pending),
        "problems": _problems(view.problems),
        "incomplete": _problems(view.incomplete),
        "network": network_json(view.network),
        "collection": view.collection,
    }


def witnesses_json(node: str, view: NodeView) -> dict[str, Any]:
    """The node's witnesses and the running kubelet's folder (issue 13)."""
    rec = view.reconciled
    return {
        "running_static_pod_path": rec.running.path,
        "running_path_via": printable(rec.running.via) or None,
        "witnesses": [witness_json(w) for w in rec.witnesses],
        "running_static_pods": [pod_json(node, view, p) for p in view.running_static_pods],
        "running_entries": [entry_json(e) for e in view.running_entries],
        "witness_only_pods": [unfiled_json(p) for p in rec.unfiled],
        "next_restart": printable(rec.next_restart) or None,
    }


def unavailable_json(failure: NodeFailure) -> dict[str, Any]:
    return {"node": failure.node, "kind": failure.kind.value, "message": printable(failure.message)}


def network_json(facts: NetworkFacts | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    return {
        "node_interface": facts.node_interface, "node_addresses": list(facts.node_addresses), "how": facts.how,
        "cni": [{"name": c.name, "addresses": list(c.addresses), "ranges": list(c.ranges)} for c in facts.cni],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    rule = RULES.get(finding.id)
    return {"id": finding.id, "severity": finding.severity, "node": finding.node, "path": finding.path,
            "message": printable(finding.message), "fingerprint": finding.fingerprint,
            "cis": list(rule.cis) if rule is not None else []}


def rules_json(rules: Iterable[Rule]) -> dict[str, Any]:
    """``podaudit rules --output json``: the catalogue, each rule with its CIS controls."""
    return {
        "apiVersion": API_VERSION,
        "kind": "RuleCatalogue",
        "cis_benchmark": CIS_BENCHMARK,
        "rules": [{"id": r.id, "severity": r.severity, "title": r.title, "scope": r.scope,
                   "category": r.category.value, "cis": list(r.cis)} for r in rules],
    }


def sweep_json(result: SweepResult, audit: AuditResult | None = None, api: ApiView | None = None) -> dict[str, Any]:
    return {key: list(value) if key in _STREAMED else value for key, value in _sweep_parts(result, audit, api).items()}


# The lists that grow with the fleet: rendered one item at a time by iter_sweep_json.
_STREAMED = ("nodes", "findings", "suppressed")
_BATCH = 1 << 16  # characters per piece handed to the writer


def _sweep_parts(result: SweepResult, audit: AuditResult | None, api: ApiView | None) -> dict[str, Any]:
    """The SweepResult document, its ``_STREAMED`` lists as iterators (made as they are read)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SweepResult",
        "interrupted": result.interrupted,
        "nodes": (node_json(node, view) for node, view in result.audited),
        "unavailable": [unavailable_json(f) for f in result.failures],
        "findings": (finding_json(f) for f in audit.findings) if audit else iter(()),
        "suppressed": ({**finding_json(f), "reason": printable(s.reason),
                        "expires": s.expires.isoformat() if s.expires else None} for f, s in audit.suppressed)
        if audit else iter(()),
        "roles": audit.roles if audit else {},
        "notes": _prose(audit.notes) if audit else [],
        "api": api_summary(api),
    }


def iter_sweep_json(result: SweepResult, audit: AuditResult | None = None, api: ApiView | None = None
                    ) -> Iterator[str]:
    """``dumps(sweep_json(...))`` in pieces, character for character, without the whole
    document or its text in memory at once: 10,000 nodes are about 140 MB of JSON."""
    pending: list[str] = []
    size = 0
    for part in _document(_sweep_parts(result, audit, api)):
        pending.append(part)
        size += len(part)
        if size >= _BATCH:
            yield "".join(pending)
            pending, size = [], 0
    yield "".join(pending)


def _document(parts: dict[str, Any]) -> Iterator[str]:
    # json.dumps with indent=2: "{", then each key on its own line indented by 2, ",", "}".
    # No string of JSON holds a raw newline (it is escaped), so re-indenting is a replace.
    separator = "{"
    for key, value in parts.items():
        yield f"{separator}\n  {dumps(key)}: "
        if key in _STREAMED:
            yield from _list(value)
        else:
            yield dumps(value).replace("\n", "\n  ")
        separator = ","
    yield "\n}"


def _list(items: Iterable[Any]) -> Iterator[str]:
    opening = "["
    for item in items:
        yield f"{opening}\n    " + dumps(item).replace("\n", "\n    ")
        opening = ","
    yield "[]" if opening == "[" else "\n  ]"


def find_json(result: FindResult) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "FindResult",
        "query": result.query,
        "namespace": result.namespace,
        "found": bool(result.matches),
        "matches": [pod_json(m.node, m.view, m.pod, result.api_pod(m.pod)) for m in result.matches],
        "candidates": [{"node": c.name, "reason": printable(c.reason)} for c in result.candidates],
        "suggestions": result.suggestions,
        "refused": [{"node": node, "path": printable(path), "reason": printable(reason)}
                    for node, path, reason in result.refused],
        "notes": _prose(result.notes),
        "incomplete": [{"node": node, "reasons": _problems(reasons)} for node, reasons in result.incomplete.items()],
        "unavailable": [unavailable_json(f) for f in result.unavailable],
        "api": api_summary(result.api),
        "findings": [finding_json(f) for f in result.findings],
    }
