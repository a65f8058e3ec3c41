"""The measuring instrument behind scenario_l.py and scenario_l_jira.py (SPEC §8, issue 9).

What makes the figures trustworthy, and why each choice was made:

- Every measured program is a child process of its own: the bare clients (bare_github.py,
  bare_jira.py), `okrsync sync`, the daemon cycle (daemon_cycle.py) and the roll-up
  (rollup_detect.py). The simulator stays in this process, so no measured program shares its
  GIL or pays for garbage collection over the simulated org. After seeding, the simulator's
  objects are frozen out of this process's collector (`gc.freeze`), so the server answers
  both contenders without collector pauses over hundreds of thousands of issues.
- Wall time runs from spawn to exit. CPU time is the child's own user + sys from `os.wait4`,
  which the kernel keeps exactly. Peak RSS is `VmHWM` sampled from /proc while the child
  runs: `ru_maxrss` cannot be used, because Linux carries the high-water mark across `execve`,
  so a child of this process would report the simulator's memory. okrsync fetches in forked
  helper processes, so the memory of the whole tree is sampled too (`tree_pss_mb`, every
  0.1 s): the sum of each process's PSS, in which pages the helpers still share with the
  parent count once, split between them (RSS would count them in every process). Their CPU
  is in the child's: wait4 includes the children it reaped. The CPU this process (the
  simulator) spent meanwhile is kept too (`server_cpu`), and on PostgreSQL the CPU of the
  server's processes (`postgres_cpu`), which a sync's own CPU leaves out.
- The first sync is repeated: each round runs the bare client (and any further baseline,
  such as GitHub's bare client on okrsync's own transport), then okrsync on a fresh empty
  database (SQLite: a new file; PostgreSQL: a new schema through `search_path`, as
  tests/conftest.py does), for every engine in turn, so all contenders meet the same noise.
  The sizes take turns too: every size is seeded first, then round 1 runs at each size, then
  round 2…, so the growth from one size to the next compares runs taken minutes apart, not a
  run's start with its end. Medians and min–max spreads are reported, and the ratios are taken
  on the medians; beside them, ratios round by round (okrsync against the bare client just
  before it, and each size against the same round at the previous size).
- A bare client must make the requests okrsync's first sync makes; each round compares the
  request logs (method, path and query, page tokens aside) and records `same_requests`, so
  a change to okrsync's requests shows up as "NO" instead of a quietly unfair ratio.
- After the rounds the polls are measured on the database of the last round, every engine in
  step so they all see the same history: the first poll with nothing changed right after the
  first sync (a poll that saw changes), a second one, a poll with 1 % of the issues changed,
  the first nothing-changed poll after that, a nothing-changed cycle inside a long-running
  process (as the daemon runs it), and the roll-up + slip detection time; these last two run
  three times each, in processes of their own, and report the median and every run.
- okrsync runs from its bytecode, as installed: pip compiles a wheel's modules at install
  (the image does so too), but a source checkout under `PYTHONDONTWRITEBYTECODE=1`, which
  this machine kind sets, never writes `__pycache__`, and every okrsync process would compile
  its ~50 modules from source again (about 0.1 s of each start). So the checkout's packages
  are compiled first (`compile_bytecode`); the bare clients' libraries are installed ones.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import json
import math
import os
import platform
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENGINES = ("sqlite", "postgresql")
HWM_SAMPLE_SECONDS = 0.01
GROWTH_TARGET = 2.1  # okrsync's cost at 200k issues against 100k (issue 9)
# Figures of one okrsync poll run in step: (name, minutes after the first sync).
POLLS = (("no_change_first", 5), ("no_change_second", 10))
CHANGED_POLL = ("one_percent", 15)
AFTER_CHANGE_POLL = ("no_change_after_change", 20)
DAEMON_MINUTES = (25, 30)  # warm-up cycle, timed cycle
REPEATS = 3  # runs of the daemon cycle and of the roll-up, each in a process of its own


# --- one child, measured -------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """What one child process cost: wall (spawn to exit), its own CPU, its peak RSS."""

    wall: float
    cpu: float
    user: float
    sys: float
    peak_rss_mb: float
    server_cpu: float  # this process's CPU meanwhile: the simulator answering the child
    code: int
    output: str
    postgres_cpu: float | None = None  # PostgreSQL's processes meanwhile, when asked for
    tree_pss_mb: float = 0.0  # the child and its own children (helpers): summed PSS, its peak


def _hwm_kb(pid: int) -> int:
    """Read a process's VmHWM (kB); 0 once it has exited (a zombie has no memory map)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _postgres_cpu(pid: int) -> float | None:
    """Return a PostgreSQL process's CPU seconds so far (user + sys), or None for any other."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if not stat[stat.index("(") + 1 : stat.rindex(")")].startswith("postgres"):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (proc(5))


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """List the processes whose parent is `pid` (/proc/PID/stat; no `children` file needed)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _pss_kb(pid: int) -> int:
    """Read a process's proportional set size (kB): shared pages split between their sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class _PostgresCpu:
    """Add up the CPU PostgreSQL's processes spend while a child runs, from /proc.

    A child's own CPU (wait4) leaves out the server's half of its work: parsing, planning and
    running its statements in a backend. A backend started during the run counts from zero;
    one that exits counts up to its last sample. Every postgres process on the machine is
    counted, so other work on the same server shows up too: on a quiet machine it is the
    child's (this needs the server on this machine; elsewhere the figure is 0).
    """

    def __init__(self) -> None:
        self._others: set[int] = set()
        self.start = self._read()
        self.last = dict(self.start)

    def sample(self) -> None:
        self.last.update(self._read())

    @property
    def used(self) -> float:
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())

    def _read(self) -> dict[int, float]:
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in self._others:
                continue
            cpu = _postgres_cpu(int(entry.name))
            if cpu is None:
                self._others.add(int(entry.name))
            else:
                found[int(entry.name)] = cpu
        return found


class _PeakSampler(threading.Thread):
    """Sample a child's VmHWM until stopped; the mark only rises, so the last read is the peak.

    Only the final HWM_SAMPLE_SECONDS before exit can escape it. With `postgres`, it also
    samples the server's processes, ten times less often (listing /proc costs more).
    """

    def __init__(self, pid: int, *, postgres: _PostgresCpu | None) -> None:
        super().__init__(daemon=True, name=f"vmhwm-{pid}")
        self.pid = pid
        self.peak_kb = 0
        self.tree_peak_kb = 0
        self.postgres = postgres
        self.done = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, _hwm_kb(self.pid))
            if tick % 10 == 0:
                tree = sum(_pss_kb(pid) for pid in [self.pid, *_children(self.pid)])
                self.tree_peak_kb = max(self.tree_peak_kb, tree)
                if self.postgres is not None:
                    self.postgres.sample()
            tick += 1
            self.done.wait(HWM_SAMPLE_SECONDS)


def run_child(
    command: Sequence[str], *, env: dict[str, str] | None = None, postgres: bool = False
) -> ChildRun:
    """Run `command` to its end and measure it; the main thread blocks in wait4, so wall is exact.

    With `postgres`, the CPU PostgreSQL's processes spend meanwhile is measured too.
    """
    server = _PostgresCpu() if postgres else None
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryFile(mode="w+") as output, open(os.devnull, "rb") as stdin:
        started = time.perf_counter()
        child = subprocess.Popen(list(command), env=env, stdin=stdin, stdout=output, stderr=subprocess.STDOUT)
        sampler = _PeakSampler(child.pid, postgres=server)
        sampler.start()
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        if server is not None:
            server.sample()
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        output.seek(0)
        text = output.read()
    server_cpu = (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime)
    return ChildRun(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        user=usage.ru_utime,
        sys=usage.ru_stime,
        peak_rss_mb=sampler.peak_kb / 1024,
        server_cpu=server_cpu,
        code=child.returncode,
        output=text,
        postgres_cpu=server.used if server is not None else None,
        tree_pss_mb=sampler.tree_peak_kb / 1024,
    )


def run_checked(
    command: Sequence[str], *, env: dict[str, str] | None = None, what: str, postgres: bool = False
) -> ChildRun:
    """Run a child that must succeed: a failed run would be timed as a fast one."""
    run = run_child(command, env=env, postgres=postgres)
    if run.code != 0:
        msg = f"{what} exited with {run.code}:\n{run.output[-4000:]}"
        raise SystemExit(msg)
    return run


def last_json_line(output: str) -> dict[str, Any]:
    """Read the JSON object a helper script prints last (its figures)."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    msg = f"no JSON line in the output:\n{output[-2000:]}"
    raise SystemExit(msg)


# --- statistics ----------------------------------------------------------------------------


def spread(values: Iterable[float], digits: int = 3) -> dict[str, Any]:
    """Summarise repeated runs: median, min, max and every run, in the order measured."""
    runs = list(values)
    return {
        "median": round(statistics.median(runs), digits),
        "min": round(min(runs), digits),
        "max": round(max(runs), digits),
        "runs": [round(v, digits) for v in runs],
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator > 0 else None


# --- databases -----------------------------------------------------------------------------


def pg_schema_url(base: str, schema: str) -> str:
    """Point a PostgreSQL URL at one schema, exactly as tests/conftest.py does."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


class Databases:
    """Hand out fresh, empty databases per engine, and drop them again.

    SQLite: a new file in the work folder. PostgreSQL: a new schema on `pg_url`, reached
    through the connection's `search_path`, so runs never see each other's rows.
    """

    def __init__(self, folder: Path, *, pg_url: str) -> None:
        self.folder = folder
        self.pg_url = pg_url
        self._schemas: dict[str, str] = {}  # database URL -> schema
        self._admin: Any = None

    def fresh(self, engine: str) -> str:
        if engine == "sqlite":
            return f"sqlite:///{self.folder / f'bench-{uuid.uuid4().hex[:12]}.db'}"
        if engine == "postgresql":
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            self._execute(f'CREATE SCHEMA "{schema}"')
            url = pg_schema_url(self.pg_url, schema)
            self._schemas[url] = schema
            return url
        msg = f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}"
        raise SystemExit(msg)

    def drop(self, url: str) -> None:
        schema = self._schemas.pop(url, None)
        if schema is not None:
            self._execute(f'DROP SCHEMA "{schema}" CASCADE')
            return
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def check(self, engines: Sequence[str]) -> None:
        """Fail before seeding, not after, when PostgreSQL is asked for and unreachable."""
        if "postgresql" in engines:
            self._execute("SELECT 1")

    def drop_all(self) -> None:
        for url in list(self._schemas):
            self.drop(url)
        if self._admin is not None:
            self._admin.dispose()

    def _execute(self, statement: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import OperationalError

        if self._admin is None:
            self._admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        try:
            with self._admin.connect() as connection:
                connection.execute(text(statement))
        except OperationalError as exc:
            msg = f"PostgreSQL at {self.pg_url} refused: {exc.orig}; pass --database-url, or --engines sqlite"
            raise SystemExit(msg) from exc


# --- the scenario a benchmark script describes ---------------------------------------------


class Simulator(Protocol):
    """What the harness needs of a simulated tracker (both SimServer subclasses have it)."""

    url: str

    def clear_log(self) -> None: ...

    def log(self) -> list[Any]: ...

    def stop(self) -> None: ...


@dataclass
class Scenario:
    """One seeded size of one tracker: the simulator and the source-specific pieces.

    `bare_command` runs the bare client in a child (the SPEC §8 baseline); `baselines` name
    further bare clients measured in the same rounds (GitHub: one with okrsync's transport);
    `change(n)` edits n issues in the simulator; `points()` reads the rate-limit points left
    (GitHub), or None.
    """

    source: str  # the source's name in config.toml, and its kind
    issues: int
    sim: Simulator
    clock: list[datetime]
    folder: Path  # holds mappings/ and the configs
    source_toml: str  # the [sources.<name>] section
    bare_command: list[str]
    change: Callable[[int], None]
    points: Callable[[], int | None] = lambda: None
    baselines: dict[str, list[str]] = field(default_factory=dict)
    seed_seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)  # repos, projects… for the report


def write_config(scenario: Scenario, database_url: str) -> Path:
    """Write a config.toml for one database next to the scenario's mappings/."""
    path = scenario.folder / f"config-{uuid.uuid4().hex[:8]}.toml"
    path.write_text(
        f'[okrsync]\ndatabase_url = "{database_url}"\nmappings = "mappings"\n'
        f'timezone = "Europe/Berlin"\n\n{scenario.source_toml}'
    )
    return path


def child_env(now: datetime) -> dict[str, str]:
    """This environment with okrsync's clock pinned (the simulator's clock is set to match).

    Every other `OKRSYNC_*` variable is left out: settings read them over the config file, so
    a token or database URL from the caller's shell would change what is measured.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    return {**env, "OKRSYNC_NOW": now.isoformat()}


def sync_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "okrsync.cli", "--config", str(config), "sync"]


def request_key(request: Any) -> tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Name a request by method, path and query; Jira's page tokens are random, so left out."""
    query = tuple(sorted((k, tuple(v)) for k, v in request.query.items() if k != "nextPageToken"))
    return request.method, request.path, query


def compare_requests(bare: list[Any], okrsync: list[Any]) -> dict[str, Any]:
    """Say whether two request logs hold the same requests, in any order, and show a difference."""
    left, right = Counter(map(request_key, bare)), Counter(map(request_key, okrsync))
    only_bare = list((left - right).elements())[:3]
    only_okrsync = list((right - left).elements())[:3]
    result: dict[str, Any] = {"same_requests": not only_bare and not only_okrsync}
    if not result["same_requests"]:
        result["only_bare"] = [repr(k) for k in only_bare]
        result["only_okrsync"] = [repr(k) for k in only_okrsync]
    return result


def _timed(run: ChildRun) -> dict[str, float]:
    found = {
        "wall": round(run.wall, 3),
        "cpu": round(run.cpu, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "tree_pss_mb": round(run.tree_pss_mb, 1),
        "server_cpu": round(run.server_cpu, 3),
    }
    if run.postgres_cpu is not None:
        found["postgres_cpu"] = round(run.postgres_cpu, 3)
    return found


# --- the measurements ----------------------------------------------------------------------


@dataclass
class Round:
    """One contender's runs over the rounds."""

    runs: list[ChildRun] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)

    def add(self, run: ChildRun, log: list[Any]) -> list[Any]:
        """Keep one run and its request count; hand the request log on."""
        self.runs.append(run)
        self.requests.append(len(log))
        return log

    def figures(self) -> dict[str, Any]:
        return {
            "wall": spread(r.wall for r in self.runs),
            "cpu": spread(r.cpu for r in self.runs),
            "user": spread(r.user for r in self.runs),
            "sys": spread(r.sys for r in self.runs),
            "peak_rss_mb": spread((r.peak_rss_mb for r in self.runs), digits=1),
            "tree_pss_mb": spread((r.tree_pss_mb for r in self.runs), digits=1),
            "server_cpu": spread(r.server_cpu for r in self.runs),
            **({"postgres_cpu": spread(pg)} if (pg := self._postgres()) else {}),
            "requests": self.requests[-1] if self.requests else 0,
        }

    def _postgres(self) -> list[float]:
        found = [r.postgres_cpu for r in self.runs if r.postgres_cpu is not None]
        return found if len(found) == len(self.runs) else []


class FirstSyncs:
    """One seeded size's first-sync rounds, run a round at a time so sizes can take turns.

    A round, per engine: the bare client, any further baselines, then okrsync's first sync
    on a fresh database; each baseline's requests are compared with okrsync's. The last
    round's database of each engine is kept: the polls go on from it.
    """

    def __init__(
        self, scenario: Scenario, databases: Databases, *, engines: Sequence[str], rounds: int
    ) -> None:
        self.scenario = scenario
        self.databases = databases
        self.engines = list(engines)
        self.rounds = rounds
        self.contenders = {"bare": scenario.bare_command, **scenario.baselines}
        self.runs = {e: {name: Round() for name in [*self.contenders, "okrsync"]} for e in engines}
        self.checks: dict[str, dict[str, list[dict[str, Any]]]] = {
            e: {n: [] for n in self.contenders} for e in engines
        }
        self.kept: dict[str, str] = {}
        self.done = 0

    def warm_up(self) -> None:
        """Run each bare client once unmeasured: the simulator's first answers are slower."""
        for name, command in self.contenders.items():
            run_checked(command, env=child_env(self.scenario.clock[0]), what=f"{name} (warm-up)")

    def run_round(self) -> None:
        scenario = self.scenario
        self.done += 1
        for engine in self.engines:
            runs = self.runs[engine]
            logs = {n: runs[n].add(*_logged(scenario, c, what=n)) for n, c in self.contenders.items()}
            url = self.databases.fresh(engine)
            command = sync_command(write_config(scenario, url))
            what = f"okrsync sync on {engine}"
            mine = runs["okrsync"].add(
                *_logged(scenario, command, what=what, postgres=engine == "postgresql")
            )
            for name, log in logs.items():
                self.checks[engine][name].append(compare_requests(log, mine))
            if self.done == self.rounds:
                self.kept[engine] = url
            else:
                self.databases.drop(url)
            walls = ", ".join(f"{n} {r.runs[-1].wall:.2f}s" for n, r in runs.items())
            _progress(f"{scenario.source} {scenario.issues:,}: round {self.done} {engine}: {walls}")

    def figures(self) -> dict[str, dict[str, Any]]:
        """Summarise each engine's rounds (see `_first_sync_figures`)."""
        return {
            e: _first_sync_figures(self.runs[e], self.checks[e], rounds=self.rounds) for e in self.engines
        }


def _first_sync_figures(
    runs: dict[str, Round], checks: dict[str, list[dict[str, Any]]], *, rounds: int
) -> dict[str, Any]:
    """Summarise one engine's rounds: okrsync, the bare client, and the ratios on the medians."""
    mine = runs["okrsync"].figures()
    compared = {}
    for name, checked in checks.items():
        other = runs[name].figures()
        compared[name] = {
            **other,
            "ratio_wall": ratio(mine["wall"]["median"], other["wall"]["median"]),
            "ratio_cpu": ratio(mine["cpu"]["median"], other["cpu"]["median"]),
            "same_requests": all(c["same_requests"] for c in checked),
            "request_differences": next((c for c in checked if not c["same_requests"]), None),
        }
    bare = compared.pop("bare")
    figures: dict[str, Any] = {"rounds": rounds, "bare": bare, "okrsync": mine}
    for key in ("ratio_wall", "ratio_cpu", "same_requests", "request_differences"):
        figures[key] = bare.pop(key)
    if compared:
        figures["baselines"] = compared
    return figures


def _logged(
    scenario: Scenario, command: Sequence[str], *, what: str, postgres: bool = False
) -> tuple[ChildRun, list[Any]]:
    """Run a child that must succeed; return its measurement and the requests it made."""
    scenario.sim.clear_log()
    run = run_checked(command, env=child_env(scenario.clock[0]), what=what, postgres=postgres)
    return run, scenario.sim.log()


def measured_poll(scenario: Scenario, url: str, *, now: datetime, engine: str) -> dict[str, Any]:
    """Run `okrsync sync` on a synced database and count what it asked the simulator."""
    sim = scenario.sim
    scenario.clock[0] = now
    config = write_config(scenario, url)
    before = scenario.points()
    sim.clear_log()
    what = f"okrsync poll on {engine}"
    run = run_checked(sync_command(config), env=child_env(now), what=what, postgres=engine == "postgresql")
    log = sim.log()
    after = scenario.points()
    figures: dict[str, Any] = {
        "requests": len(log),
        "not_modified": sum(1 for r in log if r.status == 304),
        **_timed(run),
    }
    if before is not None and after is not None:
        figures["rate_points"] = before - after
    figures["by_path"] = dict(sorted(Counter(_path_family(r.path) for r in log).items()))
    written = _WRITTEN.search(run.output)
    if written:  # re-read items count too: Jira's overlap window returns recent ones again
        figures["issues_written"] = int(written.group(1))
    return figures


# The summary line `okrsync sync` prints per source (okrsync/cli.py).
_WRITTEN = re.compile(r"(\d+) issue\(s\), \d+ milestone\(s\) updated")


def _path_family(path: str) -> str:
    """Group request paths for the report: repo and project names become placeholders."""
    parts = path.split("/")
    if len(parts) > 4 and parts[1] == "repos":
        return "/repos/{r}/" + "/".join(parts[4:])
    if "project" in parts:
        index = parts.index("project")
        if index + 1 < len(parts):
            parts[index + 1] = "{p}"
    return "/".join(parts)


def daemon_cycle(scenario: Scenario, url: str, *, base: datetime, engine: str) -> dict[str, Any]:
    """Time a nothing-changed cycle inside one long-running process (daemon_cycle.py), `REPEATS`
    times, each in a process of its own: a single run of a second or so reads the machine's
    noise as much as okrsync's cost."""
    warm, timed = (base + timedelta(minutes=m) for m in DAEMON_MINUTES)
    scenario.clock[0] = timed  # nothing changes meanwhile, so one simulator time serves both cycles
    config = write_config(scenario, url)
    before = scenario.points()
    command = [
        sys.executable,
        str(BENCH_DIR / "daemon_cycle.py"),
        str(config),
        "--warm-up",
        warm.isoformat(),
        "--timed",
        timed.isoformat(),
    ]
    figures = _repeated(lambda: run_checked(command, env=child_env(warm), what=f"daemon cycle on {engine}"))
    after = scenario.points()
    if before is not None and after is not None:
        figures["rate_points_both_cycles"] = before - after  # of every repeat: 0 when all were 304s
    return figures


def rollup_and_detection(scenario: Scenario, url: str, *, now: datetime, engine: str) -> dict[str, Any]:
    """Time roll-up + slip detection over the whole org in a child (rollup_detect.py), `REPEATS`
    times (see `daemon_cycle`)."""
    config = write_config(scenario, url)
    command = [
        sys.executable,
        str(BENCH_DIR / "rollup_detect.py"),
        str(config),
        "--now",
        now.isoformat(),
        "--source",
        scenario.source,
    ]
    return _repeated(lambda: run_checked(command, env=child_env(now), what=f"roll-up on {engine}"))


def _repeated(measure: Callable[[], ChildRun]) -> dict[str, Any]:
    """Run a child that reports its own wall and CPU (one JSON line) `REPEATS` times.

    `wall` and `cpu` are the medians, `wall_runs` and `cpu_runs` every run in order,
    `peak_rss_mb` the highest; the other figures are the last run's (they are counts, alike
    in every run).
    """
    reports, peaks = [], []
    for _ in range(REPEATS):
        run = measure()
        reports.append(last_json_line(run.output))
        peaks.append(run.peak_rss_mb)
    figures: dict[str, Any] = dict(reports[-1])
    for key in ("wall", "cpu"):
        runs = [float(r[key]) for r in reports]
        figures[key] = round(statistics.median(runs), 3)
        figures[f"{key}_runs"] = runs
    figures["peak_rss_mb"] = round(max(peaks), 1)
    return figures


def profile_first_sync(
    scenario: Scenario, databases: Databases, *, engine: str, folder: Path, now: datetime
) -> dict[str, Any]:
    """Run one first sync under cProfile; write the top 25 by cumulative and by own time."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{scenario.source}-{scenario.issues}-{engine}"
    url = databases.fresh(engine)
    config = write_config(scenario, url)
    prof = stem.with_suffix(".prof")
    command = [sys.executable, "-m", "cProfile", "-o", str(prof), *sync_command(config)[1:]]
    try:
        run = run_checked(command, env=child_env(now), what=f"profiled okrsync sync on {engine}")
    finally:
        databases.drop(url)
    text = stem.with_suffix(".txt")
    with text.open("w") as stream:
        stream.write(
            f"okrsync first sync under cProfile: {scenario.source}, {scenario.issues} issues, {engine}; "
            f"wall {run.wall:.2f}s with profiling on\n\n== top 25 by cumulative time ==\n"
        )
        pstats.Stats(str(prof), stream=stream).sort_stats("cumulative").print_stats(25)
        stream.write("\n== top 25 by own (total) time ==\n")
        pstats.Stats(str(prof), stream=stream).sort_stats("tottime").print_stats(25)
        # The cumulative list opens with the interpreter's and typer's wrappers; this one
        # keeps okrsync's own functions, which is what a breakdown quotes.
        stream.write("\n== top 25 of okrsync's and the connectors' functions by cumulative time ==\n")
        own = "|".join(
            re.escape(str(BENCH_DIR.parent / package) + os.sep) for package in ("okrsync", "connectors")
        )
        pstats.Stats(str(prof), stream=stream).sort_stats("cumulative").print_stats(own, 25)
    return {"profile_text": str(text), "profile_data": str(prof), "profiled_wall": round(run.wall, 2)}


def measure_size(first_syncs: FirstSyncs, *, profile_dir: Path | None) -> dict[str, Any]:
    """Measure one seeded size after its first-sync rounds: the polls, every engine in step."""
    scenario, databases, engines = first_syncs.scenario, first_syncs.databases, first_syncs.engines
    base = scenario.clock[0]
    kept = first_syncs.kept
    try:
        first = first_syncs.figures()
        result: dict[str, Any] = {e: {"first_sync": first[e]} for e in engines}
        for name, minutes in POLLS:
            for engine in engines:
                now = base + timedelta(minutes=minutes)
                result[engine][name] = measured_poll(scenario, kept[engine], now=now, engine=engine)
        changed = max(1, scenario.issues // 100)
        name, minutes = CHANGED_POLL
        scenario.clock[0] = base + timedelta(minutes=minutes - 2)
        scenario.change(changed)
        for engine in engines:
            poll = measured_poll(scenario, kept[engine], now=base + timedelta(minutes=minutes), engine=engine)
            no_change = result[engine]["no_change_second"]["requests"]
            poll["changed"] = changed
            poll["target"] = no_change + math.ceil(changed / 100)
            result[engine][name] = poll
        name, minutes = AFTER_CHANGE_POLL
        for engine in engines:
            now = base + timedelta(minutes=minutes)
            result[engine][name] = measured_poll(scenario, kept[engine], now=now, engine=engine)
        for engine in engines:
            result[engine]["daemon_no_change"] = daemon_cycle(
                scenario, kept[engine], base=base, engine=engine
            )
        now = base + timedelta(minutes=DAEMON_MINUTES[-1])
        for engine in engines:
            result[engine]["rollup_and_detection"] = rollup_and_detection(
                scenario, kept[engine], now=now, engine=engine
            )
        if profile_dir is not None:
            for engine in engines:
                try:
                    result[engine]["profile"] = profile_first_sync(
                        scenario, databases, engine=engine, folder=profile_dir, now=now
                    )
                except SystemExit as exc:  # optional: the measured figures stand without it
                    result[engine]["profile"] = {"error": str(exc)[-2000:]}
    finally:
        databases.drop_all()
    return {
        "issues": scenario.issues,
        "seed_seconds": scenario.seed_seconds,
        **scenario.facts,
        "engines": result,
    }


def growth(sizes: list[dict[str, Any]], engines: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Compare each size with the previous one: how okrsync's (and the bare client's) cost grew."""
    found: dict[str, list[dict[str, Any]]] = {}
    ordered = sorted(sizes, key=lambda s: s["issues"])
    for engine in engines:
        rows = []
        for small, large in zip(ordered, ordered[1:], strict=False):
            a, b = small["engines"][engine]["first_sync"], large["engines"][engine]["first_sync"]
            row: dict[str, Any] = {
                "from": small["issues"],
                "to": large["issues"],
                "size_ratio": round(large["issues"] / small["issues"], 3),
                "okrsync_wall": ratio(b["okrsync"]["wall"]["median"], a["okrsync"]["wall"]["median"]),
                "okrsync_cpu": ratio(b["okrsync"]["cpu"]["median"], a["okrsync"]["cpu"]["median"]),
                "bare_wall": ratio(b["bare"]["wall"]["median"], a["bare"]["wall"]["median"]),
                "bare_cpu": ratio(b["bare"]["cpu"]["median"], a["bare"]["cpu"]["median"]),
            }
            per_round = _paired(b["okrsync"]["wall"], a["okrsync"]["wall"])
            if per_round is not None:
                row["okrsync_wall_per_round"] = per_round
            if (small["issues"], large["issues"]) == (100_000, 200_000):
                row["target"] = GROWTH_TARGET
            rows.append(row)
        found[engine] = rows
    return found


def _paired(larger: dict[str, Any], smaller: dict[str, Any]) -> dict[str, Any] | None:
    """Spread of round-by-round ratios (round i of one size against round i of another), or None."""
    pairs = list(zip(larger.get("runs", []), smaller.get("runs", []), strict=False))
    if not pairs or any(s <= 0 for _l, s in pairs):
        return None
    return spread((big / small for big, small in pairs), digits=3)


def machine() -> dict[str, Any]:
    """Describe where the figures were taken: they mean little without it."""
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "taken_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def _progress(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# --- the command line ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, *, sizes: str) -> None:
    """The options both scripts share."""
    parser.add_argument("--sizes", default=sizes, help=f"issue counts, comma-separated (default {sizes})")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved first-sync rounds (default 3)")
    parser.add_argument(
        "--engines", default="sqlite,postgresql", help="sqlite and/or postgresql (default both)"
    )
    parser.add_argument("--database-url", default=DEFAULT_PG_URL, help="PostgreSQL server for the schemas")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where SQLite files go (default: a temp dir)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--markdown", action="store_true", help="print the figures as markdown tables")
    parser.add_argument("--from-json", type=Path, default=None, help="measure nothing: render this JSON")
    parser.add_argument("--note", default="", help="a remark kept with the figures (e.g. machine was busy)")
    parser.add_argument("--profile", action="store_true", help="also run one first sync under cProfile")
    parser.add_argument(
        "--profile-dir", type=Path, default=BENCH_DIR / "profiles", help="where the profiles go"
    )


def parse_engines(text: str) -> list[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        msg = f"--engines {text!r}: expected a comma-separated subset of {', '.join(ENGINES)}"
        raise SystemExit(msg)
    return engines


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) <= 0:
        msg = f"--sizes {text!r}: expected positive issue counts, comma-separated"
        raise SystemExit(msg)
    return sizes


Build = Callable[[int, Path], Scenario]


def main(args: argparse.Namespace, *, title: str, build: Build) -> dict[str, Any]:
    """Measure every size (or re-render a saved JSON), write the JSON, print JSON or markdown."""
    if args.from_json is not None:
        figures: dict[str, Any] = json.loads(args.from_json.read_text())
    else:
        figures = measure_all(args, title=title, build=build)
    sys.stdout.write(markdown(figures) if args.markdown else json.dumps(figures, indent=2) + "\n")
    return figures


def compile_bytecode() -> None:
    """Compile okrsync's packages in this checkout to `__pycache__`, as an install does (see above)."""
    for package in ("okrsync", "connectors"):
        if not compileall.compile_dir(BENCH_DIR.parent / package, quiet=1):
            msg = f"could not compile {package}/ to bytecode"
            raise SystemExit(msg)


def measure_all(args: argparse.Namespace, *, title: str, build: Build) -> dict[str, Any]:
    """Seed every size, run the first-sync rounds with the sizes taking turns, then each size's polls.

    The sizes take turns round by round (100k, 200k, 100k, 200k…), so a machine whose speed
    drifts during the run slows both sides of the growth ratio alike; measured one size after
    the other, a drift of a few minutes read as growth (issue 9's 200k/100k ratio moved from
    1.75 to 2.29 between runs of the same code). Every simulator is seeded first, so they
    are all in this process's memory together. The JSON is rewritten after each size's polls
    (`complete` says whether all were taken).
    """
    engines = parse_engines(args.engines)
    compile_bytecode()
    probe = Databases(Path(), pg_url=args.database_url)
    probe.check(engines)
    probe.drop_all()
    figures: dict[str, Any] = {"benchmark": title, "machine": machine(), "rounds": args.rounds}
    figures |= {"engines": engines, "note": args.note, "complete": False, "sizes": []}
    profile_dir = args.profile_dir if args.profile else None
    with tempfile.TemporaryDirectory(prefix="okrsync-bench-", dir=args.workdir) as temp:
        sizes: list[FirstSyncs] = []
        try:
            for size in parse_sizes(args.sizes):
                folder = Path(temp) / str(size)
                folder.mkdir()
                scenario = build(size, folder)
                databases = Databases(folder, pg_url=args.database_url)
                sizes.append(FirstSyncs(scenario, databases, engines=engines, rounds=args.rounds))
            _settle_collector()
            for first_syncs in sizes:
                first_syncs.warm_up()
            for _number in range(args.rounds):
                for first_syncs in sizes:
                    first_syncs.run_round()
            while sizes:
                first_syncs = sizes.pop(0)
                try:
                    figures["sizes"].append(measure_size(first_syncs, profile_dir=profile_dir))
                finally:
                    first_syncs.scenario.sim.stop()
                    del first_syncs
                figures["growth"] = growth(figures["sizes"], engines)
                figures["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
                _save(args.json, figures)
        finally:
            for first_syncs in sizes:  # left by a failure: their schemas and servers
                first_syncs.databases.drop_all()
                first_syncs.scenario.sim.stop()
            gc.unfreeze()
            gc.collect()
    figures["complete"] = True
    _save(args.json, figures)
    return figures


def _save(path: Path | None, figures: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(figures, indent=2) + "\n")


def _settle_collector() -> None:
    """Collect once, then move the simulated org out of the collector's sight (see the docstring)."""
    gc.collect()
    gc.freeze()


# --- markdown ------------------------------------------------------------------------------


def _s(figure: dict[str, Any], digits: int = 2) -> str:
    """Format a spread as `median (min–max)`."""
    median, low, high = (f"{figure[k]:.{digits}f}" for k in ("median", "min", "max"))
    return median if low == high else f"{median} ({low}–{high})"


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} ×"


def markdown(figures: dict[str, Any]) -> str:
    """Render the figures as the tables RESULTS.md quotes."""
    m = figures["machine"]
    lines = [
        f"## {figures['benchmark']}",
        "",
        f"Taken {m['taken_at']} on {m['cpus']} CPUs ({m['platform']}, Python {m['python']}); load average "
        f"{m['load_average'][0]} at the start, {m.get('load_average_end', ['?'])[0]} at the end. "
        f"{figures['rounds']} interleaved round(s) per size and engine; median (min–max).",
        "",
        *([f"Note: {figures['note']}", ""] if figures.get("note") else []),
        *(
            ["**Incomplete: the run stopped before its last size.**", ""]
            if figures.get("complete") is False
            else []
        ),
        "### Full first sync against the bare client (target: wall ≤ 1.25 × bare; peak RSS < 300 MB)",
        "",
        "The wall ratio is the medians' ratio (the target's definition); the ratio per round divides "
        "each round's okrsync run by the bare run just before it, so a machine whose speed drifts "
        "during the run moves both sides of each ratio alike.",
        "",
        "| issues | engine | bare wall s | okrsync wall s | wall ratio | ratio per round | bare CPU s "
        "| okrsync CPU s | CPU ratio | PostgreSQL CPU s | okrsync peak RSS MB | with helpers, PSS MB | requests "
        "| same requests |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in figures["sizes"]:
        for engine, e in size["engines"].items():
            f = e["first_sync"]
            b, o = f["bare"], f["okrsync"]
            lines.append(
                f"| {size['issues']:,} | {engine} | {_s(b['wall'])} | {_s(o['wall'])} | {_x(f['ratio_wall'])} "
                f"| {_ratios(_paired(o['wall'], b['wall']))} | {_s(b['cpu'])} | {_s(o['cpu'])} | {_x(f['ratio_cpu'])} "
                f"| {_s(o['postgres_cpu']) if 'postgres_cpu' in o else '—'} | {_s(o['peak_rss_mb'], 0)} "
                f"| {_s(o['tree_pss_mb'], 0) if 'tree_pss_mb' in o else '—'} | {o['requests']:,} | {'yes' if f['same_requests'] else 'NO'} |"
            )
    lines += _baselines_table(figures)
    lines += [
        "",
        f"### Cost growth of the first sync, size against the previous size (target at 200k/100k: ≤ {GROWTH_TARGET})",
        "",
        'The sizes take turns round by round; "per round" divides each round\'s okrsync wall at the '
        "larger size by the same round's at the smaller one.",
        "",
        "| engine | from → to | okrsync wall | okrsync wall, per round | okrsync CPU | bare wall | bare CPU |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for engine, rows in figures["growth"].items():
        for r in rows:
            lines.append(
                f"| {engine} | {r['from']:,} → {r['to']:,} | {_x(r['okrsync_wall'])} "
                f"| {_ratios(r.get('okrsync_wall_per_round'))} "
                f"| {_x(r['okrsync_cpu'])} "
                f"| {_x(r['bare_wall'])} | {_x(r['bare_cpu'])} |"
            )
    lines += [
        "",
        "### Polls (each an `okrsync sync` process) and a cycle inside a running process",
        "",
        "GitHub: requests / 304s / rate-limit points; Jira: requests by kind. No-change #1 is the first "
        "poll after the first sync, #2 the one after it; after-change is the first no-change poll after "
        "the 1 % poll. The 1 % target is no-change #2 + ⌈changed / 100⌉. The daemon cycle is the second "
        "of two cycles in one process, nothing changed. The daemon cycle and the roll-up run "
        f"{REPEATS} times each, in a process of their own: median (min–max).",
        "",
        "| issues | engine | no-change #1 | no-change #2 | 1 % changed: requests (target) | after-change "
        "| daemon cycle: requests, wall s, CPU s (target < 1.5), RSS MB | roll-up + detection s (target < 1), RSS MB |",
        "|---:|---|---|---|---|---|---|---|",
    ]
    for size in figures["sizes"]:
        for engine, e in size["engines"].items():
            d, r, c = e["daemon_no_change"], e["rollup_and_detection"], e["one_percent"]
            lines.append(
                f"| {size['issues']:,} | {engine} | {_poll(e['no_change_first'])} | {_poll(e['no_change_second'])} "
                f"| {c['requests']} ({c['target']}; {c['changed']:,} changed{_written(c)}) | {_poll(e['no_change_after_change'])} "
                f"| {d['requests']}, {_repeats(d, 'wall')}, {_repeats(d, 'cpu')}, {d['peak_rss_mb']:.0f}{_written(d)} "
                f"| {_repeats(r, 'wall')}, {r['peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def _repeats(figures: dict[str, Any], key: str) -> str:
    """Render a repeated figure as median (min–max); a single run (older JSON) as itself."""
    runs = figures.get(f"{key}_runs")
    return _s(spread(runs)) if runs else f"{figures[key]:.2f}"


def _ratios(paired: dict[str, Any] | None) -> str:
    """Render ratios taken round by round (`_paired`) as median (min–max), or a dash for none."""
    return "—" if paired is None else _s(paired) + " ×"


def _baselines_table(figures: dict[str, Any]) -> list[str]:
    """Render okrsync against the further baselines (GitHub: the bare client on okrsync's transport)."""
    rows = []
    for size in figures["sizes"]:
        for engine, e in size["engines"].items():
            for name, b in e["first_sync"].get("baselines", {}).items():
                rows.append(
                    f"| {size['issues']:,} | {engine} | {name} | {_s(b['wall'])} | {_x(b['ratio_wall'])} "
                    f"| {_s(b['cpu'])} | {_x(b['ratio_cpu'])} | {'yes' if b['same_requests'] else 'NO'} |"
                )
    if not rows:
        return []
    return [
        "",
        "Against a bare client on okrsync's own transport (`bare_matched`: repos fetched ahead on "
        "worker threads, orjson decoding), the ratio shows what okrsync's processing costs:",
        "",
        "| issues | engine | baseline | its wall s | okrsync wall ratio | its CPU s | okrsync CPU ratio "
        "| same requests |",
        "|---:|---|---|---:|---:|---:|---:|---|",
        *rows,
    ]


def _poll(p: dict[str, Any]) -> str:
    """GitHub: requests / 304s / rate-limit points. Jira (no conditional requests): requests by kind."""
    if "rate_points" in p:
        text = f"{p['requests']} / {p['not_modified']} / {p['rate_points']}"
    else:
        paths = p.get("by_path", {})
        search = sum(n for path, n in paths.items() if "/search" in path)
        versions = sum(n for path, n in paths.items() if path.endswith("/versions"))
        other = p["requests"] - search - versions
        text = f"{p['requests']} ({search} search, {versions} versions, {other} other)"
    return text + _written(p)


def _written(p: dict[str, Any]) -> str:
    """Say how many issues a poll wrote (re-reads of its overlap window included), when any."""
    written = p.get("issues_written")
    return f"; {written:,} issues written" if written else ""
