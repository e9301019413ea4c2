"""The bundled demo cluster, driven through the real command line."""

from tests.cli_helpers import run, run_json


def test_find_greenbox_names_node_file_and_chain():
    proc = run("--demo", "find", "static-greenbox-node01")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "node01" in out
    assert "/etc/just-to-mess-with-you/greenbox.yaml" in out
    assert "/proc/1042/cmdline" in out  # the chain starts at the process
    assert "--config=/var/lib/kubelet/config.yaml" in out
    assert "staticPodPath: /etc/just-to-mess-with-you" in out
    assert "kubectl delete pod static-greenbox-node01 deletes only the mirror pod" in out
    assert "sudo mv -- /etc/just-to-mess-with-you/greenbox.yaml" in out


def test_find_json_matches_the_schema_and_says_where():
    code, doc = run_json("--demo", "find", "static-greenbox-node01")
    assert code == 0
    [match] = doc["matches"]
    assert match["node"] == "node01"
    assert match["manifest_path"] == "/etc/just-to-mess-with-you/greenbox.yaml"
    assert match["static_pod_path"] == "/etc/just-to-mess-with-you"
    assert (match["path_source"], match["argv_source"]) == ("config", "process")
    assert match["name"] == "static-greenbox" and match["namespace"] == "default"
    steps = [(s["source"], s["line"]) for s in match["provenance"]]
    assert steps[0] == ("/proc/1042/cmdline", None)
    assert steps[-1][0] == "/var/lib/kubelet/config.yaml" and steps[-1][1] is not None
    assert match["api"]["status"] == "Running" and match["api"]["mirror"] is True
    reason = "spec.nodeName of pod default/static-greenbox-node01 in the API"
    assert doc["candidates"] == [{"node": "node01", "reason": reason}]


def test_find_control_plane_pod_with_namespace():
    code, doc = run_json("--demo", "find", "kube-apiserver-controlplane", "-n", "kube-system")
    assert code == 0
    assert doc["matches"][0]["manifest_path"] == "/etc/kubernetes/manifests/kube-apiserver.yaml"
    code, doc = run_json("--demo", "find", "kube-apiserver-controlplane", "-n", "default")
    assert code == 2 and doc["matches"] == []


def test_unknown_pod_suggests_the_closest_names():
    proc = run("--demo", "find", "static-greenbx-node01")
    assert proc.returncode == 2
    assert "No static pod named static-greenbx-node01" in proc.stdout
    assert "static-greenbox-node01" in proc.stdout


def test_a_normal_pod_is_not_a_static_pod():
    proc = run("--demo", "find", "coredns-7c65d6cfc9-ntcbc")
    assert proc.returncode == 2
    assert "The API has a pod by that name, but it is not a mirror pod" in proc.stdout


def test_node_of_the_demo_snapshot():
    code, doc = run_json("--demo", "node", "node01")
    assert code == 0
    assert doc["node"] == "node01" and doc["kubelet"]["pid"] == 1042
    assert doc["config_file"] == "/var/lib/kubelet/config.yaml"
    assert [p["mirror_name"] for p in doc["static_pods"]] == ["static-greenbox-node01"]
    assert [(e["path"], e["fate"]) for e in doc["entries"]] == [
        ("/etc/just-to-mess-with-you/greenbox.yaml", "loaded")]
    assert doc["restart_pending"] == []


def test_node_needs_a_name_when_the_snapshot_has_several():
    proc = run("--demo", "node")
    assert proc.returncode == 2
    assert proc.stderr.startswith("podaudit: error: snapshot ")
    assert proc.stderr.rstrip().endswith("has 2 nodes; name one: controlplane, node01")


def test_a_name_that_is_not_the_snapshots_one_node_is_refused(tmp_path):
    """A typo is not the only node on offer: podaudit node typo names the nodes there are
    (only this machine or --root take any name)."""
    import shutil
    from pathlib import Path

    import podaudit

    demo = Path(podaudit.__file__).parent / "demo" / "cluster"
    shutil.copytree(demo / "nodes" / "node01", tmp_path / "snap" / "nodes" / "node01", symlinks=True)
    proc = run("--snapshot", str(tmp_path / "snap"), "node", "nod01")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.rstrip().endswith("no node nod01 in snapshot " + str(tmp_path / "snap") + "; nodes: node01")
    assert run("--snapshot", str(tmp_path / "snap"), "node", "node01").returncode == 0


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args in (["--snapshot", str(tmp_path / "missing"), "find", "x"],
                 ["--snapshot", str(tmp_path), "find", "x"],
                 ["node", "--root", str(tmp_path / "nope")],
                 ["--demo", "node", "nosuchnode"],
                 ["--demo", "--root", "/", "node"]):
        proc = run(*args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("podaudit: error: ")


def test_help_lists_the_commands():
    proc = run("--help")
    assert proc.returncode == 0
    assert "find" in proc.stdout and "node" in proc.stdout and "--demo" in proc.stdout


def test_global_options_also_work_after_the_command():
    code, doc = run_json("find", "static-greenbox-node01", "--demo")
    assert code == 0 and doc["matches"][0]["node"] == "node01"
    proc = run("node", "node01", "--demo", "-o", "json")
    assert proc.returncode == 0 and '"kind": "NodeReport"' in proc.stdout


def test_empty_paths_never_mean_this_machine(tmp_path):
    for args in (["--root", "", "node"], ["--snapshot", "", "find", "x"]):
        proc = run(*args)
        assert proc.returncode == 2 and "is empty" in proc.stderr, args
    (tmp_path / "nodes").mkdir()
    proc = run("--snapshot", str(tmp_path), "find", "x")
    assert proc.returncode == 2 and "holds no node folders" in proc.stderr


def test_a_node_folder_leading_outside_the_snapshot_is_skipped(tmp_path):
    (tmp_path / "nodes/real/proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "nodes/real/proc/sys/kernel/hostname").write_text("real\n")
    (tmp_path / "nodes/evil").symlink_to("/")
    code, doc = run_json("--snapshot", str(tmp_path), "find", "x-evil")
    assert code == 2
    assert [c["node"] for c in doc["candidates"]] == []
    assert any("nodes/evil leads outside the snapshot" in n for n in doc["notes"])


def test_sweep_of_the_demo_cluster():
    code, doc = run_json("--demo", "sweep")
    assert code == 0 and doc["unavailable"] == []
    by_node = {n["node"]: n for n in doc["nodes"]}
    assert by_node["node01"]["static_pod_path"] == "/etc/just-to-mess-with-you"
    assert len(by_node["controlplane"]["static_pods"]) == 4
    text = run("--demo", "sweep")
    assert "2 of 2 nodes audited." in text.stdout and "static-greenbox" in text.stdout
    assert "PA106" in text.stdout  # a worker with static pods enabled (DISA STIG)


def test_sweep_exit_codes_follow_fail_on_in_every_format():
    for output in ("table", "json", "markdown", "junit", "sarif", "watch-paths"):
        assert run("--demo", "sweep", "-o", output).returncode == 0, output  # only medium findings
        assert run("--demo", "sweep", "-o", output, "--fail-on", "medium").returncode == 1, output


def test_a_written_baseline_makes_the_demo_clean_and_catches_a_new_pod(tmp_path):
    baseline = tmp_path / "baseline.yaml"
    assert run("--demo", "sweep", "--write-baseline", str(baseline)).returncode == 0
    assert "static-greenbox" in baseline.read_text()
    code, doc = run_json("--demo", "sweep", "--baseline", str(baseline))
    assert code == 0 and "PA106" not in {f["id"] for f in doc["findings"]}
    assert doc["roles"] == {"controlplane": "control-plane", "node01": "worker"}
    code, doc = run_json("--demo", "sweep", "--baseline", "builtin:k3s")  # expects no static pods at all
    # Every pod is unexpected (PA501); the control plane ones use host namespaces too (PA405).
    assert code == 1 and {f["id"] for f in doc["findings"] if f["severity"] == "high"} == {"PA501", "PA405"}


def test_a_baseline_error_names_the_file_and_line(tmp_path):
    bad = tmp_path / "baseline.yaml"
    bad.write_text("apiVersion: podaudit/v1\nkind: Baseline\nsuppress:\n  - {id: PA401}\n")
    proc = run("--demo", "sweep", "--baseline", str(bad))
    assert proc.returncode == 2 and f"{bad}:" in proc.stderr and len(proc.stderr.splitlines()) == 1
