"""``podaudit watch --exec CMD``: a program run per event, with the event's JSON on stdin.

CMD is split as a shell would split words (shlex) and run without a shell: an event's text
(node names, file names) reaches the program as data on stdin, never as a command line. The
loop never waits for it: events go to a bounded queue and one worker runs the program, each
run with a timeout; a full queue drops the event and the drops are counted and said.
Suppressed events are not sent. The program's output goes to stderr, each line prefixed and
escaped; a failure is one line.
"""

from __future__ import annotations

import contextlib
import queue
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from podaudit.errors import InputError
from podaudit.report.escape import printable
from podaudit.report.events import event_line

if TYPE_CHECKING:
    from podaudit.audit.registry import Finding
    from podaudit.kubelet.resolve import NodeView
    from podaudit.watch.events import WatchEvent

QUEUE = 1000  # events waiting for the program; more are dropped (and counted)
TIMEOUT = 30.0  # seconds one run may take
MAX_OUTPUT = 64 * 1024  # bytes of the program's output shown per run


def parse_exec(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InputError(f"--exec {command!r}: {exc}") from exc
    if not argv:
        raise InputError("--exec is empty; give a program (and its arguments) to run per event")
    return argv


class ExecHook:
    """A Sink that runs ``argv`` per (unsuppressed) event, in one worker thread."""

    def __init__(self, argv: Sequence[str], say: Callable[[str], None], timeout: float = TIMEOUT,
                 size: int = QUEUE) -> None:
        self.argv = list(argv)
        self.say = say
        self.timeout = timeout
        self.queue: queue.Queue[WatchEvent | None] = queue.Queue(size)
        self.dropped = 0
        self.worker = threading.Thread(target=self._work, name="--exec", daemon=True)
        self.worker.start()

    def emit(self, event: WatchEvent) -> None:
        if event.suppressed:
            return
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                self.say(f"podaudit: --exec {self.argv[0]} is slower than the events; dropping events "
                         "until it catches up (the count is said at the end)")

    def state(self, node: str, view: NodeView | None, findings: Sequence[Finding],
              suppressed: Sequence[Finding] = ()) -> None:
        pass

    def _work(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            self._run(event)

    def _run(self, event: WatchEvent) -> None:
        name = self.argv[0]
        try:
            done = subprocess.run(self.argv, input=event_line(event).encode(), capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            self.say(f"podaudit: --exec {name}: still running after {self.timeout:g} s; stopped "
                     f"(event {event.event} on {event.node})")
            return
        except OSError as exc:
            self.say(f"podaudit: --exec {name}: {exc.strerror or exc}; check the program's path")
            return
        for line in (done.stdout + done.stderr)[:MAX_OUTPUT].decode("utf-8", "replace").splitlines():
            self.say(f"--exec {name}: {printable(line)}")
        if done.returncode != 0:
            self.say(f"podaudit: --exec {name} exited {done.returncode} (event {event.event} on {event.node})")

    def close(self) -> None:
        """Let the queued events run (up to one timeout), then say what was dropped."""
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=self.timeout)
        self.worker.join(self.timeout + 2.0)  # the run in progress ends at its timeout
        if self.dropped:
            self.say(f"podaudit: --exec {self.argv[0]}: {self.dropped} event{'s' if self.dropped > 1 else ''} "
                     "dropped (the program was slower than the events)")
