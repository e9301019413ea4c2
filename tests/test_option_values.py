"""Options that take seconds refuse what is not a finite number in range: one line, exit 2,
before anything is read or changed (``nan`` compares false with every bound, and ``inf`` or
``1e300`` overflow the clocks and sockets they reach: every node would fail, misleadingly)."""

from __future__ import annotations

import pytest

from tests.cli_helpers import run

# (command, option): every option that takes seconds, on a command that takes it.
SECONDS = [
    (["node"], "--timeout"),
    (["sweep"], "--deadline"),
    (["sweep"], "--api-timeout"),
    (["delete", "static-greenbox-node01"], "--wait"),
    (["restore", "20250101T000000Z-x-abcdef"], "--wait"),
    (["create", "x", "--image", "busybox"], "--wait"),
]


@pytest.mark.parametrize(("command", "option"), SECONDS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity", "1e400", "1e300", "abc", "-1"])
def test_seconds_that_are_not_finite_or_in_range_are_refused(command: list[str], option: str, value: str) -> None:
    proc = run("--demo", *command, option, value)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"podaudit: error: {option} {value}: ") and "seconds" in line, line


@pytest.mark.parametrize(("option", "low", "fine"), [("--timeout", "0.4", "0.5"), ("--deadline", "0.9", "1"),
                                                     ("--api-timeout", "0.5", "1")])
def test_the_lower_bounds_stay(option: str, low: str, fine: str) -> None:
    assert run("--demo", "node", "node01", option, low).returncode == 2
    assert run("--demo", "node", "node01", option, fine).returncode == 0


def test_wait_zero_still_means_do_not_wait() -> None:
    proc = run("--demo", "delete", "static-greenbox-node01", "--wait", "0")
    assert proc.returncode == 0, proc.stderr  # a plan (a snapshot: nothing changes)
