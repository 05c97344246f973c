"""Run a command and measure it: wall time, peak memory of the largest process and of the whole tree.

``run`` starts the command and polls ``/proc`` every ``interval`` seconds for
the resident memory (VmRSS) and peak resident memory (VmHWM) of the process and
all its descendants (the worker pool, the forkserver): the peak of the sum is
the tree's peak RSS, the largest VmHWM the largest single process.

It also reaps the command with ``os.wait4`` and keeps its ``ru_maxrss`` (that
command and its reaped descendants, rather than every child the benchmark ever
had, as ``getrusage(RUSAGE_CHILDREN)`` would give). That figure is only an
upper bound: Linux carries the high-water mark of the forking process over
``exec``, so it is never below the benchmark process's own RSS.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

@dataclass(frozen=True)
class Run:
    """What one command did and cost."""

    argv: list[str]
    returncode: int
    wall_s: float
    max_rss_mb: float          # peak RSS of the largest single process in the tree (VmHWM, /proc polling)
    peak_tree_rss_mb: float    # largest sum of RSS over the process tree at one moment (/proc polling)
    ru_maxrss_mb: float        # wait4's ru_maxrss: see the module docstring
    own_anon_mb: float         # peak anonymous RSS of the command's own process (heap)
    own_file_mb: float         # peak file-backed RSS of the command's own process (mapped files)
    peak_procs: int            # most processes seen in the tree at once
    stdout: str
    stderr: str
    series: tuple = ()         # (seconds, RSS of the command, RSS of the tree) per poll

    def rss_series(self, points: int = 40) -> list[list[float]]:
        """Return about ``points`` evenly spaced samples as [seconds, command MB, tree MB]."""
        step = max(1, len(self.series) // points)
        picked = list(self.series[::step])
        if self.series and picked[-1] != self.series[-1]:
            picked.append(self.series[-1])
        return [[round(t, 1), round(own / 2**20, 1), round(tree / 2**20, 1)] for t, own, tree in picked]


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_sum = 0
        self.peak_procs = 0
        self.hwm: dict[int, int] = {}      # pid -> VmHWM, the peak RSS of that process so far
        self.own_anon = self.own_file = 0  # peak anonymous / file-backed RSS of the command itself
        self.series: list[tuple[float, int, int]] = []   # (seconds, RSS of the command, RSS of the tree)
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop.is_set():
            snapshot = tree_memory(self.pid)
            kinds = _rss_kinds(self.pid)
            self.own_anon, self.own_file = max(self.own_anon, kinds[0]), max(self.own_file, kinds[1])
            if snapshot:
                own = next((rss for pid, rss, _ in snapshot if pid == self.pid), 0)
                self.series.append((time.perf_counter() - start, own, sum(rss for _, rss, _ in snapshot)))
                self.peak_sum = max(self.peak_sum, sum(rss for _, rss, _ in snapshot))
                self.peak_procs = max(self.peak_procs, len(snapshot))
                for pid, _, hwm in snapshot:
                    self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
            self.stop.wait(self.interval)


def tree_memory(root: int) -> list[tuple[int, int, int]]:
    """Return (pid, resident bytes, peak resident bytes) of ``root`` and each of its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        memory = _status_memory(pid)
        if memory is not None:
            found.append((pid, *memory))
        todo.extend(children.get(pid, ()))
    return found


def _rss_kinds(pid: int) -> tuple[int, int]:
    """Return the anonymous and the file-backed (mapped files) resident bytes of one process."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return 0, 0
    found = {line.split(b":")[0]: int(line.split()[1]) * 1024 for line in lines
             if line.startswith((b"RssAnon:", b"RssFile:"))}
    return found.get(b"RssAnon", 0), found.get(b"RssFile", 0)


def _status_memory(pid: int) -> tuple[int, int] | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = fh.read()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        if line.startswith((b"VmRSS:", b"VmHWM:")):
            values[line[:5]] = int(line.split()[1]) * 1024
    if b"VmRSS" not in values:
        return None                        # a zombie or a kernel thread
    return values[b"VmRSS"], values.get(b"VmHWM", values[b"VmRSS"])


def run(argv: list[str], *, cwd: Path | None = None, env: dict | None = None, interval: float = 0.05,
        timeout: float | None = None, check: bool = True, out_dir: Path | None = None) -> Run:
    """Run ``argv`` to its end; return its wall time, memory and output.

    Output goes to files (in ``out_dir``, else a temporary folder) rather than
    pipes, so that a large ``--json`` output never stalls the command.
    """
    import tempfile
    folder = Path(out_dir or tempfile.mkdtemp(prefix="bench-run-"))
    folder.mkdir(parents=True, exist_ok=True)
    out_path, err_path = folder / "stdout", folder / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = _TreeSampler(proc.pid, interval)
        sampler.start()
        status, usage = _wait(proc, timeout)
        wall = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Run(argv, proc.returncode, wall, max(sampler.hwm.values(), default=0) / 2**20,
                 sampler.peak_sum / 2**20, usage.ru_maxrss / 1024, sampler.own_anon / 2**20,
                 sampler.own_file / 2**20, sampler.peak_procs,
                 out_path.read_text(errors="replace"), err_path.read_text(errors="replace"), tuple(sampler.series))
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited with {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def _wait(proc: subprocess.Popen, timeout: float | None):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return status, usage
        time.sleep(0.005)


def wall(argv: list[str], *, env: dict | None = None, cwd: Path | None = None) -> tuple[float, int]:
    """Return the wall time of a short command and its exit code (no memory sampling)."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, done.returncode
