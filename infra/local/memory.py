"""Lambda's MemorySize, enforced on local worker processes.

Lambda gives an execution environment exactly the memory the function is configured with and ends an
invocation that needs more with `Runtime.OutOfMemory`. Locally a worker gets, in order of preference:

- a memory cgroup of its own (v1: `memory.limit_in_bytes`; v2: `memory.max`), created as a child of the
  host's own cgroup, so the kernel's OOM killer ends the worker at exactly its limit;
- otherwise a watcher that reads the worker's resident set size and kills it when it passes the limit
  (coarser: an allocation burst between two readings can overshoot briefly).

An address-space limit (RLIMIT_AS) would not do: TensorFlow reserves far more virtual memory than it uses.
"""

import contextlib
import itertools
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

MIB = 1024 * 1024
RSS_POLL_S = 0.05
GROUP_PREFIX = "photomod-worker-"
# One sequence per process: group names stay unique however many MemoryLimits a process makes.
_GROUP_NUMBERS = itertools.count(1)


class MemoryGuard(Protocol):
    """The limit of one worker process."""

    def attach(self, pid: int) -> None: ...

    def exceeded(self) -> bool:
        """Whether the worker was ended for using more than its limit."""
        ...

    def release(self) -> None: ...


class NoGuard:
    def attach(self, pid: int) -> None:
        pass

    def exceeded(self) -> bool:
        return False

    def release(self) -> None:
        pass


class RssWatch:
    """Kills the worker when its resident set passes the limit; for hosts without a writable memory cgroup."""

    def __init__(self, limit_mb: int, poll_s: float = RSS_POLL_S):
        self.limit_bytes = limit_mb * MIB
        self.poll_s = poll_s
        self._killed = threading.Event()
        self._stop = threading.Event()

    def attach(self, pid: int) -> None:
        threading.Thread(target=self._watch, args=(pid,), daemon=True, name=f"rss-watch-{pid}").start()

    def _watch(self, pid: int) -> None:
        while not self._stop.wait(self.poll_s):
            rss = resident_bytes(pid)
            if rss is None:
                return
            if rss > self.limit_bytes:
                self._killed.set()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                return

    def exceeded(self) -> bool:
        return self._killed.is_set()

    def release(self) -> None:
        self._stop.set()


def resident_bytes(pid: int) -> int | None:
    """VmRSS of a live process, None once it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return None  # a zombie has no VmRSS


class CgroupGuard:
    """A child memory cgroup per worker (v1 or v2)."""

    def __init__(self, group: Path, version: int, limit_mb: int):
        self.group = group
        self.version = version
        self.limit_bytes = limit_mb * MIB
        group.mkdir()
        if version == 1:
            # Charges made before the worker joins (interpreter start-up) move with it.
            _write_optional(group / "memory.move_charge_at_immigrate", "3")
            (group / "memory.limit_in_bytes").write_text(str(self.limit_bytes))
            # Swap must not extend the limit: Lambda has none.
            _write_optional(group / "memory.memsw.limit_in_bytes", str(self.limit_bytes))
        else:
            (group / "memory.max").write_text(str(self.limit_bytes))
            _write_optional(group / "memory.swap.max", "0")

    def attach(self, pid: int) -> None:
        (self.group / "cgroup.procs").write_text(str(pid))

    def exceeded(self) -> bool:
        try:
            if self.version == 1:
                counters = _counters(self.group / "memory.oom_control")
                if "oom_kill" in counters:
                    return counters["oom_kill"] > 0
                # Older kernels do not count kills: the group hit its limit and the worker died.
                return (
                    int((self.group / "memory.failcnt").read_text()) > 0
                    and int((self.group / "memory.max_usage_in_bytes").read_text()) >= self.limit_bytes - MIB
                )
            return _counters(self.group / "memory.events").get("oom_kill", 0) > 0
        except (OSError, ValueError):
            return False

    def release(self) -> None:
        # Still busy (a process not yet reaped): the next host start sweeps it.
        with contextlib.suppress(OSError):
            self.group.rmdir()


def _write_optional(path: Path, value: str) -> None:
    with contextlib.suppress(OSError):
        path.write_text(value)


def _counters(path: Path) -> dict[str, int]:
    counters = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if value.strip().isdigit():
            counters[name] = int(value)
    return counters


def _own_cgroup(version: int) -> Path | None:
    """The folder of this process's memory cgroup, if the hierarchy is mounted and writable."""
    mount = _mount_point(version)
    if mount is None:
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        if (version == 1 and "memory" in controllers.split(",")) or (version == 2 and _id == "0"):
            folder = mount / path.lstrip("/")
            if not folder.is_dir():  # a cgroup namespace: our group is the mount's root
                folder = mount
            if version == 2 and "memory" not in _read(folder / "cgroup.subtree_control").split():
                return None
            return folder if os.access(folder, os.W_OK) else None
    return None


def _mount_point(version: int) -> Path | None:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) < 4:
            continue
        if version == 1 and fields[2] == "cgroup" and "memory" in fields[3].split(","):
            return Path(fields[1])
        if version == 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _sweep_stale_groups(parent: Path) -> None:
    """Removes groups left by hosts that were killed; a group still holding a process cannot be removed."""
    for group in parent.glob(GROUP_PREFIX + "*"):
        host_pid = group.name.removeprefix(GROUP_PREFIX).split("-")[0]
        if host_pid.isdigit() and not Path(f"/proc/{host_pid}").exists():
            with contextlib.suppress(OSError):
                group.rmdir()


class MemoryLimits:
    """Chooses how this host enforces memory limits, once, and makes one guard per worker."""

    def __init__(self, mode: str = "auto"):
        """mode: auto (cgroup if possible, else RSS watch), cgroup, rss or off."""
        self.parent: Path | None = None
        self.version = 0
        if mode in ("auto", "cgroup"):
            for version in (1, 2):
                parent = _own_cgroup(version)
                if parent is not None and self._probe(parent, version):
                    self.parent, self.version = parent, version
                    break
            if self.parent is None and mode == "cgroup":
                raise RuntimeError("no writable memory cgroup (v1 memory controller or v2 memory.max) is available")
        self.mode = f"cgroup-v{self.version}" if self.parent is not None else ("off" if mode == "off" else "rss-watch")
        if self.parent is not None:
            _sweep_stale_groups(self.parent)

    def _probe(self, parent: Path, version: int) -> bool:
        try:
            guard = CgroupGuard(parent / f"{GROUP_PREFIX}{os.getpid()}-probe-{os.urandom(3).hex()}", version, 64)
        except OSError:
            return False
        guard.release()
        return True

    def describe(self) -> str:
        if self.parent is not None:
            return f"memory cgroup v{self.version} per worker (under {self.parent})"
        if self.mode == "rss-watch":
            return "resident-set watcher per worker (no writable memory cgroup here)"
        return "not enforced"

    def guard(self, limit_mb: int) -> MemoryGuard:
        if self.mode == "off":
            return NoGuard()
        if self.parent is not None:
            # The random part: a group left by an earlier process with the same pid must not collide.
            name = f"{GROUP_PREFIX}{os.getpid()}-{next(_GROUP_NUMBERS)}-{os.urandom(3).hex()}"
            return CgroupGuard(self.parent / name, self.version, limit_mb)
        return RssWatch(limit_mb)


GuardFactory = Callable[[int], MemoryGuard]
