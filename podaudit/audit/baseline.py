"""Baselines: the static pods each node role is expected to run, and accepted findings.

A baseline is a YAML file (``--baseline FILE``) or a bundled default
(``--baseline builtin:kubeadm``, ``builtin:rke2``, ``builtin:k3s``)::

    apiVersion: podaudit/v1
    kind: Baseline
    roles:                       # only control-plane and worker
      control-plane:
        nodes: [cp-1]            # optional: these nodes have this role
        pattern: "^cp-"          # optional: so do nodes whose name matches (re.search)
        static_pods:             # required ([] = this role runs no static pods)
          - {namespace: kube-system, name: etcd, sha256: <64 hex, optional>, reason: "kubeadm control plane"}
      worker:
        static_pods: []
    suppress:                    # optional: findings accepted on purpose
      - {id: PA401, node: "*", path: /etc/kubernetes/manifests/kube-apiserver.yaml,
         reason: "OpenShift ships 644", expires: 2027-06-30}

Rules:

- Every static pod entry and every suppression needs a non-empty ``reason``: an allow-list
  entry nobody can justify is a finding waiting to be hidden.
- ``sha256`` pins the manifest file's bytes (``sha256sum`` of the file the kubelet reads);
  a pod whose file differs is reported (PA501). Omit it to accept any content.
- ``node`` and ``path`` of a suppression are shell globs (fnmatch, case-sensitive; ``*``
  also crosses ``/``); ``node`` defaults to ``*``, an omitted ``path`` matches any path,
  including findings that name none. ``expires`` is the last day the suppression applies;
  after it the finding is reported again and a note names the suppression.
- Unknown keys, repeated keys, a role other than control-plane/worker, a node listed under
  both roles, a bad date, hash or pattern are errors naming the file and line.

``podaudit sweep --write-baseline FILE`` records one from a known-good run (``build_baseline``).
See docs/baselines.md.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, NoReturn

import yaml

from podaudit.audit.context import NodeContext, Role
from podaudit.audit.registry import Finding
from podaudit.errors import InputError
from podaudit.userfiles import read_user_text

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView, StaticPod

API_VERSION = "podaudit/v1"
KIND = "Baseline"
ROLES: tuple[Role, ...] = ("control-plane", "worker")
BUILTINS = ("kubeadm", "rke2", "k3s")
DEFAULT_REASON = "recorded by podaudit sweep --write-baseline"

_RULE_ID = re.compile(r"PA\d{3}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class ExpectedPod:
    namespace: str
    name: str
    sha256: str | None  # lowercase hex of the manifest file's bytes; None: any content
    reason: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class RoleExpectation:
    role: str
    static_pods: tuple[ExpectedPod, ...]
    nodes: tuple[str, ...] = ()
    pattern: str | None = None


@dataclass(frozen=True)
class Suppression:
    """An accepted finding: rule ``id`` on nodes matching ``node`` at paths matching ``path``."""

    id: str
    node: str  # fnmatch glob, "*" = any
    path: str | None  # fnmatch glob; None or "*" = any (also findings without a path)
    reason: str
    expires: date | None  # last day it applies

    def matches(self, finding: Finding) -> bool:
        if finding.id != self.id or not fnmatch.fnmatchcase(finding.node, self.node):
            return False
        if self.path is None or self.path == "*":
            return True
        return finding.path is not None and fnmatch.fnmatchcase(finding.path, self.path)

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today

    def describe(self) -> str:
        where = f"node {self.node}" + (f" path {self.path}" if self.path is not None else "")
        return f"{self.id} on {where} ({self.reason})"


@dataclass
class Baseline:
    roles: dict[str, RoleExpectation]
    suppressions: list[Suppression] = field(default_factory=list)
    source: str = ""

    def role_for(self, node: str) -> Role | None:
        """The role the baseline gives a node: an explicit ``nodes`` list first, then patterns
        (control-plane before worker)."""
        lowered = node.lower()
        for role in ROLES:
            expectation = self.roles.get(role)
            if expectation is not None and lowered in (n.lower() for n in expectation.nodes):
                return role
        for role in ROLES:
            expectation = self.roles.get(role)
            if expectation is not None and expectation.pattern is not None and re.search(expectation.pattern, node):
                return role
        return None

    def expect(self, role: str) -> RoleExpectation | None:
        return self.roles.get(role)

    def apply_suppressions(self, findings: Iterable[Finding], today: date
                           ) -> tuple[list[Finding], list[tuple[Finding, Suppression]], list[str]]:
        """Split findings into kept and suppressed (with the suppression that matched).

        An expired suppression no longer applies; the notes name it, and every live
        suppression that matched nothing (stale, or a typo that would hide nothing)."""
        notes: list[str] = []
        active: list[Suppression] = []
        for suppression in self.suppressions:
            if suppression.expired(today):
                notes.append(f"{self.source}: the suppression of {suppression.describe()} expired on "
                             f"{suppression.expires}; its findings are reported again")
            else:
                active.append(suppression)
        kept: list[Finding] = []
        suppressed: list[tuple[Finding, Suppression]] = []
        used: set[int] = set()
        for found in findings:
            index = next((i for i, s in enumerate(active) if s.matches(found)), None)
            if index is None:
                kept.append(found)
            else:
                used.add(index)
                suppressed.append((found, active[index]))
        notes += [f"{self.source}: the suppression of {s.describe()} matched no finding; remove it if the "
                  "problem is gone" for i, s in enumerate(active) if i not in used]
        return kept, suppressed, notes


def manifest_sha256(view: NodeView, pod: StaticPod) -> str | None:
    """sha256 (hex) of the bytes of the manifest file the kubelet runs ``pod`` from."""
    data = next((e.record.data for e in view.entries if e.path == pod.manifest_path and e.record.data is not None),
                None)
    if data is None:
        record = view.records.get(pod.manifest_path)
        data = record.data if record is not None else None
    return hashlib.sha256(data).hexdigest() if data is not None else None


# --- loading -------------------------------------------------------------------------------


def load_baseline(spec: str) -> Baseline:
    """A baseline file, or ``builtin:NAME``; InputError "FILE:LINE: what is wrong"."""
    if spec.startswith("builtin:"):
        name = spec[len("builtin:"):]
        if name not in BUILTINS:
            raise InputError(f"--baseline {spec}: no such bundled baseline; choose one of "
                             + ", ".join(f"builtin:{b}" for b in BUILTINS))
        text = resources.files("podaudit.audit").joinpath("baselines").joinpath(f"{name}.yaml").read_text("utf-8")
        return parse_baseline(text, spec)
    if not spec:
        raise InputError("--baseline is empty; give a baseline file or builtin:kubeadm, builtin:rke2, builtin:k3s")
    return parse_baseline(read_user_text(spec, "--baseline"), spec)


def parse_baseline(text: str, where: str) -> Baseline:
    """The baseline in ``text``; ``where`` names it in errors and in ``Baseline.source``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # "found '<stream end>'" points past the last line: name the last line instead.
        line = max(1, min(mark.line + 1 if mark is not None else 1, len(text.splitlines())))
        what = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise InputError(f"{where}:{line}: not valid YAML: {what}") from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise InputError(f"{where}:1: not valid YAML: {exc}") from exc
    return _Parser(where).baseline(root)


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, node: yaml.Node, what: str) -> NoReturn:
        raise InputError(f"{self.where}:{node.start_mark.line + 1}: {what}")

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key → (key node, value node); unknown, repeated and missing keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, f"{what}: a key must be a plain word")
            key = str(key_node.value)
            if key not in allowed:
                self.fail(key_node, f"unknown key {key!r} in {what} (expected {_choices(allowed)})")
            if key in found:
                self.fail(key_node, f"{key!r} appears twice in {what}")
            found[key] = (key_node, value_node)
        for key in required:
            if key not in found:
                self.fail(node, f"{what} needs {key!r}")
        return found

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if self.is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list")
        return list(node.value)

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == _NULL

    def text(self, node: yaml.Node, what: str, *, empty: bool = False) -> str:
        """A scalar as written (no YAML typing: ``name: 0123`` stays ``0123``)."""
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{what} must be a single value, not a list or mapping")
        value = "" if node.tag == _NULL else str(node.value)
        if not empty and not value.strip():
            self.fail(node, f"{what} is empty")
        return value

    def optional(self, entries: dict[str, tuple[yaml.Node, yaml.Node]], key: str, what: str) -> str | None:
        if key not in entries or self.is_null(entries[key][1]):
            return None
        return self.text(entries[key][1], what)

    def reason(self, node: yaml.Node, entries: dict[str, tuple[yaml.Node, yaml.Node]], what: str) -> str:
        if "reason" not in entries:
            self.fail(node, f"{what} needs a reason: say why it is expected or accepted")
        value = self.text(entries["reason"][1], f"{what}: reason", empty=True).strip()
        if not value:
            self.fail(entries["reason"][1], f"{what} has an empty reason: say why it is expected or accepted")
        return value

    def baseline(self, root: yaml.Node | None) -> Baseline:
        if root is None:
            raise InputError(f"{self.where}:1: empty; a baseline starts with apiVersion: {API_VERSION} "
                             f"and kind: {KIND} (docs/baselines.md)")
        top = self.mapping(root, "the baseline", ("apiVersion", "kind", "roles", "suppress"), ("apiVersion", "kind"))
        for key, want in (("apiVersion", API_VERSION), ("kind", KIND)):
            value = self.text(top[key][1], key)
            if value != want:
                self.fail(top[key][1], f"{key} is {value!r}; expected {want!r}")
        roles: dict[str, RoleExpectation] = {}
        listed: dict[str, str] = {}
        if "roles" in top and not self.is_null(top["roles"][1]):
            for role, (key_node, body) in self.mapping(top["roles"][1], "roles", ROLES).items():
                roles[role] = self.role(role, key_node, body, listed)
        suppressions = []
        if "suppress" in top:
            suppressions = [self.suppression(item) for item in self.sequence(top["suppress"][1], "suppress")]
        return Baseline(roles, suppressions, self.where)

    def role(self, role: str, key_node: yaml.Node, body: yaml.Node, listed: dict[str, str]) -> RoleExpectation:
        if self.is_null(body):
            self.fail(key_node, f"role {role} needs static_pods (use [] for none)")
        entries = self.mapping(body, f"role {role}", ("nodes", "pattern", "static_pods"), ("static_pods",))
        nodes: list[str] = []
        for item in self.sequence(entries["nodes"][1], f"{role} nodes") if "nodes" in entries else []:
            name = self.text(item, f"a node of {role}").strip()
            other = listed.get(name.lower())
            if other is not None:
                self.fail(item, f"node {name} is listed under both {other} and {role}")
            listed[name.lower()] = role
            nodes.append(name)
        pattern = self.optional(entries, "pattern", f"{role} pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.fail(entries["pattern"][1], f"{role} pattern {pattern!r} is not a regular expression: {exc}")
        pods: list[ExpectedPod] = []
        seen: set[str] = set()
        for item in self.sequence(entries["static_pods"][1], f"{role} static_pods"):
            pod = self.expected_pod(item, role)
            if pod.key in seen:
                self.fail(item, f"{role} static_pods lists {pod.key} twice")
            seen.add(pod.key)
            pods.append(pod)
        return RoleExpectation(role, tuple(pods), tuple(nodes), pattern)

    def expected_pod(self, node: yaml.Node, role: str) -> ExpectedPod:
        what = f"a static pod of {role}"
        entries = self.mapping(node, what, ("namespace", "name", "sha256", "reason"), ("namespace", "name"))
        namespace = self.text(entries["namespace"][1], f"{what}: namespace").strip()
        name = self.text(entries["name"][1], f"{what}: name").strip()
        what = f"static pod {namespace}/{name} of {role}"
        sha256 = self.optional(entries, "sha256", f"{what}: sha256")
        if sha256 is not None:
            sha256 = sha256.strip()
            if not _SHA256.fullmatch(sha256):
                self.fail(entries["sha256"][1], f"{what}: sha256 {sha256!r} is not 64 hexadecimal digits")
            sha256 = sha256.lower()
        return ExpectedPod(namespace, name, sha256, self.reason(node, entries, what))

    def suppression(self, node: yaml.Node) -> Suppression:
        entries = self.mapping(node, "a suppression", ("id", "node", "path", "reason", "expires"), ("id",))
        rule_id = self.text(entries["id"][1], "a suppression: id").strip()
        if not _RULE_ID.fullmatch(rule_id):
            self.fail(entries["id"][1], f"suppression id {rule_id!r} is not a rule ID (like PA401; see podaudit rules)")
        what = f"the suppression of {rule_id}"
        node_glob = self.optional(entries, "node", f"{what}: node") or "*"
        path = self.optional(entries, "path", f"{what}: path")
        reason = self.reason(node, entries, what)
        expires = None
        text = self.optional(entries, "expires", f"{what}: expires")
        if text is not None:
            try:
                if not _DATE.fullmatch(text.strip()):
                    raise ValueError(text)
                expires = date.fromisoformat(text.strip())
            except ValueError:
                self.fail(entries["expires"][1], f"{what}: expires {text!r} is not a date (YYYY-MM-DD)")
        return Suppression(rule_id, node_glob.strip(), path.strip() if path is not None else None, reason, expires)


def _choices(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


# --- recording -----------------------------------------------------------------------------


def build_baseline(contexts: list[NodeContext], reason: str = DEFAULT_REASON) -> str:
    """A baseline (YAML text) from a known-good run: per role, the static pods seen on every
    node of that role, pinned by sha256 where the manifest is byte-identical on all of them,
    and the role's nodes. A role with no node in the run is left out (no expectation)."""
    if not reason.strip():
        raise InputError("a recorded baseline needs a reason for its entries")
    lines = [
        "# podaudit baseline: the static pods each node role is expected to run.",
        "# Review every entry and give it a real reason before checking this file in (docs/baselines.md).",
        f"apiVersion: {API_VERSION}",
        f"kind: {KIND}",
    ]
    body: list[str] = []
    for role in ROLES:
        members = [c for c in contexts if c.role == role]
        if members:
            body += _record_role(role, members, reason.strip())
    lines += ["roles:", *body] if body else ["roles: {}"]
    lines.append("suppress: []")
    return "\n".join(lines) + "\n"


def _record_role(role: str, members: list[NodeContext], reason: str) -> list[str]:
    # A node whose static pod path could not be read completely would empty the intersection.
    complete = [c for c in members if not c.view.incomplete] or members
    used = {id(c) for c in complete}
    seen = [(c, {(p.namespace, p.name): p for p in c.view.static_pods}) for c in complete]
    common = set(seen[0][1]).intersection(*(pods for _, pods in seen[1:]))
    lines = [f"  {role}:", f"    nodes: [{', '.join(_q(n) for n in sorted({c.node for c in members}))}]"]
    skipped = sorted(c.node for c in members if id(c) not in used)
    if skipped:
        lines.append(f"    # read incompletely, so not used to choose the static pods: {_plain(', '.join(skipped))}")
    for namespace, name in sorted(set().union(*(pods for _, pods in seen)) - common):
        where = ", ".join(sorted(c.node for c, pods in seen if (namespace, name) in pods))
        lines.append(f"    # left out, seen on some {role} nodes only: {_plain(f'{namespace}/{name} on {where}')}")
    if not common:
        return [*lines, "    static_pods: []"]
    lines.append("    static_pods:")
    for namespace, name in sorted(common):
        hashes = {manifest_sha256(c.view, pods[(namespace, name)]) for c, pods in seen}
        pinned = next(iter(hashes)) if len(hashes) == 1 else None
        pin = f", sha256: {pinned}" if pinned else ""
        lines.append(f"      - {{namespace: {_q(namespace)}, name: {_q(name)}{pin}, reason: {_q(reason)}}}")
    return lines


def _q(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is a subset)."""
    return json.dumps(text)


def _plain(text: str) -> str:
    """Text safe inside a YAML comment (one line)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
