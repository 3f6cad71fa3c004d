"""Find and stop the processes of a Ray session rooted at a temp dir (kills only this test's Ray, by pid).

A plain module, not conftest: several conftest.py files exist, so `from conftest import` is ambiguous.
"""

from __future__ import annotations


def ray_session_processes(temp_dir: str, gcs_port: int | None = None) -> list:
    """Every process of the Ray session(s) rooted at temp_dir (daemons name it; workers are their children).
    `gcs_port`: a `ray start --head` node's port; its client server names only that (`--address=IP:port`),
    not the temp dir, and `ray start` leaves it orphaned, so it is found by the port."""
    import psutil

    def ours(cmdline: list[str]) -> bool:
        return any(temp_dir in arg or (gcs_port is not None and arg.startswith("--address=")
                                       and arg.endswith(f":{gcs_port}")) for arg in cmdline)

    roots = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if ours(p.info["cmdline"] or []):
                roots.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found = {p.pid: p for p in roots}
    for p in roots:
        try:
            found.update({c.pid: c for c in p.children(recursive=True)})
        except psutil.NoSuchProcess:
            continue
    return list(found.values())


def stop_ray_session(temp_dir: str, timeout: float = 20.0, gcs_port: int | None = None) -> list[int]:
    """Kill (by pid) what is left of the session under temp_dir; returns the pids that were still alive."""
    import psutil

    procs = ray_session_processes(temp_dir, gcs_port)
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=timeout)
    return [p.pid for p in procs]


def live_ray_processes(temp_dir: str, named: str | None = None) -> list[int]:
    """Pids of the session's processes that are still running (zombies awaiting their parent do not count),
    only those whose command line contains `named` when given (e.g. "StageWorker")."""
    import psutil

    def running(p) -> bool:
        try:
            return p.status() != psutil.STATUS_ZOMBIE and (named is None or named in " ".join(p.cmdline()))
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return False

    return [p.pid for p in ray_session_processes(temp_dir) if running(p)]


def wait_for_no_stage_workers(temp_dir: str, timeout: float = 30.0) -> list[int]:
    """The StageWorker pids still alive after up to `timeout` s (ray.kill is asynchronous); [] when all ended."""
    import time

    deadline = time.time() + timeout
    while live_ray_processes(temp_dir, "StageWorker") and time.time() < deadline:
        time.sleep(0.5)
    return live_ray_processes(temp_dir, "StageWorker")
