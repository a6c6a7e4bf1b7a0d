"""Helper processes that die with the process that started them, whatever signal it got.

A parent killed with SIGKILL runs no cleanup, so its children (trials, MLServer,
the team server's MLflow) cannot count on being told. They start through this
module instead: ``tethered(argv)`` puts a small supervisor in front of the command::

    parent ─ tether (own session = own process group) ─ command ─ its workers

* The tether learns that the parent died from the kernel on Linux
  (``prctl(PR_SET_PDEATHSIG)``), elsewhere by polling its parent pid once a second.
  It then sends SIGTERM to its whole process group (the command and anything the
  command started), and SIGKILL after a grace period.
* The command gets SIGKILL from the kernel if the tether itself is killed
  (Linux: the tether is single-threaded, so arming the signal between fork and exec
  is safe there; elsewhere this case is not covered).
* A signal sent to the tether (SIGTERM, SIGINT, SIGHUP) is passed to the command,
  and the tether exits as the command did, so callers keep using ``proc.terminate()``,
  ``proc.wait()`` and the return code as before.

The parent-death signal is tied to the *thread* that started the tether; when only
that thread ends, the tether is handed to another thread of the same process and
its parent pid does not change, which is why the handler checks the pid before
acting.

Run as ``python -m onepipe.lifecycle.tether PARENT_PID GRACE_S -- COMMAND...``;
this module imports nothing beyond the standard library.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_DIED = signal.SIGUSR1  # what the kernel sends the tether; nobody else sends it
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
DEFAULT_GRACE_S = 10.0
_POLL_S = 1.0


def tethered(argv: list[str], *, grace_s: float = DEFAULT_GRACE_S) -> list[str]:
    """``argv`` wrapped so the command dies with this process. Start it with
    ``start_new_session=True`` so the tether leads a process group of its own."""
    return [
        sys.executable,
        "-m",
        "onepipe.lifecycle.tether",
        str(os.getpid()),
        str(grace_s),
        "--",
        *argv,
    ]


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal a tethered process's whole group (it leads one); falls back to the process."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _libc_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _arm(prctl, sig: int) -> bool:
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


class _Supervisor:
    def __init__(self, parent: int, grace_s: float, command: list[str]) -> None:
        self.parent = parent
        self.grace_s = grace_s
        self.command = command
        self.child: subprocess.Popen | None = None
        self.stopping = False  # the parent is gone
        self.early: int | None = None  # a signal that came before the command started

    def parent_gone(self) -> bool:
        return os.getppid() != self.parent

    # Handlers only send signals and set fields; ``run`` just waits for the command.
    def stop_group(self) -> None:
        """The parent is gone: SIGTERM to the command and all of our process group now,
        SIGKILL (the tether included) when the grace period is over."""
        if self.stopping:
            return
        self.stopping = True
        for sig in FORWARDED:  # the group signal reaches the tether too
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGALRM, self.on_grace_over)
        signal.setitimer(signal.ITIMER_REAL, max(self.grace_s, 0.01))
        try:
            os.killpg(os.getpgrp(), signal.SIGTERM)
        except OSError:
            pass

    def on_grace_over(self, signum, frame) -> None:
        os.killpg(os.getpgrp(), signal.SIGKILL)

    def on_parent_signal(self, signum, frame) -> None:
        if self.parent_gone():
            self.stop_group()
        # else only the parent's thread that started us ended; the parent lives on

    def on_forwarded(self, signum, frame) -> None:
        if self.child is not None:
            self.child.send_signal(signum)
        else:
            self.early = signum

    def run(self) -> int:
        signal.signal(PARENT_DIED, self.on_parent_signal)
        for sig in FORWARDED:
            signal.signal(sig, self.on_forwarded)
        prctl = _libc_prctl() if sys.platform.startswith("linux") else None
        armed = _arm(prctl, PARENT_DIED)
        if self.parent_gone():  # it died before the signal was armed
            return 128 + signal.SIGTERM
        # Single-threaded here, so a preexec_fn is safe: the command gets SIGKILL from the
        # kernel should the tether itself be killed.
        preexec = (lambda: _arm(prctl, signal.SIGKILL)) if armed else None
        try:
            self.child = subprocess.Popen(self.command, preexec_fn=preexec)
        except OSError as exc:
            print(f"error: cannot start {self.command[0]}: {exc.strerror}", file=sys.stderr)
            return 127
        if self.early is not None:
            self.child.send_signal(self.early)
        while True:
            try:  # blocks in waitpid where the kernel tells us of the parent's death
                rc = self.child.wait(None if armed else _POLL_S)
                break
            except subprocess.TimeoutExpired:
                if self.parent_gone():  # elsewhere: look once a second
                    self.stop_group()
        if self.stopping:  # the command ended; end whatever it left in the group
            try:
                os.killpg(os.getpgrp(), signal.SIGKILL)
            except OSError:
                pass
        if rc < 0:  # end as the command did, so the caller sees the same signal
            signal.signal(-rc, signal.SIG_DFL)
            os.kill(os.getpid(), -rc)
        return rc if rc >= 0 else 128 - rc


def main(argv: list[str]) -> int:
    try:
        parent, grace, sep, *command = argv
        if sep != "--" or not command:
            raise ValueError
        return _Supervisor(int(parent), float(grace), command).run()
    except ValueError:
        print("usage: python -m onepipe.lifecycle.tether PARENT_PID GRACE_S -- COMMAND...")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
