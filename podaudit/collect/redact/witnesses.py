"""The witnesses a bundle keeps (podaudit.meta.json's ``witnesses``), redacted.

Containers' log lines go (they are whatever a program printed: addresses, tokens, names);
the running configuration (/configz) is a KubeletConfiguration and keeps, as a
config.yaml file does, only the values of the fields podaudit reads; names, states, exit
codes and restart counts stay: they are what the analysis reads.
"""

from __future__ import annotations

from dataclasses import replace

from podaudit.collect.redact.documents import CONFIG, walk
from podaudit.model import NodeWitnesses, WitnessedPod


def redact_witnesses(witnesses: NodeWitnesses) -> NodeWitnesses:
    """``witnesses`` without log lines, and with /configz as a redacted config file."""
    kubelet, runtime = witnesses.kubelet, witnesses.runtime
    configz = walk(kubelet.configz, CONFIG) if kubelet.configz is not None else None
    return NodeWitnesses(
        replace(kubelet, pods=_without_logs(kubelet.pods), configz=configz),
        replace(runtime, sandboxes=_without_logs(runtime.sandboxes)),
    )


def _without_logs(pods: tuple[WitnessedPod, ...] | None) -> tuple[WitnessedPod, ...] | None:
    if pods is None:
        return None
    return tuple(replace(pod, containers=tuple(replace(c, log_tail=()) for c in pod.containers)) for pod in pods)
