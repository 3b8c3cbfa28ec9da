"""A guardian process that owns a command and everything it starts, and takes it all
down when the process that started it dies, however it dies (`kill -9` included).

`smartpay serve` runs its real work under one: `python -m serving.supervisor <pid> --
<command...>`. The guardian makes itself a child subreaper (prctl
PR_SET_CHILD_SUBREAPER), so processes that leave their parent or start sessions of
their own (BentoML's workers, the stand-ins) stay its descendants; it waits on a pidfd
of the starting process and, when that process is gone, when it is asked to stop
(SIGTERM/SIGINT/SIGHUP) or when the command ends, stops every descendant: SIGTERM,
then SIGKILL after a grace period. Linux only (prctl and pidfd).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 10.0


class _Stop(Exception):
    """A stop signal arrived."""


def _subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _on_signal(signum, frame) -> None:
    raise _Stop


def stop_descendants(grace_s: float = GRACE_S) -> None:
    """SIGTERM every descendant of this process, SIGKILL what is left after
    `grace_s`, and reap them (as subreaper, orphans are this process's children)."""
    import psutil

    me = psutil.Process()
    for _ in range(3):  # a dying process may start another; look again
        family = me.children(recursive=True)
        if not family:
            return
        for p in family:
            _quietly(p.terminate)
        _, alive = psutil.wait_procs(family, timeout=grace_s)
        for p in alive:
            _quietly(p.kill)
        psutil.wait_procs(alive, timeout=5)


def _quietly(action) -> None:
    import psutil

    try:
        action()
    except psutil.Error:
        pass


def _reap_orphans(child_pid: int) -> None:
    """Collect exited orphans (ours as subreaper), leaving the child's status alone."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in (0, child_pid):
            return
        os.waitpid(info.si_pid, 0)


def supervise(parent: int, cmd: list[str]) -> int:
    """Run `cmd` until it ends, `parent` dies or a stop signal comes; then stop all
    descendants. Returns the command's exit code (1 when the parent died or the
    command had to be killed)."""
    _subreaper()
    try:
        watch = os.pidfd_open(parent)
    except ProcessLookupError:
        return 1
    if os.getppid() != parent:  # the parent died before the pidfd was open
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    child, code = None, None
    try:
        child = subprocess.Popen(cmd)
        code = _wait(child, watch)
    except _Stop:  # asked to stop: the command's own exit code after it stopped
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the shutdown is not interrupted
        _stop_child(child)
        stop_descendants()
    if code is None:
        code = child.returncode if child is not None and child.returncode >= 0 else 1
    return code


def _wait(child: subprocess.Popen, watch: int) -> int:
    """The child's exit code, or 1 as soon as the parent (the pidfd) is gone."""
    while child.poll() is None:
        if select.select([watch], [], [], 0.5)[0]:
            return 1
        _reap_orphans(child.pid)
    return child.returncode


def _stop_child(child: subprocess.Popen | None) -> None:
    """Ask the command itself first, so it stops what it started in order."""
    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m serving.supervisor <parent pid> -- <command...>",
              file=sys.stderr)
        return 2
    return supervise(int(argv[0]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
