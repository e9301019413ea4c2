"""Every parser that reads node data, fed random bytes and mutated real inputs: none raises
anything but the one error it documents (DecodeError, GatherError), and none loses a node.

Bundles are fuzzed elsewhere (test_bundle.py). Each parser gets ~200 examples; the file runs in
well under 30 s.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podaudit.api import view as api
from podaudit.collect.meta import META_FILE, load_meta
from podaudit.collect.records import GatherError
from podaudit.collect.remote import parse_gather
from podaudit.collect.rootfs import RootFS
from podaudit.kubelet import envfile
from podaudit.kubelet.config import absolutize_paths, merge_config, parse_config_doc
from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.manifests import judge
from podaudit.kubelet.resolve import analyze_node
from podaudit.kubelet.systemd import resolve_unit
from podaudit.kubelet.yamlload import DecodeError, decode_document
from podaudit.model import FileRecord, ProcessRecord
from tests.memnode import mem_node

# FUZZ_EXAMPLES=5000 for a longer hunt; 200 keeps the file well under 30 s.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# -- structured-ish inputs -----------------------------------------------------------------------
POD_KEYS = ["apiVersion", "kind", "metadata", "name", "namespace", "uid", "labels", "annotations", "spec",
            "containers", "initContainers", "image", "command", "args", "env", "envFrom", "value", "valueFrom",
            "ports", "containerPort", "hostPort", "securityContext", "privileged", "capabilities", "add",
            "runAsUser", "volumes", "hostPath", "path", "secret", "secretName", "livenessProbe", "httpGet", "port",
            "httpHeaders", "lifecycle", "preStop", "exec", "hostNetwork", "hostPID", "serviceAccountName",
            "staticPodPath", "authentication", "anonymous", "enabled", "readOnlyPort", "x"]
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
           | st.floats(allow_nan=True) | st.text(max_size=12) | st.sampled_from(["v1", "Pod", "1" * 5000]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(POD_KEYS) | st.text(max_size=5), inner, max_size=4),
                      max_leaves=25)
POD = st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("Pod"),
                             "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "B", ""])}),
                             "spec": VALUES})
BASE_POD = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: i\n"


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real input with a few bytes flipped, inserted, dropped or spliced from another seed."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        what = draw(st.sampled_from(["flip", "insert", "drop", "splice"]))
        if what == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif what == "insert":
            data[at:at] = draw(st.binary(max_size=8) | st.sampled_from([b"\0", b"\n", b" ", b"1" * 5000, b"{"]))
        elif what == "drop":
            del data[at:at + draw(st.integers(1, 40))]
        else:
            other = draw(st.sampled_from(seeds))
            data[at:] = other[draw(st.integers(0, len(other))):]
    return bytes(data)


def _dump(value: Any, as_json: bool) -> bytes:
    if as_json:
        return json.dumps(value).encode()
    return yaml.safe_dump(value).encode()


# -- manifests -------------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=600) | mutated([BASE_POD, b'{"apiVersion": "v1", "kind": "Pod", "spec": {}}']))
def test_manifest_bytes(data: bytes) -> None:
    try:
        decode_document(data)
    except DecodeError as exc:
        assert "\n" not in str(exc)
    entry = judge("/m/x", FileRecord("/m/x", "file", data=data), "node-1")
    assert entry.fate in {"loaded", "rejected"} and "\n" not in entry.reason


@FUZZ
@given(POD, st.booleans())
def test_manifest_documents(pod: dict[str, Any], as_json: bool) -> None:
    data = _dump(pod, as_json)
    entry = judge("/m/x", FileRecord("/m/x", "file", data=data), "node-1")
    assert entry.fate in {"loaded", "rejected"}
    kubelet = ProcessRecord(1, ("kubelet", "--pod-manifest-path=/etc/kubernetes/manifests"))
    view = analyze_node(mem_node({"/etc/kubernetes/manifests/x": data}, processes=[kubelet]))
    _audit(view)


# -- kubelet config, flags ---------------------------------------------------------------------------
CONFIG = (b"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: m\n"
          b"authentication:\n  anonymous:\n    enabled: false\nreadOnlyPort: 0\n")


def _deep(depth: int) -> bytes:
    """A KubeletConfiguration nested ``depth`` levels (in flow style: YAML and JSON alike)."""
    return CONFIG + b"x: " + b"{a: " * depth + b"1" + b"}" * depth + b"\n"


@FUZZ
@given(st.binary(max_size=400) | mutated([CONFIG]) | st.integers(0, 1200).map(_deep), VALUES)
def test_kubelet_config(data: bytes, extra: Any) -> None:
    doc = absolutize_paths(parse_config_doc("/var/lib/kubelet/config.yaml", data))
    patch = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "x": extra}
    dropin = parse_config_doc("/etc/kubelet.conf.d/10.conf", json.dumps(patch).encode())
    merged = merge_config(doc, [dropin, doc])
    assert all("\n" not in p.text() for p in merged.problems)


WORDS = st.sampled_from(["--config", "--pod-manifest-path=/m", "-v", "-v=", "--", "-", "--anonymous-auth",
                         "--read-only-port", "--x_y=z", "="]) | st.text(max_size=15)


@FUZZ
@given(st.lists(WORDS, max_size=12), st.binary(max_size=300) | mutated([CONFIG]))
def test_flags_and_a_whole_node(words: list[str], config: bytes) -> None:
    parse_args(words)
    node = mem_node({"/var/lib/kubelet/config.yaml": config, "/m/a.yaml": BASE_POD},
                    processes=[ProcessRecord(7, ("/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml",
                                                 *words))])
    _audit(analyze_node(node))


def _audit(view: Any) -> None:
    """Every rule over the view: the rules read what the parsers produced."""
    from podaudit.audit.engine import audit
    from podaudit.collect.source import NodeResult, SweepResult

    result = audit(SweepResult([NodeResult.read("fuzz", view)]))
    assert not result.errors, result.errors


# -- systemd units and env files ---------------------------------------------------------------------
UNIT = (b"[Service]\nEnvironment=\"A=--config=/c\" 'B=x y'\nEnvironmentFile=-/etc/default/kubelet\n"
        b"ExecStart=\nExecStart=/usr/bin/kubelet $A ${B} $KUBELET_EXTRA_ARGS \\\n  --v=2\nWorkingDirectory=~\n")
ENV = b'KUBELET_EXTRA_ARGS="--node-ip=10.0.0.1 \\"q\\"" # c\nexport X=1\nY=\'a\nb\'\nZ=\\\n  w\n'


@FUZZ
@given(st.binary(max_size=400) | mutated([UNIT]), st.binary(max_size=300) | mutated([ENV]))
def test_systemd_unit_and_env_file(unit: bytes, env: bytes) -> None:
    node = mem_node({"/usr/lib/systemd/system/kubelet.service": unit, "/etc/default/kubelet": env,
                     "/etc/systemd/system/kubelet.service.d/10.conf": unit[::-1]})
    resolved = resolve_unit(node, "kubelet.service")
    assert resolved is not None and all("\n" not in p.text() for p in resolved.problems)


@FUZZ
@given(st.text(max_size=300) | mutated([ENV, UNIT]).map(lambda b: b.decode("utf-8", "surrogateescape")))
def test_env_file_and_words(text: str) -> None:
    envfile.parse_environment_file(text)
    errors: list[str] = []
    envfile.parse_environment_assignments(text, None, errors)
    envfile.split_words(text)
    envfile.split_variable_value(text)
    envfile.parse_exec_value(text)


# -- gather streams ------------------------------------------------------------------------------------
_NONCE = b"72658089-f38b-4241-b66e-eb832f015798"
_ARGV = b"/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0"
_STAT = b"100 (kubelet) S 1" + b" 0" * 17 + b" 500 0"
GATHER = (b"PODAUDIT-GATHER 3\nM discover 10485760\n"
          b"F ok 81a4 0 0 1700000000 5 %d 42 0 0 raw\n/var/lib/kubelet/config.yaml\x00" % len(CONFIG) + CONFIG
          + b"F ok 41ed 0 0 1700000000 5 4096 43 0 0 none\n/var/lib/kubelet/m\x00"
          + b"F ok 81a4 0 0 1700000000 5 %d 44 1 1 hex\n" % len(BASE_POD)
          + b"/var/lib/kubelet/m/a.yaml\x00a\x00/m/b\x00"
          + BASE_POD.hex().encode() + b"\x00"
          + b"F err\n/etc/y\x00No such file or directory\x00"
          + b"D list\n/var/lib/kubelet/m\x00/var/lib/kubelet/m/a.yaml\x00\x00"
          + b"P 100 ecsg\n" + _ARGV.hex().encode() + b"\x00/usr/bin/kubelet\x00/\x00" + _STAT
          + b"\x000::/system.slice/kubelet.service\x00H proc\nnode-1\n\x00H etc\nnode-1\n\x00"
          + b"B 1700000000\nK 100\nR 100 proc\n\x00"
          + b"C ip-addr 0\n2: eth0    inet 10.0.0.1/24 scope global eth0\x00"
          + b"C net-route 0\nIface\tDestination\tGateway\neth0\t00000000\t0100000A\x00"
          + b"I 2\neth0\x00E\nodd\x00V\n/etc/y\x00"
          + b"F ok 81a4 0 0 1700000000 5 3 45 0 0 cat\n/etc/z\x00F no\n/etc/w\x00"
          + b"X %s 1 3\nabcX %s same\n" % (_NONCE, _NONCE)
          + b"L 1\n/etc\x00/etc\x00/etc/z\x00/etc/w\x00\x00END\n")


def test_the_gather_seed_is_a_real_stream() -> None:
    snapshot = parse_gather(GATHER, "n")
    assert snapshot.hostname == "node-1" and snapshot.processes[0].unit == "kubelet.service"
    assert analyze_node(snapshot).entries[0].fate == "loaded"


@FUZZ
@given(st.binary(max_size=300).map(lambda b: b"PODAUDIT-GATHER 3\n" + b) | mutated([GATHER]))
def test_gather_stream(stream: bytes) -> None:
    try:
        snapshot = parse_gather(stream, "n")
    except GatherError as exc:
        assert "\n" not in str(exc)
        return
    _audit(analyze_node(snapshot))


# -- the API's JSON ----------------------------------------------------------------------------------
NODE_ITEM = {"metadata": {"name": "n", "labels": {"a": "b"}, "uid": "u"},
             "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                        "nodeInfo": {"kubeletVersion": "v1.30.0"}, "conditions": [{"type": "Ready", "status": "True"}]}}
POD_ITEM = {"metadata": {"name": "p-n", "namespace": "kube-system", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "annotations": {api.MIRROR_ANNOTATION: "x"},
                         "ownerReferences": [{"kind": "Node", "name": "n"}]},
            "spec": {"nodeName": "n", "containers": [{}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 3,
                                                                  "state": {"waiting": {"reason": "X"}}}]}}
API_SEEDS = [json.dumps({"items": [NODE_ITEM]}).encode(), json.dumps({"items": [POD_ITEM]}).encode(),
             json.dumps({"kubeletconfig": {"staticPodPath": "/m"}}).encode()]


@FUZZ
@given(st.binary(max_size=300) | mutated(API_SEEDS))
def test_api_json_bytes(data: bytes) -> None:
    _api(data)


@FUZZ
@given(VALUES, st.sampled_from(["metadata", "spec", "status", "items", "kubeletconfig"]))
def test_api_json_documents(value: Any, where: str) -> None:
    for seed in (NODE_ITEM, POD_ITEM):
        _api(json.dumps({"items": [{**seed, where: value}, value]}).encode())
    _api(json.dumps({"kubeletconfig": value, "items": value}).encode())


def _api(data: bytes) -> None:
    problems: list[str] = []
    doc = api.decode_json(data, "f", problems)
    items = api.list_items(doc, "f", problems)
    view = api.ApiView()
    for resource in ("nodes", "pods", "namespaces"):
        view.take(resource, items)
    for pod in view.pods:
        pod.age(), pod.age_seconds(), pod.trouble()
    api.configz_object(doc, "f", problems)
    assert all("\n" not in p for p in problems)


# -- the snapshot side file and the quarantine list ------------------------------------------------
META = json.dumps({"format": 1, "default": {"mode": "0600", "uid": 0}, "paths": {"/m": {"mode": "0755", "mtime": 1.5}},
                   "unread": {"/x": {"kind": "denied", "error": "no"}}, "problems": ["p"],
                   "interfaces": {"eth0": ["10.0.0.1/24"]}, "default_route": "eth0"}).encode()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("meta")


@FUZZ
@given(data=st.binary(max_size=300) | mutated([META]) | VALUES.map(lambda v: json.dumps({"paths": {"/m": v},
                                                                                     "default": v}).encode()))
def test_snapshot_side_file(tree: Path, data: bytes) -> None:
    (tree / META_FILE).write_bytes(data)
    host = RootFS(str(tree))
    # load_meta(host, live) since the --root work; load_meta(host) before it.
    meta = load_meta(host, False) if len(inspect.signature(load_meta).parameters) == 2 else load_meta(host)  # type: ignore[call-arg]
    for record in (FileRecord("/m", "dir"), FileRecord("/x", "file", data=b""), FileRecord("/y", "other")):
        applied = meta.apply(record)
        assert applied.mtime is None or math.isfinite(applied.mtime)


JOURNAL = json.dumps({"id": "20240101T000000Z-a-1234", "files": []}).encode()
HELD = b"noise\nPODAUDIT-QUARANTINE 20240101T000000Z-a-1234 %d 1,2, 1,\n" % len(JOURNAL) + JOURNAL


HEADER_WORDS = st.sampled_from([b"20240101T000000Z-a-1234", b"x", b"-", b",", b"1,2,", b"0", b"9" * 5000,
                                 b"%d" % len(JOURNAL), b"", b"\xff"]) | st.binary(max_size=6)
HEADERS = st.lists(HEADER_WORDS, min_size=3, max_size=6).map(lambda w: b"PODAUDIT-QUARANTINE " + b" ".join(w) + b"\n")


@FUZZ
@given(st.lists(HEADERS | st.just(JOURNAL) | st.binary(max_size=40), max_size=6).map(b"".join) | mutated([HELD]))
def test_quarantine_list(out: bytes) -> None:
    from podaudit.remedy.quarantine import parse_list

    for held in parse_list(out):
        held.state(1)


def test_a_quarantine_header_with_a_huge_number_is_skipped() -> None:
    """Found by the fuzzer: int() of a 5000-digit journal size or index raised ValueError."""
    from podaudit.remedy.quarantine import parse_list

    assert parse_list(b"PODAUDIT-QUARANTINE x " + b"9" * 5000 + b" 1, 1,\n") == []
    [held] = parse_list(b"PODAUDIT-QUARANTINE x 2 " + b"9" * 5000 + b",1 1,\n{}")
    assert held.held == {1}


# -- --redact reads node data too ------------------------------------------------------------------
@FUZZ
@given(POD | VALUES, st.booleans(), st.booleans())
def test_a_redacted_manifest_meets_the_same_fate(doc: Any, as_json: bool, twice: bool) -> None:
    from podaudit.collect.redact import redact_manifest

    data = _dump(doc, as_json) + (b"---\nkind: Pod\n" if twice and not as_json else b"")
    before = judge("/m/x", FileRecord("/m/x", "file", data=data), "node-1")
    after = judge("/m/x", FileRecord("/m/x", "file", data=redact_manifest(data)), "node-1")
    assert (after.fate, after.code, after.pod, len(after.warnings)) == (
        before.fate, before.code, before.pod, len(before.warnings))


@FUZZ
@given(st.binary(max_size=400) | mutated([UNIT, ENV, CONFIG, BASE_POD]), st.lists(WORDS, max_size=8))
def test_redacting_any_bytes_or_words(data: bytes, words: list[str]) -> None:
    from podaudit.collect.redact import redact_argv, redact_manifest, redact_text

    redact_manifest(data)
    redact_text(data)
    assert len(redact_argv(["/usr/bin/kubelet", *words])) == len(words) + 1


@FUZZ
@given(mutated([UNIT]), mutated([ENV]))
def test_a_redacted_unit_starts_the_kubelet_with_the_same_read_flags(unit: bytes, env: bytes) -> None:
    from podaudit.collect.redact import redact_text
    from podaudit.kubelet.flags import READ_FLAGS

    def argv(unit_text: bytes, env_text: bytes) -> list[str]:
        node = mem_node({"/usr/lib/systemd/system/kubelet.service": unit_text, "/etc/default/kubelet": env_text})
        resolved = resolve_unit(node, "kubelet.service")
        return [a.value for a in resolved.argv] if resolved is not None else []

    before, after = argv(unit, env), argv(redact_text(unit), redact_text(env))
    assert len(after) == len(before)
    # Read flags given as --flag=value (a "--flag" ending one variable and its value starting
    # the next cannot be told apart in the files: such a value stays only when it is a path).
    read = {k: v.value for k, v in parse_args(before[1:]).flags.items()
            if k in READ_FLAGS and "://" not in v.value and "=" in before[v.index]}
    assert {k: v.value for k, v in parse_args(after[1:]).flags.items() if k in read} == read
