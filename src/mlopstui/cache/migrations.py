"""Numbered schema migrations, keyed on `PRAGMA user_version`. Append only; never edit one
that has shipped.

Shape: runs keep their attributes as columns (indexed for the sorts people use); params,
latest metrics and tags live in long tables keyed by the run's integer rowid, indexed by
(key, value) so `metrics.acc > 0.9` and a sort by a metric read an index, not 1M rows; an FTS5
trigram index answers plain-text search over names and tags.
"""

from __future__ import annotations

_SORTED = ("name", "status", "start_time", "end_time", "duration", "user", "source")

_V1 = """
CREATE TABLE experiments (
    experiment_id     TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    lifecycle         TEXT NOT NULL DEFAULT 'active',
    artifact_location TEXT NOT NULL DEFAULT '',
    creation_time     INTEGER,
    last_update_time  INTEGER,
    tags              TEXT NOT NULL DEFAULT '{}',
    run_count         INTEGER NOT NULL DEFAULT 0,
    last_activity     INTEGER
);
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    run_id        TEXT NOT NULL UNIQUE,
    experiment_id TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT '',
    start_time    INTEGER,
    end_time      INTEGER,
    duration      INTEGER,
    user          TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    lifecycle     TEXT NOT NULL DEFAULT 'active',
    artifact_uri  TEXT NOT NULL DEFAULT '',
    parent_run_id TEXT,
    synced_at     REAL
);
CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_running ON runs(status) WHERE status = 'RUNNING';
{sort_indexes}
CREATE TABLE params (
    run   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE INDEX params_kv ON params(key, value);
CREATE TABLE metrics (
    run       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     REAL,
    step      INTEGER NOT NULL DEFAULT 0,
    timestamp INTEGER NOT NULL DEFAULT 0,
    min       REAL,
    max       REAL,
    PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE INDEX metrics_kv ON metrics(key, value);
CREATE TABLE tags (
    run   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE INDEX tags_kv ON tags(key, value);
CREATE VIRTUAL TABLE runs_fts USING fts5(text, tokenize = 'trigram');
CREATE TABLE metric_history (
    run       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value     REAL,
    PRIMARY KEY (run, key, step, timestamp)
) WITHOUT ROWID;
CREATE TABLE sync_runs (
    id       INTEGER PRIMARY KEY,
    source   TEXT NOT NULL,
    topic    TEXT NOT NULL,
    started  REAL NOT NULL,
    finished REAL,
    ok       INTEGER NOT NULL DEFAULT 0,
    error    TEXT,
    rows     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sync_runs_source ON sync_runs(source, finished);
CREATE TABLE sync_state (
    source TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
-- Which param/metric/tag keys each experiment has, for the column chooser (a DISTINCT over
-- the long tables would read every row at 1M runs).
CREATE TABLE run_keys (
    experiment_id TEXT NOT NULL,
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    PRIMARY KEY (experiment_id, kind, key)
) WITHOUT ROWID;
CREATE TABLE view_state (
    scope TEXT PRIMARY KEY,
    state TEXT NOT NULL
) WITHOUT ROWID;
"""


def _sort_indexes() -> str:
    lines = []
    for col in _SORTED:
        lines.append(f"CREATE INDEX runs_by_{col} ON runs({col}, id);")
        lines.append(f"CREATE INDEX runs_exp_by_{col} ON runs(experiment_id, {col}, id);")
    return "\n".join(lines)


# v2: the model registry. Aliases live on the model (alias -> version, as JSON); the
# history of alias moves is kept here because MLflow keeps none. The durable record of what
# this tool did is the audit log (its own database), not this rebuildable cache.
_V2 = """
CREATE TABLE registered_models (
    name           TEXT PRIMARY KEY,
    description    TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT '{}',
    aliases        TEXT NOT NULL DEFAULT '{}',
    latest_version TEXT,
    version_count  INTEGER NOT NULL DEFAULT 0,
    creation_time  INTEGER,
    last_updated   INTEGER
) WITHOUT ROWID;
CREATE TABLE model_versions (
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    version_num   INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT '',
    run_id        TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    creation_time INTEGER,
    last_updated  INTEGER,
    description   TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (name, version_num, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_run ON model_versions(run_id);
CREATE TABLE alias_history (
    id           INTEGER PRIMARY KEY,
    model        TEXT NOT NULL,
    alias        TEXT NOT NULL,
    from_version TEXT,
    to_version   TEXT,
    at           REAL NOT NULL,
    who          TEXT NOT NULL DEFAULT '',
    how          TEXT NOT NULL
);
CREATE INDEX alias_history_model ON alias_history(model, alias, id);
"""

# v3: GPU nodes. Kubernetes objects of the pinned context (kept current by watches), GPU
# devices and their samples (DCGM from Prometheus, NVML for this host) and allocation
# snapshots, both kept as history with retention so the pane can step back in time.
_V3 = """
CREATE TABLE kube_nodes (
    context          TEXT NOT NULL,
    name             TEXT NOT NULL,
    gpu_product      TEXT NOT NULL DEFAULT '',
    gpu_capacity     INTEGER NOT NULL DEFAULT 0,
    gpu_allocatable  INTEGER NOT NULL DEFAULT 0,
    ready            TEXT NOT NULL DEFAULT 'Unknown',
    unschedulable    INTEGER NOT NULL DEFAULT 0,
    taints           TEXT NOT NULL DEFAULT '[]',
    labels           TEXT NOT NULL DEFAULT '{}',
    conditions       TEXT NOT NULL DEFAULT '[]',
    created          REAL,
    resource_version TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (context, name)
) WITHOUT ROWID;
CREATE TABLE kube_pods (
    context     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    node        TEXT NOT NULL DEFAULT '',
    phase       TEXT NOT NULL DEFAULT '',
    gpu_request INTEGER NOT NULL DEFAULT 0,
    owner_kind  TEXT NOT NULL DEFAULT '',
    owner_name  TEXT NOT NULL DEFAULT '',
    run_id      TEXT NOT NULL DEFAULT '',
    created     REAL,
    PRIMARY KEY (context, namespace, name)
) WITHOUT ROWID;
CREATE INDEX kube_pods_node ON kube_pods(context, node);
CREATE TABLE kube_events (
    context       TEXT NOT NULL,
    namespace     TEXT NOT NULL,
    name          TEXT NOT NULL,
    object_kind   TEXT NOT NULL DEFAULT '',
    object_name   TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT '',
    count         INTEGER NOT NULL DEFAULT 1,
    last_seen     REAL,
    PRIMARY KEY (context, namespace, name)
) WITHOUT ROWID;
CREATE INDEX kube_events_object ON kube_events(context, object_kind, object_name);
CREATE TABLE gpu_devices (
    host      TEXT NOT NULL,
    uuid      TEXT NOT NULL,
    gpu_index INTEGER NOT NULL DEFAULT 0,
    product   TEXT NOT NULL DEFAULT '',
    source    TEXT NOT NULL,
    last_seen REAL,
    error     TEXT,
    PRIMARY KEY (host, uuid)
) WITHOUT ROWID;
CREATE TABLE gpu_samples (
    host      TEXT NOT NULL,
    uuid      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    util      REAL,
    mem_used  REAL,
    mem_total REAL,
    temp      REAL,
    power     REAL,
    PRIMARY KEY (host, uuid, at)
) WITHOUT ROWID;
CREATE INDEX gpu_samples_at ON gpu_samples(at);
-- The GPU processes of a host as last seen (NVML); replaced whole on every sample.
CREATE TABLE gpu_processes (
    host      TEXT NOT NULL,
    uuid      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    gpu_index INTEGER NOT NULL DEFAULT 0,
    kind      TEXT NOT NULL DEFAULT 'C',
    user      TEXT NOT NULL DEFAULT '',
    command   TEXT NOT NULL DEFAULT '',
    used_mem  REAL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (host, uuid, pid)
) WITHOUT ROWID;
-- A node's allocation and state, written when any of it changes (so the newest row at or
-- before a time is the node's state then); present = 0 marks a node that was deleted.
CREATE TABLE gpu_allocations (
    context       TEXT NOT NULL,
    node          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    allocated     INTEGER NOT NULL,
    pods          TEXT NOT NULL DEFAULT '[]',
    allocatable   INTEGER,
    ready         TEXT NOT NULL DEFAULT 'Unknown',
    unschedulable INTEGER NOT NULL DEFAULT 0,
    present       INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (context, node, at)
) WITHOUT ROWID;
CREATE INDEX gpu_allocations_at ON gpu_allocations(at);
"""

_V4 = """
-- Plugin sources' records: one row per (source, kind, key) holding a JSON object, so a team's
-- source stores its data without a migration of its own (cache/records.py).
CREATE TABLE source_records (
    source  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (source, kind, key)
) WITHOUT ROWID;
"""

# v5: MLflow's search semantics. A NaN metric is kept as a NaN (SQLite stores a NaN REAL as
# NULL, which read as "no value"): value NULL with is_nan = 1, so `!=` matches it and a sort
# puts it after the numbers, as MLflow does. A run's dataset inputs, for `dataset.*` filters
# and the run detail. The default order's tie-break is run_id (MLflow's), not the rowid.
# Runs synced before v5 have no datasets until their next sync re-reads them.
_V5 = """
ALTER TABLE metrics ADD COLUMN is_nan INTEGER NOT NULL DEFAULT 0;
-- Before v5 a NULL value could only come from a NaN.
UPDATE metrics SET is_nan = 1 WHERE value IS NULL;
CREATE TABLE run_datasets (
    run     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    digest  TEXT NOT NULL DEFAULT '',
    context TEXT
);
CREATE INDEX run_datasets_run ON run_datasets(run);
{order_indexes}
"""


def _order_indexes() -> str:
    """MLflow breaks ties by start_time DESC, then run_id: the sort indexes end with both, in
    the direction each column is sorted by default (name, user and source ascending, the
    others descending), so a first page reads an index instead of sorting 1M runs. The other
    direction reads the same index and sorts each group of equal values."""
    lines = [f"DROP INDEX runs_by_{c};\nDROP INDEX runs_exp_by_{c};" for c in _SORTED]
    for scope, prefix in (("runs_by", ""), ("runs_exp_by", "experiment_id, ")):
        lines.append(f"CREATE INDEX {scope}_start_time ON runs({prefix}start_time DESC, run_id);")
        lines.append(
            f"CREATE INDEX {scope}_start_time_asc "
            f"ON runs({prefix}start_time IS NULL, start_time, run_id);"
        )
        for col in _SORTED:
            if col == "start_time":
                continue
            start = "start_time DESC" if col in ("name", "user", "source") else "start_time"
            lines.append(f"CREATE INDEX {scope}_{col} ON runs({prefix}{col}, {start}, run_id);")
    return "\n".join(lines)


MIGRATIONS: list[str] = [
    _V1.replace("{sort_indexes}", _sort_indexes()),
    _V2,
    _V3,
    _V4,
    _V5.replace("{order_indexes}", _order_indexes()),
]
