"""Read the user's OpenSSH client configuration and turn a node name into an ``SshTarget``.

paramiko's ``SSHConfig`` does the Host/Match matching (first value wins, ``*`` and ``!neg``
patterns, %-tokens in IdentityFile). Around it this module adds what paramiko leaves out and
users rely on: ``Include`` (kubeadm/cloud tooling drops per-cluster files in ``config.d``),
``FILE:LINE`` in parse errors, ProxyJump-vs-ProxyCommand precedence, the jump-host route,
ProxyCommand's %-tokens (plain values only), the known_hosts files and the mapping of
StrictHostKeyChecking onto "we never skip checking". ``proxy`` runs a ProxyCommand.
"""

from __future__ import annotations

import getpass
import glob
import os
import re
import shlex
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import paramiko

from podaudit.shell import quote
from podaudit.transport import SshError, SshOptions, SshTarget, Strictness
from podaudit.transport.files import read_ssh_file
from podaudit.userfiles import USER_FILE_LIMIT

USER_CONFIG = "~/.ssh/config"
SYSTEM_CONFIG = "/etc/ssh/ssh_config"
USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
# OpenSSH's defaults that paramiko can use (no security-key or XMSS support).
DEFAULT_IDENTITIES = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519")
MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
MAX_JUMP_NESTING = 8  # jump hosts whose own config says ProxyJump: stop loops

_KEYWORD = re.compile(r"\s*(\w+)(?:\s*=\s*|\s+)(.*)")
# What a %-token may stand for in a ProxyCommand: host names, IP literals, POSIX user names,
# ports, plain paths. OpenSSH pastes values in unquoted (sshconnect.c expand_proxy_command:
# percent_expand of "exec " + ProxyCommand, run by _PATH_BSHELL -c) and since 9.6 refuses shell
# characters in host and user names (readconf.c ssh_valid_hostname, ssh_valid_ruser); podaudit
# refuses anything else and a leading "-", so "nc %h %p" gets exactly what ssh would give it.
_TOKEN_VALUE = re.compile(r"[A-Za-z0-9._:%@+/]([A-Za-z0-9._:%@+/-]*)")


class SSHConfigLike(Protocol):
    """What resolve_target needs: paramiko.SSHConfig, or anything with the same lookup()."""

    def lookup(self, hostname: str) -> Mapping[str, Any]: ...


class _SSHConfig(paramiko.SSHConfig):  # type: ignore[misc]  # paramiko ships no type hints
    """paramiko's config, but ProxyCommand keeps its %-tokens: an inventory address or --user
    changes %h and %r after lookup, so they are expanded in resolve_target, not by paramiko."""

    TOKENS_BY_CONFIG_KEY: ClassVar[dict[str, list[str]]] = {
        **paramiko.SSHConfig.TOKENS_BY_CONFIG_KEY,
        "proxycommand": [],
    }

    def __init__(self) -> None:
        super().__init__()
        self._found: dict[str, Any] = {}
        self._lock = threading.Lock()  # a sweep's threads resolve at once: one lookup per name

    def lookup(self, hostname: str) -> Any:
        """paramiko's lookup, once per name for the run (the config is loaded once per run): a
        lookup walks every Host block twice, and a sweep resolves each jump host per node.
        Each caller gets its own copy, lists included."""
        found = self._found.get(hostname)
        if found is None:
            with self._lock:
                found = self._found.get(hostname)
                if found is None:
                    found = self._found[hostname] = super().lookup(hostname)
        return paramiko.SSHConfigDict({key: value[:] if isinstance(value, list) else value
                                       for key, value in found.items()})

    def _does_match(self, match_list: list[Any], *args: Any) -> Any:
        # paramiko asks getpass.getuser() (a passwd lookup when $LOGNAME and $USER are unset)
        # before looking at the list, for every Host block the name does not match; a Host
        # block has no Match criteria, and no criteria match nothing: same answer, no lookup.
        return [] if not match_list else super()._does_match(match_list, *args)


@dataclass(frozen=True)
class _Line:
    text: str
    origin: str  # "FILE:LINE", for error messages


def load_ssh_config(path: str | None) -> SSHConfigLike:
    """The config ssh would read: ``path`` alone (like ``ssh -F``), else ~/.ssh/config then
    /etc/ssh/ssh_config, each only if it exists. Raises SshError(kind="config")."""
    budget = _Budget()
    if path is not None:
        lines = _read_config(os.path.expanduser(path), user_file=True, depth=0, budget=budget, what="--ssh-config")
    else:
        lines = []
        user_path = os.path.expanduser(USER_CONFIG)
        if os.path.lexists(user_path):
            lines += _read_config(user_path, user_file=True, depth=0, budget=budget)
        if os.path.exists(SYSTEM_CONFIG):
            # Back to the global context: the user file may end inside a Host block.
            lines += [_Line("Host *", SYSTEM_CONFIG),
                      *_read_config(SYSTEM_CONFIG, user_file=False, depth=0, budget=budget)]
    return _parse(lines)


@dataclass
class _Budget:
    """Bytes left to read across a config and all its Includes: a file that includes itself
    twice at each of 16 levels would otherwise be read 65,536 times."""

    left: int = USER_FILE_LIMIT


def _parse(lines: list[_Line]) -> SSHConfigLike:
    config = _SSHConfig()
    try:
        config.parse(line.text for line in lines)
    except paramiko.SSHException as exc:
        raise _locate_parse_error(lines, exc) from exc
    return config


def _locate_parse_error(lines: list[_Line], exc: Exception) -> SshError:
    """paramiko reports no line number; each line parses on its own, so find the bad one."""
    for line in lines:
        try:
            _SSHConfig().parse([line.text])
        except paramiko.SSHException as line_exc:
            return SshError("config", f"{line.origin}: {line_exc}; fix the ssh config line")
    return SshError("config", f"ssh config: {exc}")


def _read_config(path: str, user_file: bool, depth: int, budget: _Budget, what: str = "ssh config") -> list[_Line]:
    """The lines of ``path`` with its Includes spliced in; ``what`` names it in errors (the
    option, or the FILE:LINE of the Include)."""
    data = read_ssh_file(path, what, budget.left, "" if what == "--ssh-config" else "; fix it or use --ssh-config")
    if data is None:
        raise SshError("config", f"{what} {path}: no such file")
    budget.left -= len(data)
    raw = data.decode("utf-8", "surrogateescape").split("\n")
    lines: list[_Line] = []
    header = "Host *"
    for number, text in enumerate(raw, 1):
        origin = f"{path}:{number}"
        match = _KEYWORD.match(text)
        keyword = match.group(1).lower() if match else ""
        if keyword != "include" or match is None:
            if keyword in {"host", "match"}:
                header = text
            lines.append(_Line(text, origin))
            continue
        if depth >= MAX_INCLUDE_DEPTH:
            raise SshError("config", f"{origin}: Include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)")
        for included in _include_paths(match.group(2), user_file, origin):
            lines += _read_config(included, user_file, depth + 1, budget, f"{origin}: Include")
        # An included file's Host lines end where the file ends, as in OpenSSH: reopen ours.
        lines.append(_Line(header, origin))
    return lines


def _include_paths(value: str, user_file: bool, origin: str) -> list[str]:
    """Include arguments: globs, relative to ~/.ssh (user config) or /etc/ssh (system)."""
    try:
        patterns = shlex.split(value)
    except ValueError as exc:
        raise SshError("config", f"{origin}: Include {value!r}: {exc}") from exc
    base = os.path.expanduser("~/.ssh") if user_file else os.path.dirname(SYSTEM_CONFIG)
    found: list[str] = []
    for pattern in patterns:
        full = os.path.join(base, os.path.expanduser(pattern))
        found += sorted(glob.glob(full))  # no match is not an error, as in OpenSSH
    return found


def resolve_target(
    alias: str, opts: SshOptions, config: SSHConfigLike | None = None, address: str | None = None,
    port: int | None = None,
) -> SshTarget:
    """Where and how to reach ``alias``. Host patterns match ``alias``; ``address`` and
    ``port`` (from an inventory) replace the place to connect to, beating ssh_config."""
    if config is None:
        config = load_ssh_config(opts.ssh_config)
    return _resolve(alias, opts, config, address, port=port)


def _resolve(alias: str, opts: SshOptions, config: SSHConfigLike, address: str | None, port: int | None) -> SshTarget:
    found = _lookup(config, alias)
    hostname = address or _text(found.get("hostname")) or alias
    port = port or _port(found, alias)
    user = opts.user or _text(found.get("user"))
    tokens = _Tokens(alias=alias, hostname=hostname, port=port, user=user, key_alias=_text(found.get("hostkeyalias")))
    jump, command = _proxy(found)
    user_files, global_files = _known_hosts_files(opts, found, tokens)
    return SshTarget(
        alias=alias,
        hostname=hostname,
        port=port,
        user=user,
        identity_files=_identity_files(opts, found),
        proxy_jump=_jump_hops(jump, alias),
        proxy_command=tokens.expand(command, "ProxyCommand", for_sh=True) if command else None,
        known_hosts_files=user_files,
        identities_only=_yes(found.get("identitiesonly")),
        strict=_strictness(opts, found),
        global_known_hosts_files=global_files,
        host_key_alias=tokens.key_alias,
        hash_known_hosts=_yes(found.get("hashknownhosts")),
    )


def resolve_hop(spec: str, opts: SshOptions, config: SSHConfigLike) -> SshTarget:
    """A ProxyJump hop, ``[ssh://][user@]host[:port]``, resolved through ssh_config like
    ``ssh -J`` does: the hop's own user/port beat its config; --user is for the nodes only."""
    user, host, port = split_hop(spec)
    return _resolve(host, replace(opts, user=user), config, address=None, port=port)


def split_hop(spec: str) -> tuple[str | None, str, int | None]:
    """``[ssh://][user@]host[:port]`` with ``[v6addr]:port`` → (user, host, port)."""
    rest = spec.removeprefix("ssh://")
    user, _, rest = rest.rpartition("@")
    port_text = ""
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail.removeprefix(":")
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host = rest
    if not host:
        raise SshError("config", f"ProxyJump {spec!r}: no host; use [user@]host[:port]")
    return user or None, host, _port_number(port_text, f"ProxyJump {spec!r}") if port_text else None


def plan_route(target: SshTarget, opts: SshOptions, config: SSHConfigLike | None = None) -> list[SshTarget]:
    """The hosts to connect to in order, each reached through the one before, ending with
    ``target``. As with ``ssh -J a,b``: the first hop keeps its own ProxyJump/ProxyCommand,
    later hops are reached through the earlier ones whatever their config says."""
    if not target.proxy_jump:
        return [target]
    if config is None:
        config = load_ssh_config(opts.ssh_config)
    return _route(target, opts, config, chain=[target.alias])


def _route(target: SshTarget, opts: SshOptions, config: SSHConfigLike, chain: list[str]) -> list[SshTarget]:
    if not target.proxy_jump:
        return [target]
    if len(chain) > MAX_JUMP_NESTING:
        raise SshError("config", f"{chain[0]}: ProxyJump chain {' -> '.join(chain)} does not end; check ProxyJump")
    hops = [resolve_hop(spec, opts, config) for spec in target.proxy_jump]
    first = _route(hops[0], opts, config, [*chain, hops[0].alias])
    later = [replace(hop, proxy_jump=(), proxy_command=None) for hop in hops[1:]]
    return [*first, *later, replace(target, proxy_jump=(), proxy_command=None)]


def _lookup(config: SSHConfigLike, alias: str) -> Mapping[str, Any]:
    try:
        return config.lookup(alias)
    except (paramiko.SSHException, ImportError) as exc:
        # ImportError: paramiko needs the optional "invoke" package for "Match exec".
        raise SshError("config", f"{alias}: ssh config lookup failed: {exc}") from exc


def _proxy(found: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ProxyJump, ProxyCommand), at most one set. OpenSSH uses whichever was obtained first;
    paramiko's lookup dict keeps keys in the order they were first obtained."""
    for key in found:
        if key in {"proxyjump", "proxycommand"}:
            value = _text(found[key])
            if value is None or value.lower() == "none":
                return None, None
            return (value, None) if key == "proxyjump" else (None, value)
    return None, None


def _jump_hops(value: str | None, alias: str) -> tuple[str, ...]:
    if value is None:
        return ()
    hops = tuple(hop.strip() for hop in value.split(","))
    if not all(hops):
        raise SshError("config", f"{alias}: ProxyJump {value!r} has an empty hop; use host1,host2")
    return hops


def _port(found: Mapping[str, Any], alias: str) -> int:
    value = _text(found.get("port"))
    return 22 if value is None else _port_number(value, f"{alias}: Port")


def _port_number(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SshError("config", f"{what} {text!r} is not a port number (1-65535)")
    return int(text)


def _identity_files(opts: SshOptions, found: Mapping[str, Any]) -> tuple[str, ...]:
    explicit: list[str] = []
    if opts.identity:
        path = os.path.expanduser(opts.identity)
        if not os.path.isfile(path):
            raise SshError("config", f"--identity {opts.identity}: no such file")
        explicit.append(path)
    explicit += [os.path.expanduser(str(path)) for path in found.get("identityfile") or ()]
    explicit = [path for path in explicit if path.lower() != "none"]
    if explicit:
        return tuple(dict.fromkeys(explicit))
    # Like ssh: the default keys only when nothing names a key; absent ones are not worth reporting.
    return tuple(path for path in map(os.path.expanduser, DEFAULT_IDENTITIES) if os.path.isfile(path))


def _known_hosts_files(
    opts: SshOptions, found: Mapping[str, Any], tokens: _Tokens
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(user files, global files). --known-hosts is then the only file, so a run is
    reproducible whatever the machine's global known_hosts say."""
    if opts.known_hosts:
        return (os.path.expanduser(opts.known_hosts),), ()
    user = _paths(found.get("userknownhostsfile"), USER_KNOWN_HOSTS, tokens, "UserKnownHostsFile")
    system = _paths(found.get("globalknownhostsfile"), GLOBAL_KNOWN_HOSTS, tokens, "GlobalKnownHostsFile")
    return user, system


def _paths(value: Any, default: Iterable[str], tokens: _Tokens, what: str) -> tuple[str, ...]:
    words = shlex.split(str(value)) if value is not None else list(default)
    if [word.lower() for word in words] == ["none"]:
        return ()
    return tuple(os.path.expanduser(tokens.expand(word, what)) for word in words)


def _strictness(opts: SshOptions, found: Mapping[str, Any]) -> Strictness:
    """accept-new if asked for (flag or config); everything else, including "no"/"off" and
    the interactive "ask", is "yes": a non-interactive audit tool never skips checking."""
    configured = (_text(found.get("stricthostkeychecking")) or "").lower()
    return "accept-new" if opts.accept_new_host_keys or configured == "accept-new" else "yes"


@dataclass(frozen=True)
class _Tokens:
    """ssh_config %-tokens, with the values this connection really uses."""

    alias: str
    hostname: str
    port: int
    user: str | None
    key_alias: str | None

    def expand(self, value: str, what: str, for_sh: bool = False) -> str:
        """``value`` with its %-tokens replaced. ``for_sh``: the result is a command line for
        ``sh`` (ProxyCommand), so every value must be plain and goes through ``quote``."""
        if "%" not in value:  # most values (the default known_hosts paths): no home or user lookup
            return value
        local = getpass.getuser()
        table = {
            "%": "%",
            "d": os.path.expanduser("~"),
            "h": self.hostname,
            "k": self.key_alias or self.hostname,
            "n": self.alias,
            "p": str(self.port),
            "r": self.user or local,
            "u": local,
        }

        def one(match: re.Match[str]) -> str:
            letter = match.group(1)
            if letter not in table:
                raise SshError("config", f"{self.alias}: {what} {value!r}: unsupported token %{letter}")
            if not for_sh or letter == "%":
                return table[letter]
            return self._for_sh(letter, table[letter], what)

        return re.sub(r"%(.?)", one, value)

    def _for_sh(self, letter: str, text: str, what: str) -> str:
        if not _TOKEN_VALUE.fullmatch(text):
            node = self.alias if _TOKEN_VALUE.fullmatch(self.alias) else repr(self.alias)
            raise SshError(
                "config",
                f"{node}: {what}: %{letter} would be {text!r}, which holds characters a shell reads "
                "(or starts with -); not run: fix the address, user or name",
            )
        return quote(text)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _yes(value: Any) -> bool:
    return str(value).lower() in {"yes", "true"}
