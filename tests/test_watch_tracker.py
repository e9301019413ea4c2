"""The watch tracker: successive readings of one node as the events a person reads."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from podaudit.collect.local import NodeHandle
from podaudit.collect.source import NodeResult, read_node
from podaudit.model import FailureKind, NodeFailure
from podaudit.watch.events import EVENT_KINDS, FindingChange, WatchEvent
from podaudit.watch.loop import MAX_MANIFEST_EVENTS, Fleet, coalesce
from podaudit.watch.tracker import MAX_FINDINGS, Tracker, attach_findings

FIXTURE = Path(__file__).parent / "fixtures/nodes/kubeadm-etc"
POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec: {containers: [{name: a, image: b}]}\n"


@pytest.fixture
def node(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


def _read(root: Path) -> NodeResult:
    return read_node(NodeHandle("n1", str(root), only=True))


def _manifests(root: Path) -> Path:
    return root / "etc/kubernetes/manifests"


def test_the_first_reading_says_what_is_watched(node: Path) -> None:
    [event] = Tracker("n1").update(_read(node), "t0")
    assert event.event == "watching" and event.path == "/etc/kubernetes/manifests"
    assert event.detail["source"] == "config" and event.detail["files"] == 1


def test_added_changed_removed_carry_pod_mirror_and_hashes(node: Path) -> None:
    tracker = Tracker("n1")
    tracker.update(_read(node), "t0")
    web = _manifests(node) / "web.yaml"
    web.write_text(POD % "web")
    [added] = tracker.update(_read(node), "t1")
    first = hashlib.sha256(web.read_bytes()).hexdigest()
    assert (added.event, added.path, added.pod, added.mirror) == (
        "manifest-added", "/etc/kubernetes/manifests/web.yaml", "default/web", "web-worker-1")
    assert (added.sha256, added.previous_sha256) == (first, None)
    web.write_text(POD % "web2")
    [changed] = tracker.update(_read(node), "t2")
    assert changed.event == "manifest-changed" and changed.previous_sha256 == first
    assert changed.sha256 == hashlib.sha256(web.read_bytes()).hexdigest() and changed.pod == "default/web2"
    web.unlink()
    [removed] = tracker.update(_read(node), "t3")
    assert removed.event == "manifest-removed" and removed.sha256 is None and removed.pod == "default/web2"
    assert tracker.update(_read(node), "t4") == []


def test_a_rename_is_removed_and_added(node: Path) -> None:
    tracker = Tracker("n1")
    (_manifests(node) / "a.yaml").write_text(POD % "a")
    tracker.update(_read(node), "t0")
    (_manifests(node) / "a.yaml").rename(_manifests(node) / "b.yaml")
    events = tracker.update(_read(node), "t1")
    assert [(e.event, e.path) for e in events] == [("manifest-removed", "/etc/kubernetes/manifests/a.yaml"),
                                                   ("manifest-added", "/etc/kubernetes/manifests/b.yaml")]
    assert events[0].previous_sha256 == events[1].sha256


def test_a_new_static_pod_path_is_a_settings_change_pending_a_restart(node: Path) -> None:
    (node / "podaudit.meta.json").unlink()  # the files' real mtimes: newer than the kubelet's start
    tracker = Tracker("n1")
    tracker.update(_read(node), "t0")
    config = node / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace("staticPodPath: /etc/kubernetes/manifests",
                                                 "staticPodPath: /srv/pods"))
    (node / "srv/pods").mkdir(parents=True)
    events = tracker.update(_read(node), "t1")
    settings = next(e for e in events if e.event == "settings-changed")
    assert settings.detail["old_path"] == "/etc/kubernetes/manifests" and settings.detail["new_path"] == "/srv/pods"
    # The running kubelet (proc/1104) still reads the old folder: the change applies at its next start.
    assert settings.detail["restart_pending"] is True
    assert settings.detail["files"] == ["/var/lib/kubelet/config.yaml"]
    assert any(e.event == "manifest-removed" for e in events)


def test_a_new_dropin_is_a_settings_change_even_when_the_path_stays(node: Path) -> None:
    tracker = Tracker("n1")
    tracker.update(_read(node), "t0")
    dropin = node / "etc/systemd/system/kubelet.service.d/20-extra.conf"
    dropin.write_text("[Service]\nEnvironment=EXTRA=1\n")
    [event] = tracker.update(_read(node), "t1")
    assert event.event == "settings-changed" and event.detail["old_path"] == event.detail["new_path"]
    assert event.detail["files"] == ["/etc/systemd/system/kubelet.service.d/20-extra.conf"]


def test_unreachable_once_then_back(node: Path) -> None:
    tracker = Tracker("n1")
    tracker.update(_read(node), "t0")
    down = NodeResult.failed(NodeFailure("n1", FailureKind.UNREACHABLE, "n1: connection refused"))
    [lost] = tracker.update(down, "t1")
    assert lost.event == "node-unreachable" and lost.detail["reason"] == "n1: connection refused"
    assert tracker.update(down, "t2") == []  # said once, not per attempt
    [back] = tracker.update(_read(node), "t3")
    assert back.event == "node-back"


def test_a_kubelet_restart_is_seen_by_pid_and_start(node: Path) -> None:
    tracker = Tracker("n1")
    tracker.update(_read(node), "t0")
    shutil.copytree(node / "proc/1104", node / "proc/2207")
    shutil.rmtree(node / "proc/1104")
    [event] = tracker.update(_read(node), "t1")
    assert event.event == "kubelet-restarted"
    assert event.detail == {"old_pid": 1104, "new_pid": 2207, "running": True, "argv_changed": False}


def test_many_manifest_events_become_one_coalesced_event_that_counts_all() -> None:
    events = [WatchEvent("t", "n", "manifest-added", f"/m/{i}") for i in range(300)]
    events += [WatchEvent("t", "n", "settings-changed")]
    out = coalesce(events, "t")
    assert [e.event for e in out] == ["settings-changed", "coalesced"]
    assert out[1].detail["counts"]["manifest-added"] == 300 and out[1].detail["total"] == 300
    assert len(out[1].detail["paths"]) + out[1].detail["paths_left_off"] == 300
    few = events[:MAX_MANIFEST_EVENTS]
    assert coalesce(few, "t") == few


def test_findings_ride_on_the_readings_first_event_and_are_bounded() -> None:
    changes = tuple(FindingChange("PA405", "high", f"/m/{i}", "m", f"{i:032x}") for i in range(MAX_FINDINGS + 7))
    [alone] = attach_findings([], "n", "t", changes, ())
    assert alone.event == "findings-changed" and len(alone.appeared) == MAX_FINDINGS
    assert alone.detail["findings_left_off"] == {"appeared": 7, "cleared": 0}
    first, second = attach_findings([WatchEvent("t", "n", "manifest-added"), WatchEvent("t", "n", "coalesced")],
                                    "n", "t", (), changes[:2])
    assert first.cleared == changes[:2] and not second.cleared


def test_fleet_reaudits_and_diffs_findings_by_fingerprint(node: Path) -> None:
    seen: list[WatchEvent] = []

    class Sink:
        def emit(self, event: WatchEvent) -> None:
            seen.append(event)

        def state(self, *args: object) -> None:
            pass

        def close(self) -> None:
            pass

    fleet = Fleet([Sink()])
    [watching] = fleet.reading("n1", _read(node))
    assert any(f.id == "PA405" for f in watching.appeared)  # nginx-proxy on a worker
    (_manifests(node) / "nginx-proxy.yml").unlink()
    [removed] = fleet.reading("n1", _read(node))
    assert removed.event == "manifest-removed" and any(f.id == "PA405" for f in removed.cleared)
    assert seen == [watching, removed]


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_baseline_may_silence_each_event_kind_and_no_typo(tmp_path: Path, kind: str) -> None:
    from podaudit.audit.baseline import load_baseline
    from podaudit.errors import InputError

    entry = ('apiVersion: podaudit/v1\nkind: Baseline\nsuppress:\n'
             '  - {id: %s, node: "cp-*", reason: upgrade, until: "2027-03-07T18:00:00Z"}\n')
    (tmp_path / "ok.yaml").write_text(entry % kind)
    [suppression] = load_baseline(str(tmp_path / "ok.yaml")).suppressions
    assert suppression.for_events
    (tmp_path / "typo.yaml").write_text(entry % (kind + "s"))
    with pytest.raises(InputError):
        load_baseline(str(tmp_path / "typo.yaml"))
