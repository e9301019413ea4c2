"""podaudit find: from a mirror pod name to the node(s) whose kubelet may run it, and then to
the file.

A mirror pod is named ``<name>-<node>`` (audit/match.py). The API's ``spec.nodeName`` is
the authority when the pod is known there; otherwise every node whose name is a suffix is
a candidate (nodes ``node`` and ``a-node`` both fit ``static-a-node``), and each is read.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import TYPE_CHECKING

from podaudit.audit.engine import audit
from podaudit.audit.match import Candidate, FindResult, Match, defines, file_pods, name_fits
from podaudit.run.sweep import DEFAULT_CONCURRENCY, run_sweep

if TYPE_CHECKING:
    from podaudit.api.view import ApiPod
    from podaudit.kubelet.resolve import NodeView
    from podaudit.run.select import Cluster

SUGGEST_READ_LIMIT = 5  # nodes read just to suggest names when nothing else is known


def candidate_nodes(name: str, namespace: str | None, cluster: Cluster) -> tuple[list[Candidate], list[ApiPod]]:
    """Nodes to read for this pod: the API's word first, else every suffix that fits."""
    api = cluster.api
    api_pods = api.pods_named(name, namespace) if api is not None and "pods" in api.loaded else []
    # An ordinary pod by that name may hide a static pod whose mirror it blocks (PA301):
    # the nodes the name points to are still read.
    found: dict[str, Candidate] = {}
    for pod in (p for p in api_pods if p.is_mirror):
        node = cluster.node(pod.node_name or "")
        if node is not None and node.name not in found:
            found[node.name] = Candidate(node, f"spec.nodeName of pod {pod.namespace}/{pod.name} in the API", node.name)
    if found:
        return list(found.values()), api_pods
    for node in cluster.nodes:
        if node.only or name_fits(name, node.name):
            reason = "the only node given" if node.only else f"the name ends with -{node.name}"
            found[node.name] = Candidate(node, reason, node.name)
    return list(found.values()), api_pods


def find_pod(name: str, namespace: str | None, cluster: Cluster, concurrency: int = DEFAULT_CONCURRENCY) -> FindResult:
    """Read each candidate node and keep the static pods whose mirror name is ``name``."""
    candidates, api_pods = candidate_nodes(name, namespace, cluster)
    result = FindResult(name, namespace, candidates, [], api_pods, list(cluster.notes), api=cluster.api)
    if cluster.api is None or "pods" not in cluster.api.loaded:
        result.notes.append("the node was chosen from the pod name's suffix (no API view of pods)")
    elif not api_pods:
        result.notes.append(f"the API ({cluster.api.origin}) has no pod {name}: the node was chosen from the "
                            "name's suffix")
    elif not any(p.is_mirror for p in api_pods):
        result.notes.append(f"the API's pod {name} is an ordinary pod, not a mirror pod; the nodes its name "
                            "points to were read in case it hides a static pod (PA301)")
    outside = sorted({p.node_name for p in api_pods if p.is_mirror and p.node_name and not cluster.node(p.node_name)})
    if outside:
        result.notes.append(f"the API runs {name} on {', '.join(outside)}, which is not among the nodes given "
                            f"({cluster.origin}); add it to read its files")
    known = len(cluster.notes)
    sweep = run_sweep(cluster.about_to_read([c.node for c in candidates]), concurrency=concurrency)
    result.notes += cluster.notes[known:]  # whom the kubelet witness was not heard from
    result.unavailable = sweep.failures
    # Results keep the candidates' order: from here on each node goes by its one name.
    result.candidates = [replace(c, name=read.node) for c, read in zip(candidates, sweep.results, strict=True)]
    for candidate, read in zip(result.candidates, sweep.results, strict=True):
        if read.view is None:
            continue
        # Both folders when the running kubelet reads another one: each match carries its state.
        result.matches += [Match(read.node, read.view, pod, candidate)
                           for pod in file_pods(read.view) if defines(pod, name, namespace)]
        result.refused += [(read.node, e.path, e.reason) for e in (*read.view.entries, *read.view.running_entries)
                           if e.fate == "rejected" and e.pod is not None and defines(e.pod, name, namespace)]
        if read.view.incomplete:
            result.incomplete[read.node] = read.view.incomplete
    views = sweep.views
    if not result.matches:
        result.suggestions = _closest(name, cluster, views)
    files = {path for m in result.matches for path in (m.pod.manifest_path, *m.pod.shadowed_paths)}
    matched = {m.node for m in result.matches}
    sweep.results = [r for r in sweep.results if r.node in matched]
    result.findings = [f for f in audit(sweep, None, cluster.api).findings if f.path in files]
    return result


def _closest(name: str, cluster: Cluster, views: list[NodeView]) -> list[str]:
    """The nearest static pod names: mirror pods in the API, else the nodes' static pods
    (all nodes when none was worth reading)."""
    known = {p.name for p in cluster.api.mirror_pods()} if cluster.api else set()
    # Reading every node for a typo is fine for files here; not for a fleet over SSH.
    if not known and (views or len(cluster.nodes) <= SUGGEST_READ_LIMIT):
        for view in views or run_sweep(cluster.about_to_read(cluster.nodes)).views:
            known |= {p.mirror_name for p in file_pods(view)}
    known.discard(name)
    return difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.5)
