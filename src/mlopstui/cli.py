"""Command line: the workbench by default; `sync`, `runs`, `doctor`, `demo` on the same core.

Global options go before the command and each has an environment variable:
`mlopstui [--tracking-uri URI] [--cache PATH] [--config FILE] [--read-only] [COMMAND ...]`.
A settings mistake, or a cache or audit log that cannot be used, prints one line and exits 2;
a failing check exits 1; so does an unforeseen error, as one line that says where its
traceback was logged. A reader that closes the pipe early (`| head`) ends it quietly with 141.
Every string from outside (the server, the cache, plugins, the config) is printed through
`text.clean`; JSON keeps values whole with every control character escaped as \\uXXXX.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any

from mlopstui import __version__, text, timefmt
from mlopstui.config import ConfigError, Settings, load


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlopstui",
        description="A terminal workbench for ML in production. With no command, opens it.",
    )
    p.add_argument("--version", action="version", version=f"mlopstui {__version__}")
    p.add_argument(
        "--tracking-uri", metavar="URI", help="MLflow tracking server [MLOPSTUI_TRACKING_URI]"
    )
    p.add_argument(
        "--context", metavar="NAME", help="Kubernetes context to pin [MLOPSTUI_KUBE_CONTEXT]"
    )
    p.add_argument("--cache", metavar="PATH", help="cache file [MLOPSTUI_CACHE]")
    p.add_argument("--config", metavar="FILE", help="config file [MLOPSTUI_CONFIG]")
    p.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="remove every write action [MLOPSTUI_READ_ONLY=1]",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("sync", help="sync sources into the cache")
    s.add_argument("--once", action="store_true", help="one pass, print what was synced, then exit")
    r = sub.add_parser("runs", help="print cached runs")
    r.add_argument("--experiment", metavar="NAME", help="experiment name or id (default: all)")
    r.add_argument(
        "--filter", metavar="EXPR", default="", help="MLflow search syntax or plain text"
    )
    r.add_argument("--sort", default="start_time", help="column, e.g. start_time or metrics.acc")
    r.add_argument("--asc", action="store_true", help="ascending order")
    r.add_argument(
        "--order-by",
        metavar="CLAUSE",
        action="append",
        help="MLflow order_by clause, repeatable, e.g. 'metrics.acc DESC' (replaces --sort)",
    )
    r.add_argument("--columns", default="", help="extra columns, e.g. params.lr,metrics.acc")
    r.add_argument("--limit", type=int, default=100, help="rows to print; 0 for all (default 100)")
    r.add_argument("--format", choices=("table", "json", "csv"), default="table")
    pr = sub.add_parser(
        "promote", help="point a model alias at a version (confirmed, audited, verified)"
    )
    pr.add_argument("model", help="registered model name")
    pr.add_argument("version", help="model version number")
    pr.add_argument("--alias", required=True, help="alias to move, e.g. champion")
    pr.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    rb = sub.add_parser(
        "rollback", help="point a model alias back where it was before its last promotion"
    )
    rb.add_argument("model", help="registered model name")
    rb.add_argument("--alias", required=True, help="alias to roll back, e.g. champion")
    rb.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    au = sub.add_parser("audit", help="every write this tool attempted, and how it ended")
    au.add_argument(
        "--since", metavar="WHEN", help="e.g. 30m, 2h, 7d or 2026-11-01 (default: everything)"
    )
    au.add_argument("--limit", type=int, default=200, help="records to print (default 200)")
    au.add_argument("--format", choices=("table", "json"), default="table")
    g = sub.add_parser("gpus", help="print the GPU nodes table from the cache")
    g.add_argument(
        "--context", dest="sub_context", metavar="NAME", help="Kubernetes context (as --context)"
    )
    g.add_argument("--sync", action="store_true", help="list the cluster and GPU metrics first")
    g.add_argument("--format", choices=("table", "json"), default="table")
    sub.add_parser("doctor", help="check each configured source and the cache")
    sub.add_parser("plugins", help="list installed panes and plugins, and any that fail to load")
    d = sub.add_parser("demo", help="seed the embedded local store with demo data, then open it")
    d.add_argument("--no-open", action="store_true", help="seed only; do not open the workbench")
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from file, environment and these flags."""
    return load(
        config=args.config,
        flags={
            "mlflow.tracking_uri": args.tracking_uri,
            "cache": args.cache,
            "read_only": args.read_only,
            "kubernetes.context": args.context,
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mlopstui` console script."""
    args = _parser().parse_args(argv)
    if getattr(args, "sub_context", None):
        args.context = args.sub_context
    try:
        settings = settings_from(args)
        command = args.command or "ui"
        return COMMANDS[command](settings, args)
    except ConfigError as exc:
        print(f"mlopstui: config error: {text.clean(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `mlopstui runs | head`: the reader has all it wanted. Exit as a tool killed by
        # SIGPIPE does, silently, and point stdout at nothing so the exit flush stays quiet.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # the last line of defence: one readable line, no traceback
        status, sentence = explain(exc)
        print(f"mlopstui: {text.redact(sentence)}", file=sys.stderr)
        return status


def explain(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one sentence `main` prints for an exception no command caught.

    A cache or audit log that cannot be used, a path that cannot be reached, a database that
    is locked or damaged: 2, with what to do. Anything else is a bug: 1, with where the
    traceback was logged, because a traceback on the terminal helps nobody on call.
    """
    import sqlite3

    from mlopstui.cache.audit import AuditError
    from mlopstui.cache.db import CacheError
    from mlopstui.paths import UnsafePathError

    if isinstance(exc, CacheError | UnsafePathError | AuditError):
        return 2, text.clean(str(exc))
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
        return 2, text.clean(f"{where}{reason}") + "; check the path and its permissions"
    if isinstance(exc, sqlite3.Error):
        return 2, cache_sentence(exc)
    if isinstance(exc, RecursionError):
        return 2, "input nested too deeply to read (a config or cache value); nothing was done"
    return (
        1,
        f"unexpected error ({type(exc).__name__}: {text.clean(str(exc), limit=200)}); {_log_traceback(exc)}",
    )


def _log_traceback(exc: BaseException) -> str:
    """Append the traceback of `exc` to the app's private log; say where (for the sentence)."""
    import traceback

    from mlopstui import paths

    try:
        path = paths.log_file()
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} mlopstui crashed:\n")
            log.writelines(traceback.format_exception(exc))
        paths.make_private_file(path)
    except Exception:  # no log to write to: the sentence alone has to do
        return "please report it"
    return f"the details are in {path}; please report it"


def cmd_ui(settings: Settings, args: argparse.Namespace) -> int:
    """Open the workbench."""
    from mlopstui.ui.app import run_app

    return run_app(settings)


def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    """Sync once (printing per source and job) or keep syncing in the foreground."""
    from mlopstui.workbench import Workbench

    bench = Workbench(settings)
    if bench.note:
        print(text.clean(bench.note), file=sys.stderr)
    try:
        if not args.once:
            print(f"syncing into {bench.cache_path}; Ctrl-C stops")
            bench.start()
            _print_source_failures(bench)
            while True:
                time.sleep(3600)
        failed = _run_jobs(bench, bench.jobs(heartbeat=False))
        failed += _print_source_failures(bench)
        return 1 if failed else 0
    finally:
        bench.close()


def _run_jobs(bench: Any, jobs: list[Any]) -> int:
    """Run each job once, print one line for it; returns how many failed."""
    failed = 0
    for job in jobs:
        rec = bench.scheduler.run_job(job)
        if job.housekeeping and rec.ok:
            continue
        took = (rec.finished or rec.started) - rec.started
        where = f"{text.clean(job.source)}: {text.clean(job.name)}"
        try:
            note = job.note() if job.note is not None else None
        except Exception as exc:  # a plugin's broken note loses only the note
            note = f"(no note: {exc!r})"
        if rec.ok and note and not rec.rows:
            print(f"{where}: not available: {text.clean(note)}")
        elif rec.ok:
            print(f"{where}: ok, {rec.rows} rows in {took:.1f} s")
        else:
            failed += 1
            print(f"{where}: FAILED: {text.clean(rec.error)}")
    return failed


def _print_source_failures(bench: Any) -> int:
    """One line per plugin source that could not be loaded or opened; returns the count."""
    failures = bench.sources.load_plugins()
    for f in failures:
        print(
            f"FAILED source {text.clean(f.name)} ({text.clean(f.target)}): {text.clean(f.reason)}",
            file=sys.stderr,
        )
    return len(failures)


def _find_experiment(conn: Any, name: str | None) -> str | None:
    from mlopstui.cache import runs as run_store

    if name is None:
        return None
    for exp in run_store.experiments(conn):
        if name in (exp.name, exp.experiment_id):
            return exp.experiment_id
    raise LookupError(f"no cached experiment named {name!r}; run `mlopstui sync --once` first?")


def cmd_runs(settings: Settings, args: argparse.Namespace) -> int:
    """Print cached runs as a table, JSON or CSV."""
    import sqlite3

    path = settings.cache_path
    extra = [c.strip() for c in args.columns.split(",") if c.strip()]
    try:
        records, matched = _read_runs(path, args, extra)
    except _Stop as stop:
        print(f"mlopstui: {text.clean(stop.sentence)}", file=sys.stderr)
        return stop.status
    except sqlite3.Error as exc:  # damaged or locked while reading: one sentence
        print(f"mlopstui: {cache_sentence(exc, path)}", file=sys.stderr)
        return 1
    out = sys.stdout
    if args.format == "json":
        json.dump(records, out, indent=2)
        out.write("\n")
    elif args.format == "csv":
        writer = csv.DictWriter(out, fieldnames=list(records[0]) if records else ["run_id"])
        writer.writeheader()
        for rec in records:
            writer.writerow({k: text.clean(v) if isinstance(v, str) else v for k, v in rec.items()})
    else:
        _print_table(records, extra)
    if matched > len(records):
        # On stderr: a pipe reading stdout gets exactly the rows, a person learns of the rest.
        print(
            f"mlopstui: showing {len(records):,} of {matched:,} matching runs "
            f"(--limit {args.limit}; --limit 0 prints all)",
            file=sys.stderr,
        )
    return 0


class _Stop(Exception):
    """A command ends early with this status and sentence."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status, self.sentence = status, sentence


def _read_runs(
    path: Any, args: argparse.Namespace, extra: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """The runs `runs` prints, read from the cache without changing it, and how many matched
    (counted only when `--limit` cut the list short)."""
    from mlopstui.cache import db
    from mlopstui.cache import runs as run_store
    from mlopstui.cache.search import FilterError

    problem = _unreadable_cache(path)
    if problem is not None:
        raise _Stop(1, problem)
    conn = db.open_reader(path)
    try:
        problem = _not_a_cache(conn, path)
        if problem is not None:
            raise _Stop(1, problem)
        try:
            exp_id = _find_experiment(conn, args.experiment)
            window = run_store.RunsWindow(
                conn,
                experiment_id=exp_id,
                filter_text=args.filter,
                sort=args.sort,
                descending=not args.asc,
                order_by=args.order_by,
            )
        except (FilterError, LookupError) as exc:
            raise _Stop(2, str(exc)) from None
        limit = args.limit if args.limit > 0 else 10**12
        rows = window.page(0, limit)
        matched = window.count() if len(rows) >= limit else len(rows)
        run_store.fill_values(conn, rows, extra)
        names = {e.experiment_id: e.name for e in run_store.experiments(conn)}
    finally:
        conn.close()
    records = [
        {
            "run_id": r.run_id,
            "experiment": names.get(r.experiment_id, r.experiment_id),
            "name": r.name,
            "status": r.status,
            "start_time": r.start_time,
            "end_time": r.end_time,
            "duration_ms": r.duration,
            "user": r.user,
            "source": r.source,
            **{c: r.values.get(c) for c in extra},
        }
        for r in rows
    ]
    return records, matched


def cache_sentence(exc: Exception, path: Any = None) -> str:
    """What a SQLite error while using the cache means for the person, in one sentence."""
    where = f" {path}" if path is not None else ""
    if "locked" in str(exc) or "busy" in str(exc):
        return (
            f"the cache{where} is locked by another program ({text.clean(str(exc))}); "
            "try again when it has finished, or choose another with --cache"
        )
    return (
        f"cannot read the cache{where}: {text.clean(str(exc))}; "
        "run `mlopstui sync --once` to rebuild it, or choose another with --cache"
    )


def _unreadable_cache(path: Any) -> str | None:
    """Why the cache file cannot be read before SQLite is asked (missing, a directory, a
    dangling or looping link, no permission), or None. `runs` only reads: it never creates
    or rebuilds the cache, so each of these is a sentence that says what to run."""
    import os

    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return f"the cache {path} is a link to nothing; remove it or choose another --cache"
        return f"no cache at {path} yet; run `mlopstui sync --once`"
    except OSError as exc:
        return f"cannot reach the cache {path}: {exc.strerror or exc}; choose another --cache"
    import stat

    if stat.S_ISDIR(st.st_mode):
        return f"the cache {path} is a directory, not a file; choose another --cache"
    if st.st_size == 0:
        return f"the cache {path} is empty; run `mlopstui sync --once` to fill it"
    if not os.access(path, os.R_OK):
        return f"cannot read the cache {path}: permission denied; check its owner and mode"
    return None


def _not_a_cache(conn: Any, path: Any) -> str | None:
    """Why an opened SQLite file is no cache `runs` can read (another program's database, a
    newer mlopstui's, one never synced), or None. `sync` moves such a file aside and rebuilds;
    `runs` says so instead of failing on a missing table."""
    from mlopstui.cache import db

    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    rebuild = "`mlopstui sync --once` moves it aside and rebuilds it"
    if app_id != db.APPLICATION_ID:
        if app_id == 0 and version == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables == 0:
                return f"the cache {path} holds nothing yet; run `mlopstui sync --once`"
        return f"{path} is not an mlopstui cache; {rebuild}, or choose another --cache"
    if version > db.SCHEMA_VERSION:
        return (
            f"the cache {path} was written by a newer mlopstui (schema {version} > "
            f"{db.SCHEMA_VERSION}); upgrade mlopstui, or {rebuild}"
        )
    if version < db.SCHEMA_VERSION:
        return f"the cache {path} is from an older mlopstui; run `mlopstui sync --once` first"
    return None


def _print_table(records: list[dict[str, Any]], extra: list[str]) -> None:
    cols = ["run_id", "name", "status", "start", "duration", "user", *extra]
    table = [
        [
            text.clean(r["run_id"])[:8],
            text.clean(r["name"], limit=32),
            text.clean(r["status"], limit=12),
            timefmt.clock(r["start_time"]),
            timefmt.duration(r["duration_ms"]),
            text.clean(r["user"], limit=16),
            *(text.clean(r[c], limit=16) for c in extra),
        ]
        for r in records
    ]
    _print_columns([c.upper() for c in cols], table)
    if not records:
        print("(no runs match)")


def _print_columns(cols: list[str], table: list[list[str]]) -> None:
    """Print rows under a header, each column as wide as its widest cell."""
    widths = [max([len(c)] + [len(row[i]) for row in table]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    """Check the config, the cache, the audit log and every source (built-in and plugin).
    Prints one line per check and never a traceback."""
    from mlopstui.cache import db
    from mlopstui.cache.audit import AuditError, AuditLog
    from mlopstui.sources import Check

    failures = 0

    def report(name: str, ok: bool | None, detail: str) -> None:
        nonlocal failures
        failures += ok is False
        mark = "--  " if ok is None else ("OK  " if ok else "FAIL")
        print(f"{mark} {text.clean(name)}: {text.clean(detail)}")

    report("config", True, settings.config_file or "no config file; defaults and environment")
    try:
        # Read every page first, read-only: opening reads only the first one, so damage in
        # the middle would pass as OK (and the workbench would fail every sync on it).
        damage = db.check(settings.cache_path) if settings.cache_path.exists() else None
        if damage is not None:
            report(
                "cache",
                False,
                f"{settings.cache_path} is damaged ({damage}); it holds only copies: quit "
                "mlopstui, move it aside and run `mlopstui sync --once` to rebuild it",
            )
        else:
            opened = db.open_writer(settings.cache_path)
            count = opened.conn.execute("SELECT count(*) FROM runs").fetchone()[0]
            opened.conn.close()
            report("cache", True, f"{settings.cache_path} ({count} runs cached)")
    except Exception as exc:
        report("cache", False, str(exc))
    try:
        log = AuditLog()
        unknown = len(log.unresolved())
        total = log.count()
        log.close()
        detail = f"{log.path} ({total} records"
        detail += f", {unknown} with an unknown outcome: see `mlopstui audit`)" if unknown else ")"
        report("audit", not unknown, detail)
    except AuditError as exc:
        report("audit", False, str(exc))
    except Exception as exc:
        report("audit", False, f"{type(exc).__name__}: {exc}")
    bench = _doctor_workbench(settings)
    if bench is None:
        return 1
    try:
        for source in bench.sources:
            try:
                checks = list(source.check())
                if not all(isinstance(c, Check) for c in checks):
                    raise TypeError("check() must return a list of mlopstui.sources.Check")
            except Exception as exc:  # a source's broken check is its own failure only
                report(source.name, False, f"check failed: {type(exc).__name__}: {exc}")
                continue
            for check in checks:
                report(check.name, check.ok, check.detail)
        for failure in bench.sources.load_plugins():
            report(f"source {failure.name}", False, f"{failure.target}: {failure.reason}")
    finally:
        bench.close()
    return 1 if failures else 0


def _doctor_workbench(settings: Settings) -> Any:
    """A workbench for `doctor`'s source checks, over a scratch cache when the real one
    cannot be opened (already reported). Every source is opened and loaded."""
    import tempfile
    from pathlib import Path

    from mlopstui.workbench import Workbench

    try:
        bench = Workbench(settings)
    except Exception:
        import atexit
        import shutil

        scratch = Path(tempfile.mkdtemp(prefix="mlopstui-doctor-")) / "cache.sqlite"
        atexit.register(shutil.rmtree, scratch.parent, True)
        try:
            import msgspec

            bench = Workbench(msgspec.structs.replace(settings, cache=str(scratch)))
        except Exception as exc:
            print(f"FAIL sources: cannot open any cache to check them: {text.clean(str(exc))}")
            return None
    bench.sources.load_plugins()
    return bench


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Seed the embedded local store when it is empty, then open the workbench."""
    if not settings.is_local_store:
        print(
            f"mlopstui: demo seeds only the embedded local store, not {settings.tracking_uri}; "
            "unset --tracking-uri / MLOPSTUI_TRACKING_URI / MLFLOW_TRACKING_URI",
            file=sys.stderr,
        )
        return 2
    from mlopstui import demo, paths

    try:
        empty = demo.store_is_empty(settings.tracking_uri)
    except ImportError:
        print(
            "mlopstui: the local store needs full MLflow: pip install 'mlopstui[local]'",
            file=sys.stderr,
        )
        return 2
    if empty:
        paths.ensure_private_dir(paths.data_dir())
        print(f"seeding demo data into {settings.tracking_uri} ...")
        summary = demo.seed_demo(
            settings.tracking_uri, paths.local_artifact_root(), progress=lambda m: print(f"  {m}")
        )
        print(f"seeded {summary}")
    else:
        print(f"{settings.tracking_uri} already has data; not seeding")
    if args.no_open:
        return 0
    return cmd_ui(settings, args)


def cmd_plugins(settings: Settings, args: argparse.Namespace) -> int:
    """List pane and source entry points, then load them and report the ones that fail."""
    from mlopstui.plugin_api import API_VERSION
    from mlopstui.plugin_api import catalog as pane_catalog
    from mlopstui.sources import catalog

    print("panes:")
    for ep in pane_catalog.listed():
        print(f"  {text.clean(ep.name):<14} {text.clean(ep.value)}")
    print("sources:")
    for ep in catalog.listed():
        print(f"  {text.clean(ep.name):<14} {text.clean(ep.value)}")
    _panes, failures = pane_catalog.load(API_VERSION)
    for failure in failures:
        print(f"FAILED pane {text.clean(failure.name)}: {text.clean(failure.reason)}")
    taken: set[str] = set()
    source_failures = 0
    for ep in catalog.listed():
        loaded = catalog.load_class(ep, taken)
        if isinstance(loaded, catalog.SourceFailure):
            source_failures += 1
            print(f"FAILED source {text.clean(loaded.name)}: {text.clean(loaded.reason)}")
        else:
            taken.add(loaded.name or ep.name)
    return 1 if failures or source_failures else 0


def cmd_gpus(settings: Settings, args: argparse.Namespace) -> int:
    """Print the GPU nodes of the pinned context (allocation, use, health) from the cache."""
    from mlopstui.cache import gpu_nodes
    from mlopstui.cache import kube as kube_store
    from mlopstui.sources import gpu as gpu_source
    from mlopstui.sources import kubernetes as kube_source
    from mlopstui.workbench import Workbench

    bench = Workbench(settings)
    failed = 0
    try:
        cluster = bench.sources.get(kube_source.NAME)
        kube = cluster.client if isinstance(cluster, kube_source.KubernetesSource) else None
        if cluster is None or kube is None:
            reason = getattr(cluster, "error", None) or kube_source.NO_KUBECONFIG
            print(f"mlopstui: {text.clean(reason)}", file=sys.stderr)
            return 2
        if args.sync:
            metrics = bench.sources.get(gpu_source.NAME)
            for source in (cluster, metrics):
                if source is None:
                    continue
                for job in source.jobs(heartbeat=False):
                    if job.housekeeping:
                        continue
                    rec = bench.scheduler.run_job(job)
                    if not rec.ok:
                        failed += 1
                        print(
                            f"{text.clean(job.source)}: {text.clean(job.name)}: FAILED: "
                            f"{text.clean(rec.error)}",
                            file=sys.stderr,
                        )
        conn = bench.reader()
        g = settings.gpu
        rows = gpu_nodes.node_rows(
            conn, kube.context, time.time(), g.busy_threshold, g.idle_minutes
        )
        for status in kube_store.watch_status(conn, kube.context).values():
            if status.state != "watching":
                print(f"partial: {text.clean(status.describe())}", file=sys.stderr)
    finally:
        bench.close()
    if args.format == "json":
        json.dump(
            {
                "context": kube.context,
                "server": text.redact(kube.server),
                "nodes": [_node_json(r) for r in rows],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 1 if failed else 0
    print(f"context {text.clean(kube.context)} ({text.clean(text.redact(kube.server))})")
    cols = ["NODE", "PRODUCT", "ALLOC", "IN-USE", "UTIL", "MEM", "TEMP", "POWER", "STATUS", "AGE"]
    table = [
        [
            text.clean(r.name, limit=40) + (" IDLE" if r.idle_but_allocated else ""),
            text.clean(r.gpu_product, limit=24),
            f"{r.allocated}/{'?' if r.allocatable is None else r.allocatable}",
            _num(r.in_use),
            _num(r.util, "%", 0),
            _gib(r.mem_used, r.mem_total),
            _num(r.temp, "C", 0),
            _num(r.power, "W", 0),
            text.clean(r.status, limit=16),
            timefmt.duration(int(r.age * 1000) if r.age is not None else None),
        ]
        for r in rows
    ]
    _print_columns(cols, table)
    if not rows:
        print("(no GPU nodes cached; run `mlopstui gpus --sync`)")
    for r in rows:
        if r.idle_but_allocated:
            pods = ", ".join(
                f"{text.clean(h.namespace)}/{text.clean(h.name)} ({h.gpus})" for h in r.holders
            )
            print(
                f"idle but allocated: {text.clean(r.name)}: held by {text.clean(pods, limit=200)}"
            )
    return 1 if failed else 0


def _num(value: float | int | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _gib(used: float | None, total: float | None) -> str:
    """'61/80G' from MiB."""
    if used is None or total is None:
        return "n/a"
    return f"{used / 1024:.0f}/{total / 1024:.0f}G"


def _node_json(r: Any) -> dict[str, Any]:
    return {
        "node": r.name,
        "gpu_product": r.gpu_product,
        "allocatable": r.allocatable,
        "allocated": r.allocated,
        "in_use": r.in_use,
        "util": r.util,
        "mem_used_mib": r.mem_used,
        "mem_total_mib": r.mem_total,
        "temp_c": r.temp,
        "power_w": r.power,
        "status": r.status,
        "taints": list(r.taints),
        "age_s": r.age,
        "idle_but_allocated": r.idle_but_allocated,
        "holders": [{"namespace": h.namespace, "pod": h.name, "gpus": h.gpus} for h in r.holders],
    }


# Exit statuses of the write commands: 0 done (or nothing to do), 1 failed or outcome unknown,
# 2 usage/config error, 3 refused (read-only, not allowed, cancelled) - nothing was sent.
REFUSED = 3


def _run_action(settings: Settings, args: argparse.Namespace, action: Any) -> int:
    """Prepare, confirm on the terminal (or --yes), run and report one action."""
    from mlopstui.actions import ActionRefused
    from mlopstui.adapters import SourceError
    from mlopstui.workbench import Workbench

    bench = Workbench(settings)
    pipeline = bench.pipeline  # its gate refuses read-only mode before anything is read
    try:
        try:
            plan = pipeline.prepare(action)
        except ActionRefused as exc:
            print(f"mlopstui: refused: {text.clean(str(exc))}", file=sys.stderr)
            return REFUSED
        except SourceError as exc:
            print(f"mlopstui: {text.clean(str(exc))}", file=sys.stderr)
            return 1
        if plan.noop:
            print(text.clean(plan.noop))
            return 0
        print(text.clean(plan.title))
        print(f"  source: {text.clean(plan.source_label)}")
        print(f"  target: {text.clean(action.target)}")
        print(f"  change: {text.clean(plan.before)}  ->  {text.clean(plan.after)}")
        for line in plan.details:
            print(f"  {text.clean(line)}")
        if not args.yes:
            if not sys.stdin.isatty():
                print("mlopstui: refused: not a terminal; pass --yes to confirm", file=sys.stderr)
                return REFUSED
            phrase = plan.confirm_phrase
            prompt = f"Type {phrase!r} to confirm: " if phrase else "Proceed? [y/N] "
            try:
                answer = input(prompt).strip()
            except EOFError:
                answer = ""
            if (answer != phrase) if phrase else (answer.lower() not in ("y", "yes")):
                print("cancelled; nothing was changed")
                return REFUSED
        outcome = pipeline.run(plan)
        where = f" (audit #{outcome.audit_id})" if outcome.audit_id else ""
        print(f"{outcome.status}: {text.clean(outcome.message)}{where}")
        if outcome.ok:
            return 0
        return REFUSED if outcome.status == "refused" else 1
    finally:
        bench.close()


def cmd_promote(settings: Settings, args: argparse.Namespace) -> int:
    """Point an alias at a version through the action pipeline."""
    from mlopstui.actions import mlflow_registry as registry

    return _run_action(settings, args, registry.promote(args.model, args.version, args.alias))


def cmd_rollback(settings: Settings, args: argparse.Namespace) -> int:
    """Point an alias back through the action pipeline."""
    from mlopstui.actions import mlflow_registry as registry

    return _run_action(settings, args, registry.rollback(args.model, args.alias))


def parse_since(value: str, now: float) -> float:
    """'30m', '2h', '7d', '45s' before `now`, or an ISO date/time (local time), as epoch s."""
    import re
    from datetime import datetime

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", value)
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match[2]]
        return now - float(match[1]) * unit
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"--since {value!r}: expected a duration like 30m, 2h, 7d or a date like 2026-11-01"
        ) from None


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    """Print the audit log (newest first)."""
    from mlopstui.cache.audit import AuditLog

    try:
        since = parse_since(args.since, time.time()) if args.since else None
    except ValueError as exc:
        print(f"mlopstui: {text.clean(str(exc))}", file=sys.stderr)
        return 2
    log = AuditLog()
    try:
        records = log.records(since=since, limit=max(1, args.limit))
        note = log.note
    finally:
        log.close()
    if note:  # a damaged log was moved aside: say where the history went
        print(f"mlopstui: {text.clean(note)}", file=sys.stderr)
    if args.format == "json":
        json.dump([r.as_dict() for r in records], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    cols = ["ID", "TIME", "USER", "ACTION", "TARGET", "CHANGE", "OUTCOME", "MESSAGE"]
    table = []
    for r in records:
        state = r.state
        table.append(
            [
                str(r.id),
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started)),
                text.clean(r.user, limit=16),
                text.clean(r.action, limit=24),
                text.clean(r.target, limit=48),
                text.clean(f"{r.before} -> {r.after}", limit=40),
                "unknown - verify" if state == "unknown" else state,
                text.clean(r.message or "", limit=80),
            ]
        )
    _print_columns(cols, table)
    if not records:
        print("(no audit records" + (" in that period)" if since else ")"))
    return 0


COMMANDS = {
    "ui": cmd_ui,
    "sync": cmd_sync,
    "runs": cmd_runs,
    "doctor": cmd_doctor,
    "demo": cmd_demo,
    "plugins": cmd_plugins,
    "promote": cmd_promote,
    "rollback": cmd_rollback,
    "audit": cmd_audit,
    "gpus": cmd_gpus,
}
