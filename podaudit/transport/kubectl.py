"""Running the user's own kubectl: for the API view (api/kubectl.py) and for kubectl debug
pods (transport/debug.py).

kubectl is run rather than talking to the API server directly so that whatever the
kubeconfig says (exec credential plugins, auth providers, proxies, client certificates)
keeps working. It runs without a shell, with stdin closed, in its own process group (so a
credential plugin it started dies with it on a timeout), under a hard deadline.

A run never raises for kubectl's sake: a missing binary, an unreachable cluster, RBAC, a
timeout or junk on stdout becomes one line in ``problems`` saying what to do (and
``KubectlFatal`` when no further run can succeed either).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from podaudit.transport.limits import run_capped

# kubectl's stdout read at most: a pod list of a very large cluster (hundreds of MB) fits.
MAX_KUBECTL_STDOUT = 1 << 30
_USER = re.compile(r'User "([^"]*)"')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KLOG = re.compile(r"^[EWIF]\d{4} \d\d:\d\d:\d\d")  # client-go's log lines ("E1126 20:33:38.98 ...")
_UNREACHABLE = ("connection refused", "was refused", "no such host", "unable to connect", "network is unreachable",
                "no route to host", "connection reset", "dial tcp", "server misbehaving")
_TIMEOUT = ("context deadline exceeded", "timeout exceeded", "i/o timeout", "timed out", "tls handshake timeout")
_UNAUTHORIZED = ("unauthorized", "you must be logged in", "getting credentials", "exec plugin")
_CONFIG = ("error in configuration", "invalid configuration", "context was not found", "no configuration has been",
           "current-context", "error loading config", "couldn't get version/kind", "stat ")


@dataclass(frozen=True)
class KubectlOptions:
    kubeconfig: str | None = None
    context: str | None = None
    kubectl: str = "kubectl"
    timeout: float = 20.0  # seconds, for each kubectl run (and its --request-timeout)


class KubectlFatal(Exception):
    """kubectl cannot work at all here (no binary, no cluster, bad kubeconfig): stop asking."""


def kubectl_argv(opts: KubectlOptions, args: list[str]) -> list[str]:
    """kubectl, the user's --kubeconfig/--context and a request timeout, then ``args``.

    The global flags come first: ``args`` may end with ``-- COMMAND...`` (kubectl debug),
    where anything after them would become part of the command.
    """
    # "--flag=value" as one word: a value starting with "-" cannot turn into another flag.
    argv = [opts.kubectl]
    if opts.kubeconfig is not None:
        argv.append(f"--kubeconfig={opts.kubeconfig}")
    if opts.context is not None:
        argv.append(f"--context={opts.context}")
    # kubectl reads --request-timeout=0 as "no limit": never pass that.
    return [*argv, f"--request-timeout={time_limit(opts):.3f}s", *args]


def time_limit(opts: KubectlOptions) -> float:
    """The timeout in seconds, kept between 1 ms and a day (NaN: the default 20 s)."""
    timeout = opts.timeout
    if not isinstance(timeout, (int, float)) or math.isnan(timeout):
        return 20.0
    return min(max(float(timeout), 0.001), 86400.0)


def run_kubectl(opts: KubectlOptions, args: list[str], what: str, problems: list[str], rbac: str,
                limit: int = MAX_KUBECTL_STDOUT) -> bytes | None:
    """kubectl's stdout on success; None and a problem line otherwise (also past ``limit``
    bytes: a node's kubelet answering through the proxy is hostile input); KubectlFatal when
    no further kubectl run can succeed either."""
    try:  # no shell; argv from the user's own options
        captured = run_capped(kubectl_argv(opts, args), time_limit(opts), limit)
    except FileNotFoundError:
        problems.append(f"kubectl not found ({opts.kubectl}): install it or pass --snapshot")
        raise KubectlFatal from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        problems.append(f"kubectl ({opts.kubectl}) could not be started ({reason}): fix it or pass --snapshot")
        raise KubectlFatal from None
    if captured.timed_out:
        problems.append(f"{what}: no answer within {time_limit(opts):g}s: check that the cluster is reachable "
                        "(--kubeconfig/--context), raise the timeout, or pass --snapshot")
        raise KubectlFatal from None
    if captured.full is not None:
        problems.append(f"{what}: more than {limit >> 20} MiB on {captured.full}; stopped reading")
        return None
    if captured.status == 0:
        return captured.out
    _explain(what, captured.status or 1, captured.err.decode("utf-8", "replace"), opts, problems, rbac)
    return None


def last_detail(stderr: str, code: int) -> str:
    """The line of kubectl's stderr that says what went wrong (not client-go's log lines)."""
    lines = [one_line(line) for line in stderr.splitlines() if line.strip()]
    plain = [line for line in lines if not _KLOG.match(line)]
    return (plain or lines or [f"exit status {code}"])[-1]


def _explain(what: str, code: int, stderr: str, opts: KubectlOptions, problems: list[str], rbac: str) -> None:
    detail = last_detail(stderr, code)
    low = stderr.lower()
    if "forbidden" in low:
        user = _USER.search(stderr)
        who = f" for user {one_line(user[1])}" if user else ""
        problems.append(f"{what}: forbidden{who} (RBAC): {rbac}")
        return
    target = f" (--context={opts.context})" if opts.context else ""
    if "error from server" in low:
        # The API server answered; what failed is behind it (a node's kubelet for configz, a
        # busy etcd): this call only, not the cluster.
        problems.append(f"{what} failed ({detail})")
        return
    if any(s in low for s in _TIMEOUT):
        problems.append(f"{what}: the cluster did not answer in time{target} ({detail}): check that it is "
                        "reachable, raise the timeout, or pass --snapshot")
    elif any(s in low for s in _UNREACHABLE):
        problems.append(f"{what}: cannot reach the cluster{target} ({detail}): check --kubeconfig/--context "
                        "and that the API server is up, or pass --snapshot")
    elif any(s in low for s in _UNAUTHORIZED):
        problems.append(f"{what}: the cluster rejected the credentials{target} ({detail}): log in again "
                        "(kubectl get nodes should work), or pass --snapshot")
    elif any(s in low for s in _CONFIG):
        problems.append(f"{what}: kubeconfig problem ({detail}): fix --kubeconfig/--context, or pass --snapshot")
    else:
        problems.append(f"{what} failed ({detail})")
        return
    raise KubectlFatal


def one_line(text: str) -> str:
    """One printable line of at most 300 characters (stderr may carry a hostile server's text)."""
    text = _CONTROL.sub("?", text.strip())
    return text if len(text) <= 300 else text[:297] + "..."
