#!/usr/bin/env python3
"""Shared benchmark tools: wrk load runs, production servers, tables.

Every figure that matters is a ratio to an anchor measured in the same
run on the same machine, so the absolute numbers only give scale.
"""
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Optional

from tests.support import ROOT, ServerProcess, base_env, http_get_ok

NODE_DIR = ROOT / "bench" / "node"

RESULTS = ROOT / "bench" / "results"
# The client of a PostgreSQL backend in its process title.
_CLIENT = re.compile(r"(\S+\(\d+\)|\[local\])")


def ensure_wrk() -> str:
    """Return the path of wrk, installing Debian's package when root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"],
                       check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is needed: sudo apt-get install wrk")
    return found


def _lua_script(method: str, body: Optional[str], headers: dict) -> str:
    """Write a wrk Lua script setting method, body and headers."""
    lines = ['wrk.method = "{}"'.format(method)]
    if body is not None:
        lines.append("wrk.body = [[{}]]".format(body))
    for name, value in headers.items():
        lines.append('wrk.headers["{}"] = [[{}]]'.format(name, value))
    handle = tempfile.NamedTemporaryFile(
        "w", suffix=".lua", delete=False, prefix="wrk-")
    handle.write("\n".join(lines) + "\n")
    handle.close()
    return handle.name


def _seconds(text: str) -> float:
    """Convert a wrk duration such as 1.52ms or 870us to seconds."""
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(url: str, seconds: int = 5, connections: int = 16,
        threads: int = 1, method: str = "GET", body: Optional[str] = None,
        headers: Optional[dict] = None) -> dict:
    """Load a URL with wrk; return requests/s, p50 and p99 latency (s).

    Also counts non-2xx/3xx answers and socket errors, so a benchmark
    can refuse a run whose requests failed.
    """
    script = _lua_script(method, body, headers or {})
    try:
        out = subprocess.run(
            [ensure_wrk(), "-t", str(threads), "-c", str(connections),
             "-d", "{}s".format(seconds), "--latency", "-s", script, url],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M).group(1))
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99,
            "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else "",
            "raw": out}


def granian(app_dir: Path, target: str, port: int, workers: int = 2,
            env: Optional[dict] = None,
            probe: str = "/") -> ServerProcess:
    """Start an app on the production server (granian, WSGI) and wait."""
    server = ServerProcess(
        [str(Path(ROOT / ".venv" / "bin" / "granian")), "--interface",
         "wsgi", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--no-ws", "--log-level", "warning",
         target],
        cwd=app_dir, env=base_env(**(env or {})), port=port).start()
    http_get_ok(server.url + probe)
    return server


def postgres_backend_cpu(database_url: str) -> float:
    """Return the CPU seconds (user + system) used so far by the live
    PostgreSQL backends of a URL's database, from /proc.

    A backend's process title names its database before the client's
    address ("postgres: [CLUSTER:] USER DBNAME HOST(PORT) STATE"); a
    throw-away database's unique name thus picks out the bench's own
    backends. Backends that ended are not counted.
    """
    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().replace(
                b"\0", b" ").decode("utf-8", "replace").split()
            if not words or words[0] != "postgres:" or not any(
                    _CLIENT.fullmatch(word) and words[at - 1] == name
                    for at, word in enumerate(words)):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine() -> str:
    """Describe the machine a table was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "{} cores, {}, Python {}".format(
        os.cpu_count(), cpu, platform.python_version())


def table(title: str, header: list, rows: list) -> str:
    """Render rows as a Markdown table under a title and machine line."""
    out = ["### " + title, "", "Machine: " + machine(), "",
           "| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(out) + "\n"


def save(name: str, text: str) -> Path:
    """Print a result table and keep it in bench/results/<name>.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "{}.md".format(name)
    path.write_text(text)
    print(text)
    return path


def ensure_node_modules() -> None:
    """Install the Node peers with ``npm ci`` unless the lock is installed.

    npm keeps a copy of the lock file it installed from in node_modules;
    a package-lock.json newer than that copy is installed again.
    """
    if not shutil.which("node") or not shutil.which("npm"):
        raise SystemExit("bench queue: node and npm are needed "
                         "(sudo apt-get install nodejs npm)")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or \
            installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"],
                       cwd=str(NODE_DIR), check=True)


def start_worker(args: list, cwd: Path, env: dict,
                 ready: str) -> subprocess.Popen:
    """Start a worker process and wait until it says it is ready."""
    proc = subprocess.Popen(args, cwd=str(cwd), env=env, text=True,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    line = proc.stdout.readline()
    if ready not in line:
        proc.kill()
        raise RuntimeError("worker did not start: " + line
                           + proc.stdout.read())
    threading.Thread(target=drain, args=(proc,), daemon=True).start()
    return proc


def drain(proc: subprocess.Popen) -> None:
    """Read a worker's output so a full pipe never blocks the worker."""
    proc.output = []
    for line in proc.stdout:
        proc.output = (proc.output + [line])[-20:]


def stop_worker(proc: subprocess.Popen) -> None:
    """Stop a worker with SIGTERM and wait for it."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
