"""What the SSH lab's nodes are made of (stdlib only); scripts/lab runs them.

A scenario is a list of NodeSpec: a node snapshot (docs/snapshot-format.md) to copy, the
processes to start, extra files, and an optional fault. lay_node() writes one node's files
into overlay upper directories, one per top-level directory of the node (etc, usr, var...);
build_node() adds its host key, sshd_config and init script (the node's PID 1), and
write_client_files() the ssh_config, known_hosts and inventory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_NODES = REPO / "podaudit" / "demo" / "cluster" / "nodes"
FIXTURE_NODES = REPO / "tests" / "fixtures" / "nodes"
PRIVATE_TMP = REPO / "scripts" / "private_tmp.sh"  # gives each node a /tmp of its own
SCENARIOS = ("greenbox", "fixtures", "fleet", "faults")
FLEET_DEFAULT, FLEET_MAX = 10, 250

# Node-tree tops that live under /usr on a merged-/usr host (/lib -> usr/lib, ...).
MERGED_USR = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32"})
# Tops that cannot be overlaid: kernel filesystems, and /tmp that holds the lab itself.
FORBIDDEN_TOPS = frozenset({"proc", "sys", "dev", "tmp"})
SNAPSHOT_ONLY = frozenset({"proc", "podaudit.meta.json", "README.md"})

# Users that exist only inside each node: (name, uid, sudoers line or None).
LAB_USERS = (
    ("auditor", 1501, "auditor ALL=(root) NOPASSWD: /bin/sh -s, /usr/bin/sh -s"),
    ("pwsudo", 1502, "pwsudo ALL=(root) ALL"),
    ("nosudo", 1503, None),
)
LAB_KEYS_FILE = "/etc/ssh/podaudit-lab.authorized_keys"
MANIFEST_DIR = "/etc/just-to-mess-with-you"  # node01's staticPodPath
FAKE_CRICTL_PATH = "/usr/local/bin/crictl"  # on root's PATH over SSH
CRI_DIR = "/var/lib/podaudit-lab/cri"  # what the fake crictl prints: a test writes it
HUGE_BYTES = 20 * 1024 * 1024
SSH_PORT = 22
TARPIT_LAST_OCTET = 250  # the tarpit sits at .250 of the first address's /24
SSHD_OPTIONS = (
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "PidFile none",
    "MaxStartups 200",
    "LogLevel ERROR",
    "PrintMotd no",
    "PrintLastLog no",
    "UseDNS no",
    "X11Forwarding no",
    "Subsystem sftp internal-sftp",
)


@dataclass(frozen=True)
class SnapshotProcess:
    """One process of a node snapshot: proc/<pid>/cmdline, stat (ppid) and cwd."""

    pid: int
    ppid: int
    argv: tuple[str, ...]
    cwd: str


@dataclass(frozen=True)
class NodeSpec:
    """What one lab node is made of."""

    name: str
    hostname: str
    source: Path
    processes: tuple[SnapshotProcess, ...]
    extra_files: dict[str, bytes] = field(default_factory=dict)  # node path -> content (mode 0644)
    fault: str | None = None  # down, tarpit, rekeyed, unknown, bignode, oddnames


class LabError(Exception):
    """A lab problem explained in one line."""


# ---------------------------------------------------------------- reading snapshots


def read_processes(snapshot: Path) -> tuple[SnapshotProcess, ...]:
    """Every proc/<pid>/cmdline of a node snapshot, parents before children."""
    found: list[SnapshotProcess] = []
    proc = snapshot / "proc"
    for entry in sorted(proc.iterdir() if proc.is_dir() else [], key=lambda p: p.name):
        cmdline = entry / "cmdline"
        if not entry.name.isdigit() or not cmdline.is_file():
            continue
        argv = tuple(os.fsdecode(a) for a in cmdline.read_bytes().split(b"\0") if a)
        if not argv:
            continue
        cwd_link = entry / "cwd"
        cwd = os.readlink(cwd_link) if cwd_link.is_symlink() else "/"
        found.append(SnapshotProcess(int(entry.name), _read_ppid(entry / "stat"), argv, cwd))
    return tuple(sorted(found, key=lambda p: p.pid))


def _read_ppid(stat_file: Path) -> int:
    try:
        fields = stat_file.read_text(errors="replace").rsplit(")", 1)[1].split()
        return int(fields[1])
    except (OSError, IndexError, ValueError):
        return 0


def read_hostname(snapshot: Path) -> str:
    """proc/sys/kernel/hostname, else etc/hostname, else the directory name."""
    for rel in ("proc/sys/kernel/hostname", "etc/hostname"):
        path = snapshot / rel
        if path.is_file():
            name = path.read_text(errors="replace").strip()
            if name:
                return name
    return snapshot.name


def snapshot_node(snapshot: Path, name: str | None = None, hostname: str | None = None) -> NodeSpec:
    """A NodeSpec copying a node snapshot directory."""
    return NodeSpec(
        name=name or snapshot.name,
        hostname=hostname or read_hostname(snapshot),
        source=snapshot,
        processes=read_processes(snapshot),
    )


# ---------------------------------------------------------------- scenarios


def build_scenario(scenario: str, nodes: int | None) -> list[NodeSpec]:
    """The nodes of one scenario, in address order."""
    if scenario != "fleet" and nodes is not None:
        raise LabError(f"--nodes only applies to the fleet scenario, not {scenario}")
    if scenario == "greenbox":
        return [snapshot_node(DEMO_NODES / n) for n in ("controlplane", "node01")]
    if scenario == "fixtures":
        return [snapshot_node(d) for d in sorted(FIXTURE_NODES.iterdir()) if d.is_dir()]
    if scenario == "fleet":
        count = FLEET_DEFAULT if nodes is None else nodes
        if not 1 <= count <= FLEET_MAX:
            raise LabError(f"--nodes must be between 1 and {FLEET_MAX}, not {count}")
        return [snapshot_node(DEMO_NODES / "node01", f"worker-{i:03d}", f"worker-{i:03d}") for i in range(1, count + 1)]
    if scenario == "faults":
        return faults_nodes()
    raise LabError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")


def faults_nodes() -> list[NodeSpec]:
    """Nodes for failure tests; see the module docstring of scripts/lab."""
    base = snapshot_node(DEMO_NODES / "node01")
    huge = _pod_yaml("huge") + b"# padding\n" * ((HUGE_BYTES - len(_pod_yaml("huge"))) // 10)
    huge += b"#" * (HUGE_BYTES - len(huge))
    return [
        replace(base, name="ok", hostname="ok"),
        replace(
            base, name="bignode", hostname="bignode", fault="bignode", extra_files={f"{MANIFEST_DIR}/huge.yaml": huge}
        ),
        replace(base, name="oddnames", hostname="oddnames", fault="oddnames", extra_files=odd_manifests()),
        replace(base, name="down", hostname="down", fault="down"),
        replace(base, name="tarpit", hostname="tarpit", fault="tarpit"),
        replace(base, name="rekeyed", hostname="rekeyed", fault="rekeyed"),
        replace(base, name="unknown", hostname="unknown", fault="unknown"),
    ]


def odd_manifests() -> dict[str, bytes]:
    """Valid Pods whose file names break naive shells, printers and decoders."""
    # A file name cannot hold "/", so the command substitution spells /tmp/pwned with printf.
    names = {
        "new\nline.yaml": "odd-newline",
        "$(touch $(printf '\\057tmp\\057pwned')).yaml": "odd-command",
        'it\'s "quoted".yaml': "odd-quote",
        os.fsdecode(b"latin1-\xe9t\xe9.yaml"): "odd-latin1",
    }
    return {f"{MANIFEST_DIR}/{file}": _pod_yaml(pod) for file, pod in names.items()}


def _pod_yaml(name: str) -> bytes:
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n"
        f"  name: {name}\n  namespace: default\n  labels:\n    run: {name}\n"
        'spec:\n  containers:\n  - command:\n    - sleep\n    - "1000"\n'
        f"    image: busybox\n    name: {name}\n  restartPolicy: Always\n"
    ).encode()


# ---------------------------------------------------------------- a fake crictl

# crictl as cri-tools prints it (cmd/crictl), answering from files a test writes in DIR:
# pods.json (`pods -o json`), ps.json (`ps -a -o json`; without -a only its running
# containers), inspect/ID.json (`inspect ID...`: one object, an array for several),
# logs/ID.log (`logs [--tail N] ID`, on stderr: the container's stderr stream goes to
# crictl's stderr) and logs/ID.out (on stdout). Like crictl it fails with "validate service
# connection" when the -r endpoint's socket does not exist, and with NotFound for an unknown
# ID (exit 1). Each call is appended to DIR/calls.
FAKE_CRICTL = r"""#!/bin/sh
D=__CRI_DIR__
NL='
'
{ printf '%s\n' "$*" >>"$D/calls"; } 2>/dev/null
fatal() {
    printf 'time="%s" level=fatal msg="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >&2
    exit 1
}
ep=
while [ $# -gt 0 ]; do
    case $1 in
    -r | --runtime-endpoint) ep=$2; shift 2 ;;
    -r=* | --runtime-endpoint=*) ep=${1#*=}; shift ;;
    -i | --image-endpoint | -c | --config | -t | --timeout) shift 2 ;;
    -D | --debug) shift ;;
    -?* ) fatal "flag provided but not defined: $1" ;;
    *) break ;;
    esac
done
if [ -z "$ep" ]; then
    ep=unix:///run/containerd/containerd.sock
    printf 'time="%s" level=warning msg="runtime connect using default endpoints: [%s]. %s"\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$ep" \
        "As the default settings are now deprecated, you should set the endpoint instead." >&2
fi
sock=${ep#unix://}
q='\"'  # logrus quotes a quote in msg="..."
dial="transport: Error while dialing: dial unix $sock: connect: no such file or directory"
[ -S "$sock" ] || fatal "validate service connection: validate CRI v1 runtime API for endpoint $q$ep$q: \
rpc error: code = Unavailable desc = connection error: desc = $q$dial$q"
cmd=${1-}
[ $# -eq 0 ] || shift
all= json= tail=-1 ids=
while [ $# -gt 0 ]; do
    case $1 in
    -a | --all) all=1 ;;
    -o | --output) [ "${2-}" = json ] && json=1; shift ;;
    -o=json | --output=json) json=1 ;;
    --tail) tail=$2; shift ;;
    --tail=*) tail=${1#*=} ;;
    -*) ;;
    *) case $1 in *[!0-9a-f]*) fatal "not a container ID: $1" ;; esac; ids="$ids $1" ;;
    esac
    shift
done
notfound() {
    fatal "getting the status of the container $q$1$q: rpc error: code = NotFound \
desc = an error occurred when try to find container $q$1$q: not found"
}
running_only() { # crictl ps without -a: the running containers only
    printf '{\n  "containers": ['
    sep= item= keep=
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
        '    {') item=$line keep= ;;
        '    }' | '    },')
            if [ -n "$keep" ]; then printf '%s\n%s\n    }' "$sep" "$item"; sep=,; fi
            item= ;;
        *)
            [ -z "$item" ] || item=$item$NL$line
            case $line in '      "state":'*'"CONTAINER_RUNNING"'*) keep=1 ;; esac ;;
        esac
    done <"$D/ps.json"
    printf '\n  ]\n}\n'
}
case $cmd in
pods)
    [ -n "$json" ] || fatal "this fake crictl prints only -o json"
    if [ -f "$D/pods.json" ]; then cat "$D/pods.json"; else printf '{\n  "items": []\n}\n'; fi ;;
ps)
    [ -n "$json" ] || fatal "this fake crictl prints only -o json"
    if ! [ -f "$D/ps.json" ]; then printf '{\n  "containers": []\n}\n'
    elif [ -n "$all" ]; then cat "$D/ps.json"
    else running_only; fi ;;
inspect)
    set -- $ids
    [ $# -gt 0 ] || fatal "ID cannot be empty"
    for id; do [ -f "$D/inspect/$id.json" ] || notfound "$id"; done
    if [ $# -eq 1 ]; then cat "$D/inspect/$1.json"; exit 0; fi
    sep='['
    for id; do printf '%s\n' "$sep"; cat "$D/inspect/$id.json"; sep=,; done
    printf ']\n' ;;
logs)
    set -- $ids
    [ $# -eq 1 ] || fatal "ID cannot be empty"
    [ -f "$D/logs/$1.log" ] || [ -f "$D/logs/$1.out" ] || notfound "$1"
    for stream in out log; do
        [ -f "$D/logs/$1.$stream" ] || continue
        if [ "$tail" = -1 ]; then lines=$(cat "$D/logs/$1.$stream")
        else lines=$(tail -n "$tail" "$D/logs/$1.$stream"); fi
        if [ "$stream" = out ]; then printf '%s\n' "$lines"; else printf '%s\n' "$lines" >&2; fi
    done ;;
*) fatal "this fake crictl knows pods, ps, inspect and logs, not ${cmd:-nothing}" ;;
esac
"""


def fake_crictl(cri_dir: str = CRI_DIR) -> str:
    """The fake crictl's script, answering from cri_dir (a path without quotes or blanks)."""
    if not cri_dir.startswith("/") or any(c in cri_dir for c in "'\"\\$` \t\n"):
        raise LabError(f"the fake crictl cannot use {cri_dir!r}")
    return FAKE_CRICTL.replace("__CRI_DIR__", cri_dir)


# ---------------------------------------------------------------- laying files


def node_rel(path: str) -> str:
    """A node path as a path relative to the host root, /lib/x -> usr/lib/x (merged /usr)."""
    rel = path.strip("/")
    top = rel.split("/", 1)[0]
    return f"usr/{rel}" if top in MERGED_USR else rel


def lay_node(spec: NodeSpec, upper: Path, kubelet_binary: Path, address: str, client_key: str) -> list[str]:
    """Write the node's files under upper/<top>/ and return the tops to overlay."""
    meta = _load_meta(spec.source)
    _copy_tree(spec.source, upper)
    for path, content in spec.extra_files.items():
        _write(upper / node_rel(path), content, 0o644)
    for proc in spec.processes:
        binary = proc.argv[0] if proc.argv[0].startswith("/") else f"/usr/bin/{proc.argv[0]}"
        target = upper / node_rel(binary)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kubelet_binary, target)
        os.chmod(target, 0o755)  # noqa: S103 - an executable
        if not os.path.isdir(proc.cwd):
            (upper / node_rel(proc.cwd)).mkdir(parents=True, exist_ok=True)
    _write(upper / node_rel(FAKE_CRICTL_PATH), fake_crictl().encode(), 0o755)
    (upper / node_rel(CRI_DIR)).mkdir(parents=True, exist_ok=True)
    (upper / "etc").mkdir(exist_ok=True)
    fixed = _write_system_files(spec, upper, address, client_key) | {node_rel(FAKE_CRICTL_PATH)}
    _apply_attributes(upper, meta, fixed)
    tops = sorted(p.name for p in upper.iterdir())
    bad = sorted(set(tops) & FORBIDDEN_TOPS)
    if bad:
        raise LabError(f"node {spec.name}: cannot overlay /{bad[0]} ({spec.source})")
    return tops


def _load_meta(snapshot: Path) -> dict[str, dict[str, object]]:
    """podaudit.meta.json as {host-relative path: attributes}, "" holding the default."""
    path = snapshot / "podaudit.meta.json"
    if not path.is_file():
        return {"": {"uid": 0, "gid": 0}}
    doc = json.loads(path.read_text())
    table: dict[str, dict[str, object]] = {"": dict(doc.get("default", {}))}
    for node_path, attrs in doc.get("paths", {}).items():
        table[node_rel(node_path)] = dict(attrs)
    return table


def _copy_tree(source: Path, upper: Path) -> None:
    for top in sorted(source.iterdir()):
        if top.name in SNAPSHOT_ONLY or top.is_symlink() or not top.is_dir():
            continue
        for src in _walk(top):
            rel = node_rel(str(src.relative_to(source)))
            dest = upper / rel
            if src.is_symlink():
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.readlink(src), dest)
            elif src.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            elif src.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                os.chmod(dest, stat.S_IMODE(src.stat().st_mode))


def _walk(top: Path) -> Iterator[Path]:
    yield top
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            yield Path(dirpath) / name


def _write(path: Path, content: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, mode)


def _write_system_files(spec: NodeSpec, upper: Path, address: str, client_key: str) -> set[str]:
    """Lab users, sudoers, hosts and hostname in the node's /etc; returns the paths written."""
    names = {name for name, _, _ in LAB_USERS}
    lines = {
        "passwd": [f"{n}:x:{uid}:{uid}:podaudit lab {n}:/tmp:/bin/sh" for n, uid, _ in LAB_USERS],
        # "*" (no password) rather than "!": with UsePAM no, sshd refuses "!"-locked accounts.
        "shadow": [f"{n}:*:20000:0:99999:7:::" for n, _, _ in LAB_USERS],
        "group": [f"{n}:x:{uid}:" for n, uid, _ in LAB_USERS],
    }
    for file, added in lines.items():
        kept = [ln for ln in _base_lines(upper, f"etc/{file}") if ln.split(":", 1)[0] not in names]
        _write_like_host(upper, f"etc/{file}", "\n".join(kept + added) + "\n")
    sudoers = "".join(f"{line}\n" for _, _, line in LAB_USERS if line)
    _write(upper / "etc/sudoers.d/podaudit-lab", sudoers.encode(), 0o440)
    hosts = _base_lines(upper, "etc/hosts")
    if not any(spec.hostname in ln.split()[1:] for ln in hosts if not ln.startswith("#")):
        hosts.append(f"{address}\t{spec.hostname}")
    _write_like_host(upper, "etc/hosts", "\n".join(hosts) + "\n")
    if not (upper / "etc/hostname").exists():
        _write_like_host(upper, "etc/hostname", spec.hostname + "\n")
    _write(upper / LAB_KEYS_FILE.lstrip("/"), client_key.encode(), 0o644)
    return {f"etc/{f}" for f in ("passwd", "shadow", "group", "hosts", "hostname", "sudoers.d/podaudit-lab")} | {
        LAB_KEYS_FILE.lstrip("/")
    }


def _base_lines(upper: Path, rel: str) -> list[str]:
    """The node's own copy of a file if its snapshot has one, else this host's."""
    for path in (upper / rel, Path("/") / rel):
        if path.is_file():
            return path.read_text(errors="surrogateescape").splitlines()
    return []


def _write_like_host(upper: Path, rel: str, text: str) -> None:
    """Write with the owner and mode the host's own file has (root:shadow 0640 for shadow)."""
    host = Path("/") / rel
    st = host.stat() if host.exists() else None
    _write(upper / rel, text.encode(errors="surrogateescape"), stat.S_IMODE(st.st_mode) if st else 0o644)
    if st:
        os.chown(upper / rel, st.st_uid, st.st_gid)


def _apply_attributes(upper: Path, meta: dict[str, dict[str, object]], fixed: set[str]) -> None:
    """Owners, modes and mtimes from podaudit.meta.json; host attributes on merged dirs.

    A directory that also exists on the host shows the upper directory's attributes in the
    merged view, so it copies the host's (unless the meta file names it)."""
    default = meta[""]
    for dirpath, dirnames, filenames in os.walk(upper, topdown=False):
        for name in filenames + dirnames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(upper))
            if rel in fixed:
                continue
            host = Path("/") / rel
            if rel not in meta and path.is_dir() and not path.is_symlink() and host.is_dir():
                st = host.stat()
                os.chown(path, st.st_uid, st.st_gid)
                os.chmod(path, stat.S_IMODE(st.st_mode))
                os.utime(path, (st.st_atime, st.st_mtime))
                continue
            attrs = {**default, **meta.get(rel, {})}
            os.chown(path, _int(attrs.get("uid")), _int(attrs.get("gid")), follow_symlinks=False)
            if "mode" in attrs and not path.is_symlink():
                os.chmod(path, int(str(attrs["mode"]), 8))
            if "mtime" in attrs:
                mtime = float(str(attrs["mtime"]))
                os.utime(path, (mtime, mtime), follow_symlinks=False)
    for top in upper.iterdir():
        st = (Path("/") / top.name).stat()
        os.chown(top, st.st_uid, st.st_gid)
        os.chmod(top, stat.S_IMODE(st.st_mode))


def _int(value: object) -> int:
    return int(str(value)) if value is not None else 0


# ---------------------------------------------------------------- lab nodes


@dataclass
class Node:
    """A lab node being built: its spec, address and files."""

    spec: NodeSpec
    address: str
    home: Path  # DIR/nodes/<name>
    host_key: str = ""
    known_key: str | None = None  # what known_hosts says (None: no entry)
    tops: tuple[str, ...] = ()

    @property
    def started(self) -> bool:
        """Whether an sshd (or the tarpit) answers at the address."""
        return self.spec.fault != "down"


# ---------------------------------------------------------------- node files, keys, configs


def run(argv: list[str]) -> str:
    """Run a tool; a failure becomes a LabError with its stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"{shlex.join(argv)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write atomically (rename), so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def addresses(first: str, count: int) -> list[str]:
    """count consecutive loopback addresses from first."""
    start = ipaddress.IPv4Address(first)
    if not start.is_loopback or not (start + count - 1).is_loopback:
        raise LabError(f"{first} + {count} addresses leave 127.0.0.0/8")
    return [str(start + i) for i in range(count)]


def plan_nodes(specs: list[NodeSpec], lab: Path, first: str) -> list[Node]:
    """Give every node its address: tarpit at .250 of the first address's /24, the rest in order."""
    plain = iter(addresses(first, sum(1 for s in specs if s.fault != "tarpit")))
    tarpit = str(ipaddress.IPv4Address(first.rsplit(".", 1)[0] + f".{TARPIT_LAST_OCTET}"))
    return [Node(s, tarpit if s.fault == "tarpit" else next(plain), lab / "nodes" / s.name) for s in specs]


def new_key(path: Path, comment: str) -> str:
    """An ed25519 key pair without passphrase; returns the public line 'ssh-ed25519 AAAA...'."""
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


def build_node(node: Node, lab: Path, client_key: str, keep: tuple[str, ...] = ()) -> None:
    """Files, host key, sshd_config and init script of one node; keep: host directories
    under /tmp the node still sees in its private /tmp (the lab's own is always kept)."""
    upper, work = node.home / "upper", node.home / "work"
    upper.mkdir(parents=True)
    node.tops = tuple(lay_node(node.spec, upper, lab / "bin" / "kubelet", node.address, client_key))
    for top in node.tops:
        if lab == Path("/", top) or Path("/", top) in lab.parents:
            raise LabError(f"--dir {lab} is inside /{top}, which node {node.spec.name} overlays")
        (work / top).mkdir(parents=True)
    node.host_key = new_key(node.home / "ssh_host_ed25519_key", f"{node.spec.name}-host")
    node.known_key = node.host_key
    if node.spec.fault == "rekeyed":
        node.known_key = new_key(node.home / "other_host_key", f"{node.spec.name}-not-its-key")
    elif node.spec.fault == "unknown":
        node.known_key = None
    config = [
        f"ListenAddress {node.address}:{SSH_PORT}",
        f"HostKey {node.home / 'ssh_host_ed25519_key'}",
        f"AuthorizedKeysFile {lab / 'authorized_keys'} {LAB_KEYS_FILE}",
        *SSHD_OPTIONS,
    ]
    write_text(node.home / "sshd_config", "\n".join(config) + "\n")
    write_text(node.home / "init.sh", init_script(node, (str(lab), str(REPO), *keep)), 0o755)


def init_script(node: Node, keep: tuple[str, ...] = ()) -> str:
    """The node's PID 1: mount its overlays, a private /tmp (a tmpfs, so nothing a node
    writes there reaches this machine's /tmp; keep: directories of the real /tmp it still
    needs, such as the lab's own) and a private /run, set its hostname, start its processes
    and sshd."""
    q = shlex.quote
    lines = ["#!/bin/sh", f"# podaudit lab node {node.spec.name}: PID 1 of its namespaces", "set -eu"]
    for top in node.tops:
        opts = f"lowerdir=/{top},upperdir={node.home}/upper/{top},workdir={node.home}/work/{top}"
        lines.append(f"mount -t overlay overlay -o {q(opts)} {q('/' + top)}")
    lines.append(shlex.join(["/bin/sh", str(PRIVATE_TMP), "tmpfs", *keep]))
    # A /run of its own too (so /var/run): what a test puts there (a runtime's socket for the
    # fake crictl) stays in the node, and sshd's and sudo's state never reach this machine's.
    lines.append(shlex.join(["/bin/sh", str(PRIVATE_TMP), "--top", "/run", "tmpfs"]))
    lines += [f"hostname {q(node.spec.hostname)}", "mkdir -p /run/sshd && chmod 0755 /run/sshd"]
    procs = node.spec.processes
    for proc in procs:
        if proc.ppid not in {p.pid for p in procs}:
            lines.append(start_process(proc, procs))
    sshd = f"/usr/sbin/sshd -D -e -f {q(str(node.home / 'sshd_config'))}"
    # The node lives as long as its sshd; dash's wait also reaps the orphans it adopts as PID 1.
    lines += [f"{sshd} </dev/null &", 'wait "$!"']
    return "\n".join(lines) + "\n"


def start_process(proc: SnapshotProcess, procs: tuple[SnapshotProcess, ...]) -> str:
    """A subshell that forks the process's snapshot children, then execs the process itself,
    so a child (rke2's kubelet) gets the right parent."""
    kids = [start_process(p, procs) for p in procs if p.ppid == proc.pid]
    argv = shlex.join(proc.argv)
    return f"( {' '.join(kids)} cd {shlex.quote(proc.cwd)} && exec {argv} ) </dev/null >/dev/null 2>&1 &"


def write_client_files(lab: Path, nodes: list[Node]) -> None:
    """known_hosts, ssh_config and inventory for the nodes."""
    known = []
    for node in nodes:
        if node.known_key:
            known += [f"{node.address} {node.known_key}", f"{node.spec.name} {node.known_key}"]
    write_text(lab / "known_hosts", "".join(f"{line}\n" for line in known))
    blocks = []
    for node in nodes:
        blocks.append(
            f"Host {node.spec.name}\n  HostName {node.address}\n  Port {SSH_PORT}\n  User root\n"
            f"  IdentityFile {lab / 'id_ed25519'}\n  UserKnownHostsFile {lab / 'known_hosts'}\n"
            "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n"
            "  BatchMode yes\n  UpdateHostKeys no\n"
        )
    write_text(lab / "ssh_config", "\n".join(blocks))
    write_text(lab / "inventory", "".join(f"{n.spec.name}\n" for n in nodes))
