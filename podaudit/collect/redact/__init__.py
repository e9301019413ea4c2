"""--redact: what a bundle may carry out of a site, as an allow-list.

A bundle keeps what podaudit's analysis reads, so ``podaudit analyze`` of a redacted bundle
gives the findings of the live run, and nothing else:

- static pod manifests (documents.py): every key, and the values of the fields podaudit reads
  (kubelet/podfields.POD: identity, containers' names, images and ports, security settings,
  host namespaces, hostPath paths, names of referenced API objects); a command line keeps its
  flag names and paths. A file that is not a Pod keeps its apiVersion and kind only, one that
  does not decode becomes one that still does not.
- the kubelet's command line (words.py): flag names; values only of the flags podaudit reads
  (kubelet/flags.READ_FLAGS and the k3s options) and paths.
- text files (text.py): systemd units, env files and MicroK8s args files keep their structure
  and the keys podaudit reads; KubeletConfiguration files the fields podaudit reads
  (kubelet/config.READ_FIELDS); every other value goes.
- the witnesses (witnesses.py): containers' log lines go; the kubelet's /configz keeps what a
  KubeletConfiguration file keeps.

Each value that goes becomes ``REDACTED-<keyed hash>`` (values.py): equal within one podaudit
run, unguessable. File paths stay: they are what podaudit is about.
"""

from podaudit.collect.redact.documents import redact_manifest
from podaudit.collect.redact.text import redact_text
from podaudit.collect.redact.values import MARK
from podaudit.collect.redact.witnesses import redact_witnesses
from podaudit.collect.redact.words import redact_argv

__all__ = ["MARK", "redact_argv", "redact_manifest", "redact_text", "redact_witnesses"]
