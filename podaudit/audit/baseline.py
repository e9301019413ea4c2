"""Baselines: the static pods each node role is expected to run, and accepted findings;
what a baseline says, and loading and validating a baseline file.

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
      - {id: PA404, node: cp-1, path: /var/lib/kubelet/config.yaml,
         fingerprints: [<32 hex>], reason: "...", expires: 2027-03-07}   # --accept-findings

Rules:

- Every static pod entry and every suppression needs a non-empty ``reason``: an allow-list
  entry nobody can justify is a finding waiting to be hidden.
- ``sha256`` pins the manifest file's bytes (``sha256sum`` of the file the kubelet reads);
  a pod whose file differs is reported (PA501). Omit it to accept any content.
- ``node`` and ``path`` of a suppression are shell globs; ``expires`` is the last day it
  applies, ``until`` (RFC 3339, ``2027-03-07T18:00:00Z``) the moment it ends; an ``id`` that
  is a ``podaudit watch`` event kind silences those events for the window (suppressions.py).
- Unknown keys, repeated keys, a role other than control-plane/worker, a node listed under
  both roles, a bad date, hash or pattern are errors naming the file and line.

``podaudit sweep --write-baseline FILE`` records one from a known-good run
(baseline_record.py). See docs/baselines.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING, NoReturn

import yaml

from podaudit.audit.context import Role
from podaudit.audit.registry import Finding
from podaudit.audit.suppressions import EVENT_IDS, Suppression, apply_suppressions
from podaudit.errors import InputError
from podaudit.userfiles import read_user_text

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView, StaticPod

API_VERSION = "podaudit/v1"
KIND = "Baseline"
ROLES: tuple[Role, ...] = ("control-plane", "worker")
BUILTINS = ("kubeadm", "rke2", "k3s")

_RULE_ID = re.compile(r"PA\d{3}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_FINGERPRINT = re.compile(r"[0-9a-f]{32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
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
        """Kept findings, suppressed ones with their suppression, and notes (suppressions.py)."""
        return apply_suppressions(self.suppressions, self.source, findings, today)


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
        entries = self.mapping(node, "a suppression", ("id", "node", "path", "fingerprints", "reason", "expires",
                                                       "until"), ("id",))
        rule_id = self.text(entries["id"][1], "a suppression: id").strip()
        if not _RULE_ID.fullmatch(rule_id) and rule_id not in EVENT_IDS:
            self.fail(entries["id"][1], f"suppression id {rule_id!r} is not a rule ID (like PA401; see podaudit rules) "
                                        "or a watch event kind (like manifest-changed)")
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
        prints = self.fingerprints(entries["fingerprints"][1], what) if "fingerprints" in entries else ()
        return Suppression(rule_id, node_glob.strip(), path.strip() if path is not None else None, reason, expires,
                           prints, self.until(entries, what))

    def until(self, entries: dict[str, tuple[yaml.Node, yaml.Node]], what: str) -> datetime | None:
        """``until``: an RFC 3339 time with its offset (a window of hours ends at a moment)."""
        text = self.optional(entries, "until", f"{what}: until")
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or not _TIME.fullmatch(text.strip()):
            self.fail(entries["until"][1], f"{what}: until {text!r} is not an RFC 3339 time with its offset "
                                           "(2027-03-07T18:00:00Z)")
        return moment

    def fingerprints(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        items = self.sequence(node, f"{what}: fingerprints")
        if not items:
            self.fail(node, f"{what}: fingerprints is empty; remove the key to match every finding")
        found = []
        for item in items:
            value = self.text(item, f"{what}: a fingerprint").strip().lower()
            if not _FINGERPRINT.fullmatch(value):
                self.fail(item, f"{what}: fingerprint {value!r} is not 32 hexadecimal digits "
                                "(a finding's fingerprint in --output json)")
            found.append(value)
        return tuple(found)


def _choices(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
