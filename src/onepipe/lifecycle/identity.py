"""Who a process is: its pid plus when it started, so a reused pid is not mistaken for it.

A pid alone is not an identity: after a crash the kernel hands the same number to
an unrelated process, and a file that trusted the pid would then point at a
stranger. The start time (Linux: ``/proc/<pid>/stat`` field 22, in clock ticks
since boot; elsewhere psutil when installed) tells the two apart. Identities are
only compared on the host and boot that recorded them; anything else is "unknown",
never "dead".
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The process's start time as an opaque string, or None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        stat = ""
    if stat:
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        return stat[stat.rindex(")") + 2 :].split()[19]
    try:
        import psutil  # lazy: optional, and only asked where there is no /proc
    except ImportError:
        return "" if _pid_exists(pid) else None  # no way to tell a reused pid here
    try:
        return repr(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:
        return ""


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    started: str  # opaque; "" when the platform cannot say
    host: str
    boot: str

    @classmethod
    def current(cls) -> ProcessIdentity:
        return cls.of(os.getpid())

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        return cls(pid, _start_time(pid) or "", socket.gethostname(), _boot_id())

    @classmethod
    def from_json(cls, data: Any) -> ProcessIdentity | None:
        try:
            return cls(int(data["pid"]), str(data["started"]), str(data["host"]), str(data["boot"]))
        except (KeyError, TypeError, ValueError):
            return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def is_local(self) -> bool:
        """Recorded on this machine since its last boot: only then can we judge it."""
        return self.host == socket.gethostname() and self.boot == _boot_id()

    def is_gone(self) -> bool:
        """True only when we are sure: a local identity whose process ended (or whose pid
        now belongs to another process). A remote or pre-boot record is never "gone" here."""
        if self.host != socket.gethostname():
            return False
        if self.boot != _boot_id():
            return True  # the machine restarted since: every process of then has ended
        now = _start_time(self.pid)
        if now is None:
            return True
        return bool(self.started and now and now != self.started)

    def is_alive(self) -> bool:
        """This very process still runs on this machine."""
        return self.is_local() and not self.is_gone()
