"""Rebuilding the kubelet command line from systemd units, drop-ins and environment files."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podaudit.kubelet.systemd import EnvFileUse, UnitCommand, resolve_unit
from podaudit.model import DirListing, FileRecord, Problem, Step
from tests.kubeadm_units import KUBEADM_DROPIN, KUBELET_SERVICE

USR = "/usr/lib/systemd/system"
ETC = "/etc/systemd/system"

KUBEADM_FLAGS = ('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/'
                 'containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.9"\n')
KUBEADM_ARGV = [
    "/usr/bin/kubelet",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
    "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
    "--pod-infra-container-image=registry.k8s.io/pause:3.9",
]


def texts(problems: tuple[Problem, ...]) -> tuple[str, ...]:
    """The problems as reports word them."""
    return tuple(p.text() for p in problems)


class FakeNode:
    """A node's filesystem: path → content, plus symbolic links (path → target)."""

    def __init__(self, files: dict[str, str | bytes], links: dict[str, str] | None = None):
        self.files = {p: c.encode() if isinstance(c, str) else c for p, c in files.items()}
        self.links = links or {}

    def file(self, path: str) -> FileRecord:
        if path in self.links:
            target = self.links[path]
            if target == "/dev/null":
                return FileRecord(path, "other", target=target)
            found = self.file(target)
            return FileRecord(path, found.kind, size=found.size, data=found.data, target=target)
        if path in self.files:
            data = self.files[path]
            return FileRecord(path, "file", mode=0o644, mtime=1.0, size=len(data), data=data)
        if any(p.startswith(path.rstrip("/") + "/") for p in [*self.files, *self.links]):
            return FileRecord(path, "dir")
        return FileRecord(path, "missing", error="No such file or directory")

    def listdir(self, path: str) -> DirListing:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in [*self.files, *self.links]
                 if p.startswith(prefix)}
        return DirListing(path, tuple(names)) if names else DirListing(path, None, "missing")


def kubeadm_node(**extra: str) -> FakeNode:
    files: dict[str, str | bytes] = {
        f"{USR}/kubelet.service": KUBELET_SERVICE,
        f"{USR}/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN,
        "/var/lib/kubelet/kubeadm-flags.env": KUBEADM_FLAGS,
        "/etc/default/kubelet": "KUBELET_EXTRA_ARGS=\n",
    }
    files.update(extra)
    return FakeNode(files)


def resolve(node: FakeNode, unit: str = "kubelet.service") -> UnitCommand:
    command = resolve_unit(node, unit)
    assert command is not None
    return command


def values(command: UnitCommand) -> list[str]:
    return [arg.value for arg in command.argv]


def test_kubeadm_package_layout_rebuilds_the_running_command_line() -> None:
    command = resolve(kubeadm_node())
    assert values(command) == KUBEADM_ARGV
    assert command.unit_path == f"{USR}/kubelet.service"
    assert command.dropins == (f"{USR}/kubelet.service.d/10-kubeadm.conf",)
    assert texts(command.problems) == ()
    assert command.working_directory == "/"
    assert command.env_files == (
        EnvFileUse("/var/lib/kubelet/kubeadm-flags.env", optional=True, status="read"),
        EnvFileUse("/etc/default/kubelet", optional=True, status="read"),
    )
    assert command.sources == (
        f"{USR}/kubelet.service", f"{USR}/kubelet.service.d/10-kubeadm.conf",
        "/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet",
    )


def test_each_argument_names_the_variable_and_line_that_set_it() -> None:
    argv = resolve(kubeadm_node()).argv
    dropin = f"{USR}/kubelet.service.d/10-kubeadm.conf"
    assert argv[0].origin == Step("ExecStart=", dropin, 11)
    assert argv[3].origin == Step(
        "$KUBELET_CONFIG_ARGS = --config=/var/lib/kubelet/config.yaml", dropin, 4)
    assert argv[4].origin.source == "/var/lib/kubelet/kubeadm-flags.env"
    assert argv[4].origin.line == 1
    assert argv[4].origin.what.startswith("$KUBELET_KUBEADM_ARGS = --container-runtime-endpoint")


def test_same_dropin_name_in_etc_hides_the_packaged_one() -> None:
    override = KUBEADM_DROPIN.replace("--config=/var/lib/kubelet/config.yaml",
                                      "--config=/etc/kubernetes/kubelet-custom.yaml")
    node = kubeadm_node(**{f"{ETC}/kubelet.service.d/10-kubeadm.conf": override})
    command = resolve(node)
    assert command.dropins == (f"{ETC}/kubelet.service.d/10-kubeadm.conf",)
    assert "--config=/etc/kubernetes/kubelet-custom.yaml" in values(command)
    assert "--config=/var/lib/kubelet/config.yaml" not in values(command)


def test_empty_dropin_in_etc_masks_the_packaged_one() -> None:
    command = resolve(kubeadm_node(**{f"{ETC}/kubelet.service.d/10-kubeadm.conf": ""}))
    assert values(command) == ["/usr/bin/kubelet"]
    assert command.dropins == (f"{ETC}/kubelet.service.d/10-kubeadm.conf",)


def test_dropins_apply_in_name_order_across_directories() -> None:
    node = kubeadm_node(**{
        f"{ETC}/kubelet.service.d/05-first.conf": "[Service]\nExecStart=/opt/never\n",
        "/run/systemd/system/kubelet.service.d/20-last.conf":
            "[Service]\nEnvironment=KUBELET_EXTRA_ARGS=--from-run\n",
        "/etc/default/kubelet": "",
    })
    command = resolve(node)
    assert [d.rsplit("/", 1)[1] for d in command.dropins] == [
        "05-first.conf", "10-kubeadm.conf", "20-last.conf"]
    # 10-kubeadm.conf resets ExecStart= after 05-first.conf added one.
    assert values(command) == [*KUBEADM_ARGV, "--from-run"]


def test_packaged_env_file_overrides_environment_in_a_later_dropin() -> None:
    node = kubeadm_node(**{
        f"{ETC}/kubelet.service.d/20-verbose.conf":
            '[Service]\nEnvironment="KUBELET_EXTRA_ARGS=--v=4"\n',
    })
    command = resolve(node)
    assert "--v=4" not in values(command)  # KUBELET_EXTRA_ARGS= from /etc/default/kubelet wins
    assert values(command) == KUBEADM_ARGV


def test_extra_args_from_etc_default_kubelet() -> None:
    node = kubeadm_node(**{
        "/etc/default/kubelet": "KUBELET_EXTRA_ARGS=--pod-manifest-path=/etc/kubernetes/manifests"
                                " --v=2\n"})
    argv = resolve(node).argv
    assert [a.value for a in argv[-2:]] == ["--pod-manifest-path=/etc/kubernetes/manifests",
                                            "--v=2"]
    assert argv[-2].origin.source == "/etc/default/kubelet"


def test_pre_1_11_dropin_sets_the_manifest_path_on_the_command_line() -> None:
    dropin = """[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf --require-kubeconfig=true"
Environment="KUBELET_SYSTEM_PODS_ARGS=--pod-manifest-path=/etc/kubernetes/manifests --allow-privileged=true"
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_SYSTEM_PODS_ARGS $KUBELET_EXTRA_ARGS
"""
    path = f"{ETC}/kubelet.service.d/10-kubeadm.conf"
    node = FakeNode({"/lib/systemd/system/kubelet.service": KUBELET_SERVICE, path: dropin})
    command = resolve(node)
    assert values(command) == [
        "/usr/bin/kubelet", "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--require-kubeconfig=true", "--pod-manifest-path=/etc/kubernetes/manifests",
        "--allow-privileged=true"]
    assert command.argv[3].origin == Step(
        "$KUBELET_SYSTEM_PODS_ARGS = --pod-manifest-path=/etc/kubernetes/manifests "
        "--allow-privileged=true", path, 3)


def test_second_exec_start_without_reset_is_reported() -> None:
    node = FakeNode({
        f"{USR}/kubelet.service": KUBELET_SERVICE,
        f"{ETC}/kubelet.service.d/override.conf":
            "[Service]\nExecStart=/usr/bin/kubelet --config=/etc/kubelet.yaml\n",
    })
    command = resolve(node)
    assert texts(command.problems) == (
        f"2 ExecStart= lines remain ({USR}/kubelet.service:5, "
        f"{ETC}/kubelet.service.d/override.conf:2): systemd refuses to start a Type=simple "
        "service",)
    assert values(command) == ["/usr/bin/kubelet", "--config=/etc/kubelet.yaml"]


def test_braced_variable_stays_one_argument_and_bare_variable_splits() -> None:
    unit = """[Service]
Environment="LABELS=role=a zone=b" "ARGS=--v=2  --node-ip=10.0.0.1"
ExecStart=/usr/local/bin/kubelet --node-labels=${LABELS} $ARGS ${UNSET}x $UNSET cost=$$5 "${LABELS}"
"""
    command = resolve(FakeNode({f"{ETC}/kubelet.service": unit}))
    assert values(command) == ["/usr/local/bin/kubelet", "--node-labels=role=a zone=b", "--v=2",
                               "--node-ip=10.0.0.1", "x", "cost=$5", "role=a zone=b"]
    assert command.argv[1].origin == Step("${LABELS} = role=a zone=b",
                                          f"{ETC}/kubelet.service", 2)
    assert command.argv[4].origin.what == "${UNSET} is unset"


def test_masked_unit_runs_nothing() -> None:
    node = FakeNode({f"{USR}/kubelet.service": KUBELET_SERVICE,
                     f"{USR}/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN},
                    links={f"{ETC}/kubelet.service": "/dev/null"})
    command = resolve(node)
    assert command.argv == ()
    assert command.unit_path == f"{ETC}/kubelet.service"
    assert texts(command.problems) == ("unit is masked (symlink to /dev/null)",)


def test_empty_unit_file_masks_too() -> None:
    command = resolve(FakeNode({f"{ETC}/kubelet.service": "", f"{USR}/kubelet.service": "x"}))
    assert texts(command.problems) == ("unit is masked (empty file)",)


def test_missing_mandatory_env_file_fails_the_unit() -> None:
    unit = ("[Service]\nEnvironmentFile=/etc/eks/kubelet/environment\n"
            "ExecStart=/usr/bin/kubelet $NODEADM_KUBELET_ARGS\n")
    command = resolve(FakeNode({f"{ETC}/kubelet.service": unit}))
    assert command.env_files == (EnvFileUse("/etc/eks/kubelet/environment", False, "missing"),)
    assert texts(command.problems) == ("EnvironmentFile=/etc/eks/kubelet/environment is missing and "
                                "not optional: the unit fails to start",)
    assert values(command) == ["/usr/bin/kubelet"]


def test_kubespray_unit_with_continued_exec_start_and_env_file() -> None:
    unit = """[Service]
EnvironmentFile=-/etc/kubernetes/kubelet.env
ExecStart=/usr/local/bin/kubelet \\
\t\t$KUBE_LOGTOSTDERR \\
\t\t$KUBE_LOG_LEVEL \\
\t\t$KUBELET_ARGS \\
\t\t$KUBELET_CLOUDPROVIDER
Restart=always
"""
    env = """KUBE_LOGTOSTDERR="--logtostderr=true"
KUBE_LOG_LEVEL="--v=2"
KUBELET_ARGS="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
--config=/etc/kubernetes/kubelet-config.yaml \\
--kubeconfig=/etc/kubernetes/kubelet.conf \\
 --node-labels=  "
KUBELET_CLOUDPROVIDER=""
"""
    node = FakeNode({f"{ETC}/kubelet.service": unit, "/etc/kubernetes/kubelet.env": env})
    command = resolve(node)
    assert values(command) == [
        "/usr/local/bin/kubelet", "--logtostderr=true", "--v=2",
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--config=/etc/kubernetes/kubelet-config.yaml",
        "--kubeconfig=/etc/kubernetes/kubelet.conf", "--node-labels="]
    assert command.argv[4].origin.source == "/etc/kubernetes/kubelet.env"
    assert command.argv[4].origin.line == 3
    assert command.argv[0].origin == Step("ExecStart=", f"{ETC}/kubelet.service", 3)


def test_eks_al2_single_quoted_environment_continued_over_lines() -> None:
    unit = """[Service]
ExecStart=/usr/bin/kubelet \\
    --config /etc/kubernetes/kubelet/kubelet-config.json \\
    $KUBELET_ARGS \\
    $KUBELET_EXTRA_ARGS
"""
    dropin = """[Service]
Environment='KUBELET_ARGS=--node-ip=192.168.78.181 \\
\t--pod-infra-container-image=602401143452.dkr.ecr.eu-west-3.amazonaws.com/eks/pause:3.5 \\
\t--v=2'
"""
    extra = "[Service]\nEnvironment='KUBELET_EXTRA_ARGS=--max-pods=110'\n"
    node = FakeNode({f"{ETC}/kubelet.service": unit,
                     f"{ETC}/kubelet.service.d/10-kubelet-args.conf": dropin,
                     f"{ETC}/kubelet.service.d/30-kubelet-extra-args.conf": extra})
    command = resolve(node)
    assert values(command) == [
        "/usr/bin/kubelet", "--config", "/etc/kubernetes/kubelet/kubelet-config.json",
        "--node-ip=192.168.78.181",
        "--pod-infra-container-image=602401143452.dkr.ecr.eu-west-3.amazonaws.com/eks/pause:3.5",
        "--v=2", "--max-pods=110"]
    assert command.argv[3].origin.source == f"{ETC}/kubelet.service.d/10-kubelet-args.conf"
    assert command.argv[3].origin.line == 2
    assert texts(command.problems) == ()


def test_unquoted_environment_with_spaces_is_reported() -> None:
    unit = ("[Service]\nEnvironment=KUBELET_ARGS=--v=2 --node-ip=10.0.0.1\n"
            "ExecStart=/k $KUBELET_ARGS\n")
    command = resolve(FakeNode({f"{ETC}/kubelet.service": unit}))
    assert values(command) == ["/k", "--v=2"]
    assert texts(command.problems) == (f"{ETC}/kubelet.service:2: Environment= '--node-ip=10.0.0.1' is "
                                "not a NAME=value assignment: systemd ignores it",)


def test_working_directory_and_unit_specifiers() -> None:
    unit = ("[Service]\nWorkingDirectory=-/var/lib//%N/\n"
            "EnvironmentFile=-/etc/default/%N\nExecStart=/usr/local/bin/rke2 server --unit=%n\n")
    dropin = "[Service]\nEnvironment=FROM_DASH_PREFIX=1\n"
    node = FakeNode({f"{USR}/rke2-server.service": unit,
                     f"{ETC}/rke2-.service.d/override.conf": dropin})
    command = resolve(node, "rke2-server")
    assert command.unit == "rke2-server.service"
    assert command.working_directory == "/var/lib/rke2-server"
    assert values(command) == ["/usr/local/bin/rke2", "server", "--unit=rke2-server.service"]
    assert command.env_files == (EnvFileUse("/etc/default/rke2-server", True, "missing"),)
    assert command.dropins == (f"{ETC}/rke2-.service.d/override.conf",)


def test_later_env_file_wins_and_a_file_with_invalid_utf8_is_refused() -> None:
    unit = ("[Service]\nEnvironmentFile=/a.env\nEnvironmentFile=-/b.env\n"
            "EnvironmentFile=-/bad.env\nExecStart=/k $X $Y\n")
    node = FakeNode({f"{ETC}/kubelet.service": unit, "/a.env": "X=--from-a\nY=--y\n",
                     "/b.env": "# later file\nX=--from-b\n", "/bad.env": b"Y=\xff\n"})
    command = resolve(node)
    assert values(command) == ["/k", "--from-b", "--y"]
    assert command.argv[1].origin == Step("$X = --from-b", "/b.env", 2)
    assert command.env_files[2] == EnvFileUse("/bad.env", True, "invalid UTF-8 on line 1")
    assert texts(command.problems) == ("EnvironmentFile=/bad.env has invalid UTF-8 on line 1: "
                                "systemd skips it",)


def test_type_wide_dropins_apply_to_every_service() -> None:
    node = kubeadm_node(**{f"{USR}/service.d/05-all.conf": "[Service]\nWorkingDirectory=~\n"})
    command = resolve(node)
    assert command.dropins[0] == f"{USR}/service.d/05-all.conf"
    assert command.working_directory == "/root"
    assert values(command) == KUBEADM_ARGV


def test_no_unit_anywhere_is_none_and_dropins_alone_are_not_found() -> None:
    assert resolve_unit(FakeNode({}), "kubelet.service") is None
    only_dropin = FakeNode({f"{ETC}/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN})
    command = resolve(only_dropin)
    assert command.unit_path is None
    assert texts(command.problems)[0].startswith("no unit file for kubelet.service, only drop-ins")


def test_bad_section_header_and_invalid_utf8_are_reported() -> None:
    unit = b"[Service]\nExecStart=/usr/bin/kubelet\nEnvironment=A=\xff\n[Service\n"
    command = resolve(FakeNode({f"{ETC}/kubelet.service": unit}))
    assert texts(command.problems) == (
        f"{ETC}/kubelet.service:3: not valid UTF-8: systemd ignores the line",
        f"{ETC}/kubelet.service:4: invalid section header '[Service': systemd refuses to load "
        "the unit",
    )


UNIT_PATHS = [f"{ETC}/kubelet.service", f"{USR}/kubelet.service.d/10-kubeadm.conf",
              f"{ETC}/kubelet.service.d/20-x.conf", "/etc/default/kubelet", "/x.env"]
# Fragments that steer random bytes toward the syntax the parsers care about.
SYNTAX = st.sampled_from([
    "[Service]\n", "ExecStart=", "ExecStart=/usr/bin/kubelet ", "Environment=", "\"", "'", "\\",
    "\\\n", "$", "${", "}", "$$", "%", "%n", ";", " ", "\n", "=", "#", "EnvironmentFile=-",
    "EnvironmentFile=/x.env\n", "WorkingDirectory=", "~", "@", "-", "KUBELET_ARGS", "\xff",
])


@settings(max_examples=200)
@given(st.lists(st.lists(st.one_of(SYNTAX, st.text(max_size=4))).map("".join), min_size=5,
                max_size=5),
       st.binary(max_size=40))
def test_resolve_unit_never_raises(texts: list[str], noise: bytes) -> None:
    files: dict[str, str | bytes] = {p: t.encode("utf-8", "surrogatepass") + noise
                                     for p, t in zip(UNIT_PATHS, texts, strict=True)}
    command = resolve_unit(FakeNode(files), "kubelet.service")
    assert command is not None
    assert all(isinstance(arg.value, str) for arg in command.argv)
