"""Corpus of MLflow ``search_runs`` filter strings and ``order_by`` clauses.

Used by a differential conformance test: every case is sent both to a real
MLflow 3.17.2 tracking server and to the mlopstui cache, and the results (run
ids and their order) or the rejection (INVALID_PARAMETER_VALUE) are compared.

No expected results are recorded here on purpose: the real server is the oracle.

Sources (mlflow/mlflow on GitHub):
- tests/utils/test_search_utils.py
- tests/store/tracking/test_sqlalchemy_store.py
- docs/docs/classic-ml/search/search-runs/index.mdx
  (https://mlflow.org/docs/latest/ml/search/search-runs)

Cases whose source suffix is " (rewritten)" were moved onto the vocabulary the
test seeds the server with (metrics acc/loss/m/a.b/`with space`/step_metric,
params lr/model/p/only_some, tags env/team/t/note/only_some/mlflow.*,
datasets train-set/eval_set/Train-Set, ...).  Cases without the suffix are
verbatim from the source (they mostly probe parsing and usually match nothing).

``{RUN_ID_0}``, ``{RUN_ID_1}``, ``{RUN_ID_2}`` are placeholders that the test
substitutes with real run ids before sending the request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    filter: str  # the filter string ("" allowed)
    order_by: tuple[str, ...] = ()
    source: str = ""  # where it came from


_SU = "test_search_utils.py::"
_SQ = "test_sqlalchemy_store.py::"
_DOC = "docs: search-runs"
_RW = " (rewritten)"
_REVIEW = "review of the cache's port"
_EXTRA = "corpus: coverage"  # built from the documented grammar to cover a gap

CASES: list[Case] = [
    # ------------------------------------------------------------------
    # test_search_utils.py::test_filter (verbatim parse cases)
    # ------------------------------------------------------------------
    Case("metric.acc >= 0.94", source=_SU + "test_filter"),
    Case("metric.acc>=100", source=_SU + "test_filter"),
    Case("params.m!='tf'", source=_SU + "test_filter"),
    Case('params."m"!="tf"', source=_SU + "test_filter"),
    Case('metric."legit name" >= 0.243', source=_SU + "test_filter"),
    Case("metrics.XYZ = 3", source=_SU + "test_filter"),
    Case('params."cat dog" = "pets"', source=_SU + "test_filter"),
    Case('metrics."X-Y-Z" = 3', source=_SU + "test_filter"),
    Case('metrics."X//Y#$$@&Z" = 3', source=_SU + "test_filter"),
    Case("params.model = 'LinearRegression'", source=_SU + "test_filter"),
    Case("metrics.rmse < 1 and params.model_class = 'LR'", source=_SU + "test_filter"),
    Case("", source=_SU + "test_filter"),
    Case("`metric`.a >= 0.1", source=_SU + "test_filter"),
    Case("`params`.model >= 'LR'", source=_SU + "test_filter"),
    Case("tags.version = 'commit-hash'", source=_SU + "test_filter"),
    Case("`tags`.source_name = 'a notebook'", source=_SU + "test_filter"),
    Case('metrics."accuracy.2.0" > 5', source=_SU + "test_filter"),
    Case("metrics.`spacey name` > 5", source=_SU + "test_filter"),
    Case('params."p.a.r.a.m" != "a"', source=_SU + "test_filter"),
    Case('tags."t.a.g" = "a"', source=_SU + "test_filter"),
    Case("attribute.artifact_uri = '1/23/4'", source=_SU + "test_filter"),
    Case("attribute.start_time >= 1234", source=_SU + "test_filter"),
    Case("run.status = 'RUNNING'", source=_SU + "test_filter"),
    Case("dataset.name = 'my_dataset'", source=_SU + "test_filter"),
    Case("tags.version IS NULL", source=_SU + "test_filter"),
    Case("tags.version IS NOT NULL", source=_SU + "test_filter"),
    Case("params.lr IS NULL", source=_SU + "test_filter"),
    Case("params.lr IS NOT NULL", source=_SU + "test_filter"),
    Case("tags.a IS NULL AND params.b = 'val'", source=_SU + "test_filter"),
    # test_filter, rewritten onto the seeded vocabulary
    Case("metric.acc >= 0.5", source=_SU + "test_filter" + _RW),
    Case("metric.acc>=0", source=_SU + "test_filter" + _RW),
    Case("params.model!='tree'", source=_SU + "test_filter" + _RW),
    Case('params."model"!="tree"', source=_SU + "test_filter" + _RW),
    Case('metric."with space" >= 0', source=_SU + "test_filter" + _RW),
    Case("metrics.loss = 3", source=_SU + "test_filter" + _RW),
    Case('metrics."a.b" = 3', source=_SU + "test_filter" + _RW),
    Case("params.model = 'tree'", source=_SU + "test_filter" + _RW),
    Case("metrics.loss < 1 and params.model = 'tree'", source=_SU + "test_filter" + _RW),
    Case("`metric`.acc >= 0.1", source=_SU + "test_filter" + _RW),
    Case("`params`.model >= 'tree'", source=_SU + "test_filter" + _RW),
    Case("tags.env = 'prod'", source=_SU + "test_filter" + _RW),
    Case("`tags`.team = 'nlp'", source=_SU + "test_filter" + _RW),
    Case('metrics."a.b" > 0', source=_SU + "test_filter" + _RW),
    Case("metrics.`with space` > 0", source=_SU + "test_filter" + _RW),
    Case('params."model" != "linear"', source=_SU + "test_filter" + _RW),
    Case('tags."mlflow.source.type" = "LOCAL"', source=_SU + "test_filter" + _RW),
    Case("attribute.start_time >= 1700000005000", source=_SU + "test_filter" + _RW),
    Case("run.status = 'FINISHED'", source=_SU + "test_filter" + _RW),
    Case("dataset.name = 'train-set'", source=_SU + "test_filter" + _RW),
    Case("tags.only_some IS NULL", source=_SU + "test_filter" + _RW),
    Case("tags.only_some IS NOT NULL", source=_SU + "test_filter" + _RW),
    Case("params.only_some IS NULL", source=_SU + "test_filter" + _RW),
    Case("params.only_some IS NOT NULL", source=_SU + "test_filter" + _RW),
    Case("tags.only_some IS NULL AND params.model = 'tree'", source=_SU + "test_filter" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_correct_quote_trimming
    # ------------------------------------------------------------------
    Case("params.m = 'LR'", source=_SU + "test_correct_quote_trimming"),
    Case('params.m = "LR"', source=_SU + "test_correct_quote_trimming"),
    Case('params.m = "L\'Hosp"', source=_SU + "test_correct_quote_trimming"),
    Case("params.model = 'linear'", source=_SU + "test_correct_quote_trimming" + _RW),
    Case('params.model = "linear"', source=_SU + "test_correct_quote_trimming" + _RW),
    Case('params.p = "it\'s"', source=_SU + "test_correct_quote_trimming" + _RW),
    Case('tags.t = "it\'s"', source=_SU + "test_correct_quote_trimming" + _RW),
    Case("params.p = 'it''s'", source=_SU + "test_correct_quote_trimming" + _RW),
    Case("params.p = 'it\\'s'", source=_SU + "test_correct_quote_trimming" + _RW),
    Case("tags.t = 'it\\'s'", source=_SU + "test_correct_quote_trimming" + _RW),
    Case('params.p LIKE "it\'%"', source=_SU + "test_correct_quote_trimming" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_error_filter (verbatim refusals)
    # ------------------------------------------------------------------
    Case("metric.acc >= 0.94; metrics.rmse < 1", source=_SU + "test_error_filter"),
    Case("m.acc >= 0.94", source=_SU + "test_error_filter"),
    Case("acc >= 0.94", source=_SU + "test_error_filter"),
    Case("p.model >= 'LR'", source=_SU + "test_error_filter"),
    Case("attri.x != 1", source=_SU + "test_error_filter"),
    Case("a.x != 1", source=_SU + "test_error_filter"),
    Case("model >= 'LR'", source=_SU + "test_error_filter"),
    Case("metrics.A > 0.1 OR params.B = 'LR'", source=_SU + "test_error_filter"),
    Case("metrics.A > 0.1 NAND params.B = 'LR'", source=_SU + "test_error_filter"),
    Case("metrics.A > 0.1 AND (params.B = 'LR')", source=_SU + "test_error_filter"),
    Case("`metrics.A > 0.1", source=_SU + "test_error_filter"),
    Case("param`.A > 0.1", source=_SU + "test_error_filter"),
    Case("`dummy.A > 0.1", source=_SU + "test_error_filter"),
    Case("dummy`.A > 0.1", source=_SU + "test_error_filter"),
    Case("attribute.start != 1", source=_SU + "test_error_filter"),
    Case("attribute.experiment_id != 1", source=_SU + "test_error_filter"),
    Case("attribute.lifecycle_stage = 'ACTIVE'", source=_SU + "test_error_filter"),
    Case("attribute.name != 1", source=_SU + "test_error_filter"),
    Case("attribute.time != 1", source=_SU + "test_error_filter"),
    Case("attribute._status != 'RUNNING'", source=_SU + "test_error_filter"),
    Case("attribute.status = true", source=_SU + "test_error_filter"),
    Case("dataset.status = 'true'", source=_SU + "test_error_filter"),
    Case("dataset.profile = 'num_rows: 10'", source=_SU + "test_error_filter"),
    Case("metrics.acc IS NULL", source=_SU + "test_error_filter"),
    Case("attribute.status IS NULL", source=_SU + "test_error_filter"),
    # rewritten refusals (keys that exist, so only the syntax can reject them)
    Case("metric.acc >= 0.5; metrics.loss < 1", source=_SU + "test_error_filter" + _RW),
    Case("metrics.acc > 0.1 OR params.model = 'tree'", source=_SU + "test_error_filter" + _RW),
    Case("metrics.acc > 0.1 or params.model = 'tree'", source=_SU + "test_error_filter" + _RW),
    Case("metrics.acc > 0.1 AND (params.model = 'tree')", source=_SU + "test_error_filter" + _RW),
    Case("(metrics.acc > 0.1)", source=_SU + "test_error_filter" + _RW),
    Case("(metrics.acc > 0.1 AND params.model = 'tree')", source=_SU + "test_error_filter" + _RW),
    Case("`metrics.acc > 0.1", source=_SU + "test_error_filter" + _RW),
    Case("metrics`.acc > 0.1", source=_SU + "test_error_filter" + _RW),
    Case("attributes.lifecycle_stage = 'active'", source=_SU + "test_error_filter" + _RW),
    Case("attributes.experiment_id = '0'", source=_SU + "test_error_filter" + _RW),
    Case("attributes.deleted_time > 0", source=_SU + "test_error_filter" + _RW),
    Case("attribute.status = FAILED", source=_SU + "test_error_filter" + _RW),
    Case("datasets.profile = 'x'", source=_SU + "test_error_filter" + _RW),
    Case("datasets.source = 'x'", source=_SU + "test_error_filter" + _RW),
    Case("metrics.m IS NULL", source=_SU + "test_error_filter" + _RW),
    Case("metrics.m IS NOT NULL", source=_SU + "test_error_filter" + _RW),
    Case("attributes.status IS NOT NULL", source=_SU + "test_error_filter" + _RW),
    Case("attributes.end_time IS NULL", source=_SU + "test_error_filter" + _RW),
    Case("attributes.run_name IS NULL", source=_SU + "test_error_filter" + _RW),
    Case("datasets.name IS NULL", source=_SU + "test_error_filter" + _RW),
    Case("datasets.context IS NULL", source=_SU + "test_error_filter" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_error_comparison_clauses
    # ------------------------------------------------------------------
    Case("metric.model = 'LR'", source=_SU + "test_error_comparison_clauses"),
    Case("metric.model = '5'", source=_SU + "test_error_comparison_clauses"),
    Case("params.acc = 5", source=_SU + "test_error_comparison_clauses"),
    Case("tags.acc = 5", source=_SU + "test_error_comparison_clauses"),
    Case("metrics.acc != metrics.acc", source=_SU + "test_error_comparison_clauses"),
    Case("1.0 > metrics.acc", source=_SU + "test_error_comparison_clauses"),
    Case("attribute.status = 1", source=_SU + "test_error_comparison_clauses"),
    Case("metrics.acc = '0.5'", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("metrics.m = 'NaN'", source=_SU + "test_error_comparison_clauses" + _RW),
    Case('metrics.m = "nan"', source=_SU + "test_error_comparison_clauses" + _RW),
    Case("metrics.m = NaN", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("metrics.m > 'inf'", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("params.lr = 0.01", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("tags.env = 1", source=_SU + "test_error_comparison_clauses" + _RW),
    Case(
        "attributes.start_time = '1700000000000'",
        source=_SU + "test_error_comparison_clauses" + _RW,
    ),  # noqa: E501
    Case("attributes.user_id = 1", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("metrics.acc != metrics.loss", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("0.5 < metrics.acc", source=_SU + "test_error_comparison_clauses" + _RW),
    Case("'tree' = params.model", source=_SU + "test_error_comparison_clauses" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_bad_quotes
    # ------------------------------------------------------------------
    Case("params.acc = LR", source=_SU + "test_bad_quotes"),
    Case("tags.acc = LR", source=_SU + "test_bad_quotes"),
    Case("params.acc = `LR`", source=_SU + "test_bad_quotes"),
    Case("params.'acc = LR", source=_SU + "test_bad_quotes"),
    Case("params.acc = 'LR", source=_SU + "test_bad_quotes"),
    Case("params.acc = LR'", source=_SU + "test_bad_quotes"),
    Case("params.acc = \"LR'", source=_SU + "test_bad_quotes"),
    Case("tags.acc = \"LR'", source=_SU + "test_bad_quotes"),
    Case("tags.acc = = 'LR'", source=_SU + "test_bad_quotes"),
    Case("attribute.status IS 'RUNNING'", source=_SU + "test_bad_quotes"),
    Case("params.model = tree", source=_SU + "test_bad_quotes" + _RW),
    Case("tags.env = prod", source=_SU + "test_bad_quotes" + _RW),
    Case("params.model = `tree`", source=_SU + "test_bad_quotes" + _RW),
    Case("tags.`env` = `prod`", source=_DOC + _RW),
    Case("tags.`env` = prod", source=_DOC + _RW),
    Case("params.'model' = 'tree'", source=_DOC + _RW),
    Case("tags.'env' = 'prod'", source=_DOC + _RW),
    Case("params.model = 'tree", source=_SU + "test_bad_quotes" + _RW),
    Case("params.model = tree'", source=_SU + "test_bad_quotes" + _RW),
    Case("params.model = \"tree'", source=_SU + "test_bad_quotes" + _RW),
    Case('tags.env = "prod', source=_SU + "test_bad_quotes" + _RW),
    Case("tags.env = = 'prod'", source=_SU + "test_bad_quotes" + _RW),
    Case("attributes.status IS 'FAILED'", source=_SU + "test_bad_quotes" + _RW),
    Case("metrics.`acc > 0.5", source=_SU + "test_bad_quotes" + _RW),
    Case('metrics."acc > 0.5', source=_SU + "test_bad_quotes" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_invalid_clauses
    # ------------------------------------------------------------------
    Case("params.acc LR !=", source=_SU + "test_invalid_clauses"),
    Case("params.acc LR", source=_SU + "test_invalid_clauses"),
    Case("metric.acc !=", source=_SU + "test_invalid_clauses"),
    Case("acc != 1.0", source=_SU + "test_invalid_clauses"),
    Case("foo is null", source=_SU + "test_invalid_clauses"),
    Case("1=1", source=_SU + "test_invalid_clauses"),
    Case("1==2", source=_SU + "test_invalid_clauses"),
    Case("params.model tree !=", source=_SU + "test_invalid_clauses" + _RW),
    Case("params.model", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc >", source=_SU + "test_invalid_clauses" + _RW),
    Case("loss != 1.0", source=_SU + "test_invalid_clauses" + _RW),
    Case("env is null", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc > 0.5 AND", source=_SU + "test_invalid_clauses" + _RW),
    Case("AND metrics.acc > 0.5", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc > 0.5 AND AND metrics.loss < 1", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc > 0.5 garbage", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc > 0.5 0.7", source=_SU + "test_invalid_clauses" + _RW),
    Case("params.model = 'tree' 'linear'", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc > 0.5 metrics.loss < 1", source=_SU + "test_invalid_clauses" + _RW),
    Case("NOT metrics.acc > 0.5", source=_SU + "test_invalid_clauses" + _RW),
    Case("NOT params.model = 'tree'", source=_SU + "test_invalid_clauses" + _RW),
    Case("params.model NOT LIKE 'tree%'", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc BETWEEN 0.1 AND 0.5", source=_DOC + _RW),
    Case("metrics.acc > 0.5;", source=_SU + "test_error_filter" + _RW),
    Case("params.model = 'tree'; DROP TABLE runs", source=_SU + "test_error_filter" + _RW),
    Case("metrics.acc == 0.5", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc <> 0.5", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.acc => 0.5", source=_SU + "test_invalid_clauses" + _RW),
    Case("tags.", source=_SU + "test_invalid_clauses" + _RW),
    Case("tags. = 'prod'", source=_SU + "test_invalid_clauses" + _RW),
    Case(".env = 'prod'", source=_SU + "test_invalid_clauses" + _RW),
    Case("tags.env.x = 'prod'", source=_SU + "test_invalid_clauses" + _RW),
    Case("metrics.a.b > 0", source=_SU + "test_invalid_clauses" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_bad_comparators (expanded, verbatim keys)
    # ------------------------------------------------------------------
    Case("metrics.abc ~ 1.0", source=_SU + "test_bad_comparators"),
    Case("metrics.abc ~= 1.0", source=_SU + "test_bad_comparators"),
    Case("params.abc > 'my-param-value'", source=_SU + "test_bad_comparators"),
    Case("params.abc < 'my-param-value'", source=_SU + "test_bad_comparators"),
    Case("params.abc >= 'my-param-value'", source=_SU + "test_bad_comparators"),
    Case("params.abc <= 'my-param-value'", source=_SU + "test_bad_comparators"),
    Case("params.abc ~ 'my-param-value'", source=_SU + "test_bad_comparators"),
    Case("tags.abc > 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("tags.abc < 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("tags.abc >= 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("tags.abc <= 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("tags.abc ~ 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("attributes.status > 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("attributes.status < 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("attributes.status >= 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("attributes.status <= 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("attributes.status ~ 'my-tag-value'", source=_SU + "test_bad_comparators"),
    Case("attributes.start_time LIKE 1234", source=_SU + "test_bad_comparators"),
    Case("attributes.start_time ILIKE 1234", source=_SU + "test_bad_comparators"),
    Case("datasets.name > 'my-dataset-name'", source=_SU + "test_bad_comparators"),
    Case("datasets.name < 'my-dataset-name'", source=_SU + "test_bad_comparators"),
    Case("datasets.name >= 'my-dataset-name'", source=_SU + "test_bad_comparators"),
    Case("datasets.name <= 'my-dataset-name'", source=_SU + "test_bad_comparators"),
    Case("datasets.name ~ 'my-dataset-name'", source=_SU + "test_bad_comparators"),
    # bad comparators on the seeded vocabulary
    Case("params.p > '1'", source=_SU + "test_bad_comparators" + _RW),
    Case("params.lr >= '0.01'", source=_SU + "test_bad_comparators" + _RW),
    Case("tags.env < 'staging'", source=_SU + "test_bad_comparators" + _RW),
    Case("attributes.status > 'FAILED'", source=_SU + "test_bad_comparators" + _RW),
    Case("attributes.run_name >= 'bert'", source=_SU + "test_bad_comparators" + _RW),
    Case("attributes.user_id < 'bob'", source=_SU + "test_bad_comparators" + _RW),
    Case("attributes.start_time LIKE 1700000000000", source=_SU + "test_bad_comparators" + _RW),
    Case("attributes.end_time ILIKE '17%'", source=_SU + "test_bad_comparators" + _RW),
    Case("datasets.digest > 'abc123'", source=_SU + "test_bad_comparators" + _RW),
    Case("metrics.acc LIKE 0.5", source=_SU + "test_bad_comparators" + _RW),
    Case("metrics.acc LIKE '0.5%'", source=_SU + "test_bad_comparators" + _RW),
    Case("metrics.acc ILIKE '%'", source=_SU + "test_bad_comparators" + _RW),
    # ------------------------------------------------------------------
    # IN / NOT IN: valid on attributes.run_id and datasets.*, refused elsewhere
    # ------------------------------------------------------------------
    Case("tags.env IN ('prod', 'staging')", source=_DOC + _RW),
    Case("params.model IN ('tree', 'linear')", source=_DOC + _RW),
    Case("metrics.acc IN (0.5, 0.9)", source=_DOC + _RW),
    Case("attributes.status IN ('FAILED', 'KILLED')", source=_DOC + _RW),
    Case("attributes.run_name IN ('resnet')", source=_DOC + _RW),
    Case("attributes.user_id IN ('alice', 'bob')", source=_DOC + _RW),
    Case("tags.env NOT IN ('prod')", source=_DOC + _RW),
    Case("attributes.start_time IN (1700000000000)", source=_DOC + _RW),
    Case("attributes.run_id IN ('{RUN_ID_0}')", source=_SQ + "test_search_runs_run_id" + _RW),
    Case("attributes.run_id NOT IN ('{RUN_ID_0}')", source=_SQ + "test_search_runs_run_id" + _RW),
    Case(
        "attributes.run_id IN ('{RUN_ID_0}','{RUN_ID_1}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case(
        "attributes.run_id IN ('{RUN_ID_0}', '{RUN_ID_1}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case(
        "attributes.run_id IN ('{RUN_ID_0}',  '{RUN_ID_1}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case(
        "attributes.run_id NOT IN ('{RUN_ID_0}', '{RUN_ID_1}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case("attributes.run_id = '{RUN_ID_0}'", source=_SQ + "test_search_runs_run_id" + _RW),
    Case("attributes.run_id != '{RUN_ID_0}'", source=_SQ + "test_search_runs_run_id" + _RW),
    Case(
        "run_name = 'resnet' AND run_id IN ('{RUN_ID_0}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case(
        "run_id IN ('{RUN_ID_0}', '{RUN_ID_1}', '{RUN_ID_2}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case("run_id = '{RUN_ID_2}'", source=_SQ + "test_search_runs_run_id" + _RW),
    Case(
        "attributes.run_id in ('{RUN_ID_0}', '{RUN_ID_1}')",
        source=_SQ + "test_search_runs_run_id" + _RW,
    ),  # noqa: E501
    Case("attributes.run_id not in ('{RUN_ID_0}')", source=_SQ + "test_search_runs_run_id" + _RW),
    Case("attributes.run_id In ('{RUN_ID_0}')", source=_SQ + "test_search_runs_run_id" + _RW),
    Case('attributes.run_id IN ("{RUN_ID_0}", "{RUN_ID_1}")', source=_DOC + _RW),
    Case("attributes.run_id IN ('{RUN_ID_0}'", source=_DOC + _RW),
    Case("attributes.run_id IN '{RUN_ID_0}'", source=_DOC + _RW),
    Case("attributes.run_id IN ()", source=_DOC + _RW),
    Case("attributes.run_id LIKE '%'", source=_DOC + _RW),
    Case(
        "attributes.run_id IN ('{RUN_ID_0}', 'ffffffffffffffffffffffffffffffff')", source=_DOC + _RW
    ),  # noqa: E501
    Case(
        "attributes.run_id IN ('{RUN_ID_0}', '{RUN_ID_1}') AND metrics.acc > 0",
        source=_DOC + _RW,
    ),
    Case("attributes.run_id IN ('5984a3488161440f92de9847e846b342')", source=_DOC),
    Case(
        'attributes.run_id IN ("5984a3488161440f92de9847e846b342", '
        '"babe221a676b4fa4b204f8240f2c4f14")',
        source=_DOC,
    ),
    Case(
        "attributes.run_id IN ('5984a3488161440f92de9847e846b342', "
        "'babe221a676b4fa4b204f8240f2c4f14')",
        source=_DOC,
    ),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_correct_filtering (+ rewritten)
    # ------------------------------------------------------------------
    Case("attributes.status = 'FAILED'", source=_SU + "test_correct_filtering"),
    Case("metrics.key1 = 123", source=_SU + "test_correct_filtering"),
    Case("metrics.key1 != 123", source=_SU + "test_correct_filtering"),
    Case("metrics.key1 >= 123", source=_SU + "test_correct_filtering"),
    Case("params.my_param = 'A'", source=_SU + "test_correct_filtering"),
    Case("tags.tag1 = 'D'", source=_SU + "test_correct_filtering"),
    Case("tags.tag1 != 'D'", source=_SU + "test_correct_filtering"),
    Case(
        "params.my_param = 'A' AND attributes.status = 'FAILED'",
        source=_SU + "test_correct_filtering",
    ),  # noqa: E501
    Case("datasets.name = 'name1'", source=_SU + "test_correct_filtering"),
    Case("datasets.name IN ('name1', 'name2')", source=_SU + "test_correct_filtering"),
    Case("datasets.digest IN ('digest1', 'digest2')", source=_SU + "test_correct_filtering"),
    Case(
        "datasets.name = 'name1' AND datasets.digest = 'digest2'",
        source=_SU + "test_correct_filtering",
    ),  # noqa: E501
    Case("datasets.context = 'train'", source=_SU + "test_correct_filtering"),
    Case(
        "datasets.name = 'name1' AND datasets.context = 'train'",
        source=_SU + "test_correct_filtering",
    ),  # noqa: E501
    Case("metrics.acc = 0.5", source=_SU + "test_correct_filtering" + _RW),
    Case("metrics.acc != 0.5", source=_SU + "test_correct_filtering" + _RW),
    Case("metrics.acc >= 0.5", source=_SU + "test_correct_filtering" + _RW),
    Case("params.p = 'A'", source=_SU + "test_correct_filtering" + _RW),
    Case("params.p = 'a'", source=_SU + "test_correct_filtering" + _RW),
    Case("tags.t = 'A'", source=_SU + "test_correct_filtering" + _RW),
    Case("tags.t != 'a'", source=_SU + "test_correct_filtering" + _RW),
    Case(
        "params.p = 'a' AND attributes.status = 'FAILED'",
        source=_SU + "test_correct_filtering" + _RW,
    ),  # noqa: E501
    Case("datasets.name = 'train-set'", source=_SU + "test_correct_filtering" + _RW),
    Case("datasets.name IN ('train-set', 'eval_set')", source=_SU + "test_correct_filtering" + _RW),
    Case("datasets.digest IN ('abc123', 'def456')", source=_SU + "test_correct_filtering" + _RW),
    Case(
        "datasets.name = 'train-set' AND datasets.digest = 'def456'",
        source=_SU + "test_correct_filtering" + _RW,
    ),  # noqa: E501
    Case("datasets.context = 'training'", source=_SU + "test_correct_filtering" + _RW),
    Case(
        "datasets.name = 'train-set' AND datasets.context = 'training'",
        source=_SU + "test_correct_filtering" + _RW,
    ),  # noqa: E501
    # ------------------------------------------------------------------
    # test_search_utils.py::test_filter_runs_by_{start_time,user_id,end_time}
    # ------------------------------------------------------------------
    Case("attribute.start_time >= 0", source=_SU + "test_filter_runs_by_start_time"),
    Case("attribute.start_time > 1", source=_SU + "test_filter_runs_by_start_time"),
    Case("attribute.start_time = 2", source=_SU + "test_filter_runs_by_start_time"),
    Case(
        "attribute.start_time > 1700000000000", source=_SU + "test_filter_runs_by_start_time" + _RW
    ),  # noqa: E501
    Case(
        "attribute.start_time = 1700000000000", source=_SU + "test_filter_runs_by_start_time" + _RW
    ),  # noqa: E501
    Case(
        "attribute.start_time != 1700000000000", source=_SU + "test_filter_runs_by_start_time" + _RW
    ),  # noqa: E501
    Case(
        "attribute.start_time <= 1700000005000", source=_SU + "test_filter_runs_by_start_time" + _RW
    ),  # noqa: E501
    Case(
        "attribute.start_time < 1700000010000", source=_SU + "test_filter_runs_by_start_time" + _RW
    ),  # noqa: E501
    Case("attribute.start_time >= 1.7e12", source=_SU + "test_filter_runs_by_start_time" + _RW),
    Case(
        "attribute.start_time > 1700000000000.5",
        source=_SU + "test_filter_runs_by_start_time" + _RW,
    ),  # noqa: E501
    Case("attribute.start_time > -1", source=_SU + "test_filter_runs_by_start_time" + _RW),
    Case("attribute.user_id = 'user-id2'", source=_SU + "test_filter_runs_by_user_id"),
    Case("attribute.user_id = 'bob'", source=_SU + "test_filter_runs_by_user_id" + _RW),
    Case("attribute.user_id != 'alice'", source=_SU + "test_filter_runs_by_user_id" + _RW),
    Case("attribute.user_id LIKE 'a%'", source=_SU + "test_filter_runs_by_user_id" + _RW),
    Case("attribute.user_id ILIKE 'a%'", source=_SU + "test_filter_runs_by_user_id" + _RW),
    Case("attribute.end_time >= 0", source=_SU + "test_filter_runs_by_end_time"),
    Case("attribute.end_time > 1", source=_SU + "test_filter_runs_by_end_time"),
    Case("attribute.end_time = 2", source=_SU + "test_filter_runs_by_end_time"),
    Case("attribute.end_time > 1700000005000", source=_SU + "test_filter_runs_by_end_time" + _RW),
    Case("attribute.end_time <= 1700000010000", source=_SU + "test_filter_runs_by_end_time" + _RW),
    Case("attribute.end_time != 1700000005000", source=_SU + "test_filter_runs_by_end_time" + _RW),
    Case("attribute.end_time = 1700000010000", source=_SU + "test_filter_runs_by_end_time" + _RW),
    Case("attribute.end_time < 0", source=_SU + "test_filter_runs_by_end_time" + _RW),
    # ------------------------------------------------------------------
    # test_search_utils.py::test_filter_runs_by_tag_and_param_is_null
    # ------------------------------------------------------------------
    Case("tags.env IS NOT NULL", source=_SU + "test_filter_runs_by_tag_and_param_is_null"),
    Case("tags.env IS NULL", source=_SU + "test_filter_runs_by_tag_and_param_is_null"),
    Case("tags.only_some is null", source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW),
    Case(
        "tags.only_some is not null", source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW
    ),  # noqa: E501
    Case(
        "params.only_some Is Null", source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW
    ),  # noqa: E501
    Case(
        "params.p IS NOT NULL AND tags.t IS NULL",
        source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW,
    ),  # noqa: E501
    Case(
        "tags.`mlflow.user` IS NOT NULL",
        source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW,
    ),  # noqa: E501
    Case('tags."note" IS NOT NULL', source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW),
    Case(
        "tags.only_some IS NULL AND tags.only_some IS NOT NULL",
        source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW,
    ),  # noqa: E501
    Case(
        "tags.only_some IS NOT 'x'", source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW
    ),  # noqa: E501
    Case(
        "tags.only_some IS NULL 'x'", source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW
    ),  # noqa: E501
    Case("tags.only_some = NULL", source=_SU + "test_filter_runs_by_tag_and_param_is_null" + _RW),
    Case("params.only_some != 'None'", source=_DOC + _RW),
    Case('params.only_some != "None"', source=_DOC + _RW),
    Case('metrics.acc != "None"', source=_DOC + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_params (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("params.generic_param = 'p_val'", source=_SQ + "test_search_params"),
    Case("params.generic_2 = 'some value'", source=_SQ + "test_search_params"),
    Case("params.generic_param != 'wrong_val'", source=_SQ + "test_search_params"),
    Case("params.p_a = 'ABC'", source=_SQ + "test_search_params"),
    Case("params.generic_2 LIKE '%other%'", source=_SQ + "test_search_params"),
    Case("params.generic_2 ILIKE '%Other%'", source=_SQ + "test_search_params"),
    Case("params.model = 'Tree'", source=_SQ + "test_search_params" + _RW),
    Case("params.model != 'Tree'", source=_SQ + "test_search_params" + _RW),
    Case("params.model = 'wrong_val'", source=_SQ + "test_search_params" + _RW),
    Case("params.model != 'wrong_val'", source=_SQ + "test_search_params" + _RW),
    Case("params.model LIKE '%ree%'", source=_SQ + "test_search_params" + _RW),
    Case("params.model LIKE 'tree%'", source=_SQ + "test_search_params" + _RW),
    Case("params.model LIKE '%tree'", source=_SQ + "test_search_params" + _RW),
    Case("params.model LIKE 'tree'", source=_SQ + "test_search_params" + _RW),
    Case("params.model LIKE '%Tree%'", source=_SQ + "test_search_params" + _RW),
    Case("params.model ILIKE '%TREE%'", source=_SQ + "test_search_params" + _RW),
    Case("params.model ILIKE 'tree'", source=_SQ + "test_search_params" + _RW),
    Case("params.model like 'bert%'", source=_SQ + "test_search_params" + _RW),
    Case("params.model ilike 'BERT%'", source=_SQ + "test_search_params" + _RW),
    Case("params.model Like 'b_rt-base'", source=_SQ + "test_search_params" + _RW),
    Case("params.lr = '0.01'", source=_SQ + "test_search_params" + _RW),
    Case("params.lr = '1e-3'", source=_SQ + "test_search_params" + _RW),
    Case('params.lr = "0.1"', source=_SQ + "test_search_params" + _RW),
    Case("params.lr != '0.1'", source=_SQ + "test_search_params" + _RW),
    Case("params.lr LIKE '0.%'", source=_SQ + "test_search_params" + _RW),
    Case("params.lr = '0.010'", source=_SQ + "test_search_params" + _RW),
    # param p: wildcard / escape / quoting corner cases
    Case("params.p = 'ab'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p ILIKE 'a%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a_'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a_b'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a%b'", source=_SQ + "test_search_params" + _RW),
    Case("params.p = 'a%b'", source=_SQ + "test_search_params" + _RW),
    Case("params.p = 'a_b'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a\\_b'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a\\%b'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'a%%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE '%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE '_'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE ''", source=_SQ + "test_search_params" + _RW),
    Case("params.p = ''", source=_SQ + "test_search_params" + _RW),
    Case('params.p = ""', source=_SQ + "test_search_params" + _RW),
    Case("params.p != ''", source=_SQ + "test_search_params" + _RW),
    Case("params.p ILIKE 'A'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE '%''%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE '%\\'%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p = 'back\\slash'", source=_SQ + "test_search_params" + _RW),
    Case("params.p = 'back\\\\slash'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE 'back%'", source=_SQ + "test_search_params" + _RW),
    Case("params.p LIKE '%\\\\%'", source=_SQ + "test_search_params" + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_tags (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("tags.generic_tag = 'p_val'", source=_SQ + "test_search_tags"),
    Case("tags.generic_tag != 'P_VAL'", source=_SQ + "test_search_tags"),
    Case("tags.generic_2 LIKE '%other%'", source=_SQ + "test_search_tags"),
    Case(
        "tags.generic_2 ILIKE '%Other%' and tags.generic_tag = 'p_val'",
        source=_SQ + "test_search_tags",
    ),  # noqa: E501
    Case(
        "tags.generic_2 ILIKE '%Other%' and tags.generic_tag ILIKE 'p_val'",
        source=_SQ + "test_search_tags",
    ),  # noqa: E501
    Case("tags.env = 'Prod'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env = 'PROD'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env != 'PROD'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env != 'prod'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env = 'wrong_val'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env LIKE '%rod%'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env LIKE '%Rod%'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env LIKE 'prod%'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env LIKE 'prod'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env ILIKE 'prod'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env ILIKE '%ROD%' and tags.team = 'nlp'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.env ILIKE '%ROD%' and tags.team ILIKE 'NLP'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.team != 'vision'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t = 'a%b'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t LIKE 'a_b'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t LIKE 'a\\_b'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t ILIKE 'a%'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t = ''", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t = 'back\\slash'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.t = 'back\\\\slash'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.note = 'café'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.note LIKE 'caf%'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.note ILIKE 'CAFÉ'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.note LIKE '%\U0001f680%'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.note LIKE '____'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.`mlflow.source.type` = 'LOCAL'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.`mlflow.source.type` != 'NOTEBOOK'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.mlflow.source.type = 'LOCAL'", source=_SQ + "test_search_tags" + _RW),
    Case("tags.'mlflow.source.type' = 'LOCAL'", source=_SQ + "test_search_tags" + _RW),
    Case('tags."mlflow.user" = "alice"', source=_SQ + "test_search_tags" + _RW),
    Case("tags.`mlflow.user` ILIKE 'ALICE'", source=_SQ + "test_search_tags" + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_metrics (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("metrics.common = 1.0", source=_SQ + "test_search_metrics"),
    Case("metrics.measure_a != -12.0", source=_SQ + "test_search_metrics"),
    Case("metrics.m_b > 5.0", source=_SQ + "test_search_metrics"),
    Case("metrics.acc = 1.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > 0.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc >= 0.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc < 4.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc <= 4.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc != 1.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc <= 0.75", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.loss < 50.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.loss != -12.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.loss > 50", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.step_metric > 1.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.step_metric > 5.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.step_metric = 4.0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.step_metric = 8", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m > 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m >= 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m < 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m = 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m = -0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m != 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m < -1", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m <= -1.5", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m > 1e300", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m < -1e300", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.m >= 1.7976931348623157e308", source=_SQ + "test_log_metric" + _RW),
    Case("metrics.m <= -1.7976931348623157e308", source=_SQ + "test_log_metric" + _RW),
    Case("metrics.m = 1.7976931348623157e308", source=_SQ + "test_log_metric" + _RW),
    Case("metrics.m > 1e309", source=_SQ + "test_log_metric" + _RW),
    Case("metrics.m = inf", source=_SQ + "test_log_metric" + _RW),
    Case("metrics.m = 'inf'", source=_SQ + "test_log_metric" + _RW),
    Case("metrics.acc > 1e-3", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > 1E-3", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc < 5e-1", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > .5", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > 0.", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > +0.5", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > - 0.5", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > 0x10", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.acc > 1_000", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.`a.b` > 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.`a.b` = 3", source=_SQ + "test_search_metrics" + _RW),
    Case('metrics."with space" < 10', source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.with space < 10", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.`with space` != 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.`acc` > 0.5", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.nosuchmetric > 0", source=_SQ + "test_search_metrics" + _RW),
    Case("metrics.nosuchmetric != 0", source=_SQ + "test_search_metrics" + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_attrs (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("attribute.status != 'blah'", source=_SQ + "test_search_attrs"),
    Case("attribute.status = 'RUNNING'", source=_SQ + "test_search_attrs"),
    Case("attribute.status = 'FAILED'", source=_SQ + "test_search_attrs"),
    Case("attribute.status != 'SCHEDULED'", source=_SQ + "test_search_attrs"),
    Case("attribute.status = 'SCHEDULED'", source=_SQ + "test_search_attrs"),
    Case("attribute.status = 'KILLED'", source=_SQ + "test_search_attrs"),
    Case("attribute.artifact_uri = 'random_artifact_path'", source=_SQ + "test_search_attrs"),
    Case("attribute.artifact_uri != 'random_artifact_path'", source=_SQ + "test_search_attrs"),
    Case("attribute.experiment_id = '0'", source=_SQ + "test_search_attrs"),
    Case("attribute.status = 'FINISHED'", source=_SQ + "test_search_attrs" + _RW),
    Case("attribute.status = 'finished'", source=_SQ + "test_search_attrs" + _RW),
    Case("attribute.status LIKE 'F%'", source=_SQ + "test_search_attrs" + _RW),
    Case("attribute.status ILIKE 'f%'", source=_SQ + "test_search_attrs" + _RW),
    Case("attr.status != 'RUNNING'", source=_SQ + "test_search_attrs" + _RW),
    Case("attr.artifact_uri LIKE '%artifacts%'", source=_SQ + "test_search_attrs" + _RW),
    Case("attribute.artifact_uri LIKE '%{RUN_ID_0}%'", source=_SQ + "test_search_attrs" + _RW),
    Case("attribute.artifact_uri ILIKE '%{RUN_ID_0}%'", source=_SQ + "test_search_attrs" + _RW),
    Case("attribute.artifact_uri != ''", source=_SQ + "test_search_attrs" + _RW),
    Case("status = 'FAILED'", source=_SQ + "test_search_attrs" + _RW),
    Case("status != 'FAILED'", source=_SQ + "test_search_attrs" + _RW),
    Case("status IN ('FAILED')", source=_SQ + "test_search_attrs" + _RW),
    Case("user_id = 'bob'", source=_SQ + "test_search_attrs" + _RW),
    Case("user_id = 'Alice'", source=_SQ + "test_search_attrs" + _RW),
    Case("user_id ILIKE 'alice'", source=_SQ + "test_search_attrs" + _RW),
    Case("start_time > 1700000000000", source=_SQ + "test_search_attrs" + _RW),
    Case("end_time < 1700000010000", source=_SQ + "test_search_attrs" + _RW),
    Case("artifact_uri LIKE '%'", source=_SQ + "test_search_attrs" + _RW),
    Case("lifecycle_stage = 'active'", source=_SQ + "test_search_attrs" + _RW),
    Case("experiment_id = '0'", source=_SQ + "test_search_attrs" + _RW),
    Case("name = 'resnet'", source=_SQ + "test_search_attrs" + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_full
    # ------------------------------------------------------------------
    Case(
        "params.generic_param = 'p_val' and metrics.common = 1.0 and metrics.m_a > 1.0",
        source=_SQ + "test_search_full",
    ),  # noqa: E501
    Case(
        "params.generic_param = 'p_val' and metrics.common = 1.0 "
        "and metrics.m_a > 1.0 and params.p_a LIKE 'a%'",
        source=_SQ + "test_search_full",
    ),
    Case("params.model = 'tree' and metrics.acc > 0", source=_SQ + "test_search_full" + _RW),
    Case(
        "params.model = 'tree' and metrics.acc > 0 and metrics.loss < 10",
        source=_SQ + "test_search_full" + _RW,
    ),  # noqa: E501
    Case(
        "params.model = 'tree' and metrics.acc > 0 and metrics.loss < 10 and params.lr LIKE '0%'",
        source=_SQ + "test_search_full" + _RW,
    ),
    Case(
        "params.model ILIKE 'TREE' and metrics.acc >= 0 and tags.env = 'prod' "
        "and attributes.status = 'FINISHED'",
        source=_SQ + "test_search_full" + _RW,
    ),
    Case(
        "params.random_bad_name = 'tree' and metrics.acc > 0", source=_SQ + "test_search_full" + _RW
    ),  # noqa: E501
    Case("params.model = 'tree' and metrics.acc > 100.0", source=_SQ + "test_search_full" + _RW),
    Case(
        "metrics.mkey_0 < 26 and metrics.mkey_0 > 5 ",
        source=_SQ + "test_search_runs_correctly_filters_large_data",
    ),
    Case(
        "metrics.acc < 1 and metrics.acc > 0 and tags.env = 'prod' ",
        source=_SQ + "test_search_runs_correctly_filters_large_data" + _RW,
    ),
    Case(
        "metrics.acc < 1 and metrics.acc > 0 and tags.env = 'prod' and params.model = 'tree'",
        source=_SQ + "test_search_runs_correctly_filters_large_data" + _RW,
    ),
    Case("metrics.acc > 0.5 and metrics.acc < 0.2", source=_SQ + "test_search_full" + _RW),
    Case(
        "params.model = 'tree' and params.model = 'linear'", source=_SQ + "test_search_full" + _RW
    ),  # noqa: E501
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_runs_run_name
    # ------------------------------------------------------------------
    Case("attributes.run_name = 'run_name1'", source=_SQ + "test_search_runs_run_name"),
    Case("attributes.`Run name` = 'run_name1'", source=_SQ + "test_search_runs_run_name"),
    Case("attributes.`run name` = 'run_name2'", source=_SQ + "test_search_runs_run_name"),
    Case("attributes.`Run Name` = 'run_name2'", source=_SQ + "test_search_runs_run_name"),
    Case("tags.`mlflow.runName` = 'run_name2'", source=_SQ + "test_search_runs_run_name"),
    Case("attributes.run_name = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.`Run name` = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.`run name` = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.`Run Name` = 'Bert-large'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.\"Run Name\" = 'Bert-large'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.`RUN NAME` = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.`run_name` = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("tags.`mlflow.runName` = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("tags.\"mlflow.runName\" LIKE 'bert%'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("run_name = 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("run_name = ''", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("run_name != ''", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name LIKE 'bert%'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name ILIKE 'bert%'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name LIKE '%-1'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case(
        "attributes.run_name LIKE 'tree\\_\\%\\_1'", source=_SQ + "test_search_runs_run_name" + _RW
    ),  # noqa: E501
    Case("attributes.run_name LIKE 'tree_%_1'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name = 'tree_%_1'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name LIKE 'tree%'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name ILIKE 'BERT-BASE-_'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.run_name != 'resnet'", source=_SQ + "test_search_runs_run_name" + _RW),
    Case("attributes.`Run name` LIKE 'B%'", source=_SQ + "test_search_runs_run_name" + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_runs_start_time_alias
    # ------------------------------------------------------------------
    Case(
        "attributes.run_name = 'name'",
        ("attributes.start_time DESC",),
        _SQ + "test_search_runs_start_time_alias",
    ),  # noqa: E501
    Case(
        "attributes.run_name = 'name'",
        ("attributes.created ASC",),
        _SQ + "test_search_runs_start_time_alias",
    ),  # noqa: E501
    Case(
        "attributes.run_name = 'name'",
        ("attributes.Created DESC",),
        _SQ + "test_search_runs_start_time_alias",
    ),  # noqa: E501
    Case("attributes.start_time > 0", source=_SQ + "test_search_runs_start_time_alias"),
    Case("attributes.created > 1", source=_SQ + "test_search_runs_start_time_alias"),
    Case("attributes.Created > 2", source=_SQ + "test_search_runs_start_time_alias"),
    Case(
        "attributes.run_name LIKE 'bert%'",
        ("attributes.start_time DESC",),
        _SQ + "test_search_runs_start_time_alias" + _RW,
    ),  # noqa: E501
    Case(
        "attributes.run_name LIKE 'bert%'",
        ("attributes.created ASC",),
        _SQ + "test_search_runs_start_time_alias" + _RW,
    ),  # noqa: E501
    Case(
        "attributes.run_name LIKE 'bert%'",
        ("attributes.Created DESC",),
        _SQ + "test_search_runs_start_time_alias" + _RW,
    ),  # noqa: E501
    Case(
        "attributes.created > 1700000000000", source=_SQ + "test_search_runs_start_time_alias" + _RW
    ),  # noqa: E501
    Case(
        "attributes.Created >= 1700000005000",
        source=_SQ + "test_search_runs_start_time_alias" + _RW,
    ),  # noqa: E501
    Case("created > 1700000000000", source=_SQ + "test_search_runs_start_time_alias" + _RW),
    Case("Created < 1700000010000", source=_SQ + "test_search_runs_start_time_alias" + _RW),
    Case(
        "attributes.CREATED > 1700000000000", source=_SQ + "test_search_runs_start_time_alias" + _RW
    ),  # noqa: E501
    Case(
        "attributes.created = 1700000000000", source=_SQ + "test_search_runs_start_time_alias" + _RW
    ),  # noqa: E501
    Case("attributes.created LIKE '17%'", source=_SQ + "test_search_runs_start_time_alias" + _RW),
    # ------------------------------------------------------------------
    # test_sqlalchemy_store.py::test_search_runs_datasets (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("dataset.name = 'name1'", source=_SQ + "test_search_runs_datasets"),
    Case(
        "dataset.context = 'test' and dataset.name = 'name2'",
        source=_SQ + "test_search_runs_datasets",
    ),  # noqa: E501
    Case("datasets.name LIKE 'Name%'", source=_SQ + "test_search_runs_datasets"),
    Case("datasets.context IN ('test', 'train')", source=_SQ + "test_search_runs_datasets"),
    Case("dataset.digest = 'def456'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("dataset.name = 'nosuchset'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("dataset.context = 'eval'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case(
        "dataset.context = 'eval' and dataset.name = 'eval_set'",
        source=_SQ + "test_search_runs_datasets" + _RW,
    ),  # noqa: E501
    Case(
        "dataset.name = 'eval_set' and dataset.context = 'eval'",
        source=_SQ + "test_search_runs_datasets" + _RW,
    ),  # noqa: E501
    Case(
        "dataset.name = 'train-set' and dataset.context = 'eval'",
        source=_SQ + "test_search_runs_datasets" + _RW,
    ),  # noqa: E501
    Case(
        "datasets.name IN ('train-set', 'Train-Set')",
        source=_SQ + "test_search_runs_datasets" + _RW,
    ),  # noqa: E501
    Case("datasets.name NOT IN ('train-set')", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.digest IN ('abc123')", source=_SQ + "test_search_runs_datasets" + _RW),
    Case(
        "datasets.digest NOT IN ('abc123', 'def456')",
        source=_SQ + "test_search_runs_datasets" + _RW,
    ),  # noqa: E501
    Case("datasets.name LIKE 'Train%'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.name ILIKE 'train%'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.name LIKE '%\\_set'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.name LIKE '%_set'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.context ILIKE 'TRAIN%'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case(
        "datasets.context IN ('training', 'eval')", source=_SQ + "test_search_runs_datasets" + _RW
    ),  # noqa: E501
    Case("datasets.context NOT IN ('training')", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.context != 'training'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.context = ''", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.name != 'train-set'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.digest = 'ABC123'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.`name` = 'train-set'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case(
        "datasets.name = 'train-set' AND params.model = 'tree'",
        source=_SQ + "test_search_runs_datasets" + _RW,
    ),  # noqa: E501
    Case("dataset.Name = 'train-set'", source=_SQ + "test_search_runs_datasets" + _RW),
    Case("datasets.name = train-set", source=_SQ + "test_search_runs_datasets" + _RW),
    Case('datasets.name IN ("train-set")', source=_SQ + "test_search_runs_datasets" + _RW),
    # ------------------------------------------------------------------
    # docs: search-runs (verbatim examples)
    # ------------------------------------------------------------------
    Case("metrics.loss > 0.8", source=_DOC),
    Case("metrics.accuracy > 0.72", source=_DOC),
    Case('metrics."accuracy" > 0.72', source=_DOC),
    Case("metrics.loss <= 0.15", source=_DOC),
    Case("metrics.`log-scale-loss` <= 0", source=_DOC),
    Case("metrics.`f1 score` >= 0.5", source=_DOC),
    Case("metrics.accuracy > 0.72 AND metrics.loss <= 0.15", source=_DOC),
    Case("metrics.accuracy != 0.15", source=_DOC),
    Case("metrics.cross-entropy-loss < 0.5", source=_DOC),
    Case("metrics.`cross-entropy-loss` < 0.5", source=_DOC),
    Case('params.1st_iteration_timestamp = "2022-01-01"', source=_DOC),
    Case('params.`1st_iteration_timestamp` = "2022-01-01"', source=_DOC),
    Case('params.batch_size = "2"', source=_DOC),
    Case('params.model LIKE "GPT%"', source=_DOC),
    Case('params.model ILIKE "gPt%"', source=_DOC),
    Case('params.model LIKE "GPT%" AND params.batch_size = "2"', source=_DOC),
    Case('params.model = "GPT-4o"', source=_DOC),
    Case('tags."environment" = "notebook"', source=_DOC),
    Case('tags.environment = "notebook"', source=_DOC),
    Case('tags.task ILIKE "classif%"', source=_DOC),
    Case('datasets.name LIKE "custom"', source=_DOC),
    Case("datasets.digest IN ('s8ds293b', 'jks834s2')", source=_DOC),
    Case('datasets.context = "train"', source=_DOC),
    Case("datasets.name IN ('custom', 'also custom', 'another custom name')", source=_DOC),
    Case('attributes.status = "ACTIVE"', source=_DOC),
    Case('attributes.user_id LIKE "user1"', source=_DOC),
    Case('attributes.run_name = "my-run"', source=_DOC),
    Case('attributes.run_id = "a1b2c3d4"', source=_DOC),
    Case("attributes.run_id IN ('a1b2c3d4', 'e5f6g7h8')", source=_DOC),
    Case("attributes.start_time >= 1664067852747", source=_DOC),
    Case("attributes.end_time < 1664067852747", source=_DOC),
    Case("attributes.created > 1664067852747", source=_DOC),
    Case("metrics.accuracy > 0.72 AND metrics.batch_size != 0", source=_DOC),
    Case(
        "metrics.accuracy > 0.72 AND metrics.batch_size != 0 "
        "AND attributes.run_id IN ('a1b2c3d4', 'e5f6g7h8')",
        source=_DOC,
    ),
    Case("metrics.loss <= 0.15 AND metrics.loss >= 0.1", source=_DOC),
    Case('params.batch_size != "None"', source=_DOC),
    Case("metrics.rmse < 0.9 and tags.production = 'true'", ("params.lr DESC",), _DOC),
    Case("metrics.accuracy_score < 99.90", source=_DOC),
    Case(
        'params.model = "LogisticRegression" and params.lambda = "0.001" and metrics.error <= 0.05',
        source="docs: search-syntax (1.x)",
    ),  # noqa: E501
    Case('attributes.status = "FAILED"', source="docs: search-syntax (1.x)"),
    # docs examples rewritten onto the seeded vocabulary
    Case("metrics.loss > 0.8", ("metrics.loss DESC",), _DOC + _RW),
    Case('metrics."acc" > 0.72', source=_DOC + _RW),
    Case("metrics.`a.b` <= 0", source=_DOC + _RW),
    Case("metrics.`with space` >= 0.5", source=_DOC + _RW),
    Case("metrics.acc > 0.72 AND metrics.loss <= 0.15", source=_DOC + _RW),
    Case("metrics.loss <= 1.5 AND metrics.loss >= 0.1", source=_DOC + _RW),
    Case('params.lr = "0.01"', source=_DOC + _RW),
    Case('params.model LIKE "bert%"', source=_DOC + _RW),
    Case('params.model ILIKE "BeRt%"', source=_DOC + _RW),
    Case('params.model LIKE "bert%" AND params.lr = "1e-3"', source=_DOC + _RW),
    Case('tags."env" = "prod"', source=_DOC + _RW),
    Case('tags.env = "staging"', source=_DOC + _RW),
    Case('tags.team ILIKE "vis%"', source=_DOC + _RW),
    Case('datasets.name LIKE "train-set"', source=_DOC + _RW),
    Case('datasets.context = "eval"', source=_DOC + _RW),
    Case('attributes.status = "KILLED"', source=_DOC + _RW),
    Case('attributes.user_id LIKE "alice"', source=_DOC + _RW),
    Case('attributes.run_name = "bert-base-1"', source=_DOC + _RW),
    Case("attributes.start_time >= 1700000000000", source=_DOC + _RW),
    Case("attributes.end_time < 1700000010000", source=_DOC + _RW),
    Case(
        "\nattributes.run_id IN ('{RUN_ID_0}','{RUN_ID_1}')\n  AND metrics.loss > 0.3\n"
        '  AND metrics."with space" < 5\n  AND params.model LIKE "bert%"\n',
        source=_DOC + " complex_filter" + _RW,
    ),
    Case("params.model = 'bert-base'", source=_DOC + " search_all_experiments" + _RW),
    Case("metrics.loss < 0.9 and tags.env = 'prod'", ("params.lr DESC",), _DOC + " R API" + _RW),
    # ------------------------------------------------------------------
    # Entity aliases, case variants of keywords, whitespace variants
    # ------------------------------------------------------------------
    Case("metric.acc > 0", source=_EXTRA),
    Case("metrics.acc > 0", source=_EXTRA),
    Case("METRICS.acc > 0", source=_EXTRA),
    Case("Metrics.acc > 0", source=_EXTRA),
    Case("param.model = 'tree'", source=_EXTRA),
    Case("parameter.model = 'tree'", source=_EXTRA),
    Case("parameters.model = 'tree'", source=_EXTRA),
    Case("PARAMS.model = 'tree'", source=_EXTRA),
    Case("tag.env = 'prod'", source=_EXTRA),
    Case("Tags.env = 'prod'", source=_EXTRA),
    Case("attr.status = 'FAILED'", source=_EXTRA),
    Case("run.status = 'FAILED'", source=_EXTRA),
    Case("runs.status = 'FAILED'", source=_EXTRA),
    Case("ATTRIBUTES.status = 'FAILED'", source=_EXTRA),
    Case("attributes.STATUS = 'FAILED'", source=_EXTRA),
    Case("dataset.name = 'eval_set'", source=_EXTRA),
    Case("datasets.name = 'eval_set'", source=_EXTRA),
    Case("data.name = 'eval_set'", source=_EXTRA),
    Case("inputs.name = 'eval_set'", source=_EXTRA),
    Case("`metrics`.`acc` > 0", source=_EXTRA),
    Case('"metrics".acc > 0', source=_EXTRA),
    Case(
        "metrics.\"acc\" > 0 and params.`model` = 'tree' and tags.\"env\" = 'prod'", source=_EXTRA
    ),  # noqa: E501
    Case("metrics.acc > 0 and metrics.loss < 10", source=_EXTRA),
    Case("metrics.acc > 0 AND metrics.loss < 10", source=_EXTRA),
    Case("metrics.acc > 0 And metrics.loss < 10", source=_EXTRA),
    Case("metrics.acc > 0 aNd metrics.loss < 10", source=_EXTRA),
    Case(
        "params.model LIKE 'tree' and params.model like 'tree' and params.model Like 'tree'",
        source=_EXTRA,
    ),  # noqa: E501
    Case("params.model ILIKE 'TREE' and params.model ilike 'TREE'", source=_EXTRA),
    Case("datasets.name in ('train-set') and datasets.digest In ('abc123')", source=_EXTRA),
    Case("   metrics.acc > 0   ", source=_EXTRA),
    Case("metrics.acc>0", source=_EXTRA),
    Case("metrics.acc   >   0", source=_EXTRA),
    Case("metrics.acc >0 and params.model='tree'", source=_EXTRA),
    Case("metrics.acc > 0\nand params.model = 'tree'", source=_EXTRA),
    Case("metrics.acc > 0\tAND\tparams.model = 'tree'", source=_EXTRA),
    Case("metrics.acc > 0andparams.model = 'tree'", source=_EXTRA),
    Case("metrics . acc > 0", source=_EXTRA),
    Case("params.model='tree'AND metrics.acc>0", source=_EXTRA),
    Case("   ", source=_EXTRA),
    Case("\n", source=_EXTRA),
    Case("AND", source=_EXTRA),
    Case(";", source=_EXTRA),
    Case("()", source=_EXTRA),
    Case("params.model = 'tree' -- comment", source=_EXTRA),
    Case("params.model = 'tree' /* c */", source=_EXTRA),
    Case("params.model = 'tr''ee'", source=_EXTRA),
    Case('params.model = "tr""ee"', source=_EXTRA),
    Case("params.model = 'tree\"'", source=_EXTRA),
    Case("params.p = '\"a\"'", source=_EXTRA),
    Case("params.p = 'a' and tags.t = 'a'", source=_EXTRA),
    Case("tags.t = 'it''s' and params.p = \"it's\"", source=_EXTRA),
    Case("params.`p` = 'a'", source=_EXTRA),
    Case("params.`lr` != '0.01' and params.`lr` != '0.1'", source=_EXTRA),
    Case("params.`only_some` = 'x'", source=_EXTRA),
    Case("tags.`only_some` != 'x'", source=_EXTRA),
    Case(
        "params.model = 'tree' AND params.p = 'a' AND tags.env = 'prod' AND tags.team = 'nlp' AND metrics.acc >= 0 AND attributes.status != 'KILLED'",
        source=_EXTRA,
    ),  # noqa: E501
    # ------------------------------------------------------------------
    # order_by: test_search_utils.py::test_correct_sorting (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("", ("tags.noSuchTag",), _SU + "test_correct_sorting"),
    Case("", ("attributes.status",), _SU + "test_correct_sorting"),
    Case("", ("attributes.start_time",), _SU + "test_correct_sorting"),
    Case("", ("metrics.key1 asc",), _SU + "test_correct_sorting"),
    Case("", ('metrics."key1"  desc',), _SU + "test_correct_sorting"),
    Case("", ("params.my_param",), _SU + "test_correct_sorting"),
    Case("", ("params.my_param aSc", "attributes.status  ASC"), _SU + "test_correct_sorting"),
    Case("", ("params.my_param", "attributes.status DESC"), _SU + "test_correct_sorting"),
    Case("", ("params.my_param DESC", "attributes.status   DESC"), _SU + "test_correct_sorting"),
    Case("", ("params.`my_param` DESC", "attributes.status DESC"), _SU + "test_correct_sorting"),
    Case("", ("tags.tag1",), _SU + "test_correct_sorting"),
    Case("", ("tags.tag1    DESC",), _SU + "test_correct_sorting"),
    Case("", ("metrics.acc asc",), _SU + "test_correct_sorting" + _RW),
    Case("", ('metrics."acc"  desc',), _SU + "test_correct_sorting" + _RW),
    Case("", ("params.model",), _SU + "test_correct_sorting" + _RW),
    Case("", ("params.model aSc", "attributes.status  ASC"), _SU + "test_correct_sorting" + _RW),
    Case("", ("params.model", "attributes.status DESC"), _SU + "test_correct_sorting" + _RW),
    Case("", ("params.model DESC", "attributes.status   DESC"), _SU + "test_correct_sorting" + _RW),  # noqa: E501
    Case("", ("params.`model` DESC", "attributes.status DESC"), _SU + "test_correct_sorting" + _RW),
    Case("", ("tags.env",), _SU + "test_correct_sorting" + _RW),
    Case("", ("tags.env    DESC",), _SU + "test_correct_sorting" + _RW),
    Case("", ("tags.t ASC",), _SU + "test_correct_sorting" + _RW),
    Case("", ("params.p DESC",), _SU + "test_correct_sorting" + _RW),
    Case("", ("params.only_some ASC",), _SU + "test_correct_sorting" + _RW),
    Case("", ("tags.only_some DESC",), _SU + "test_correct_sorting" + _RW),
    Case("", ("tags.note",), _SU + "test_correct_sorting" + _RW),
    # ------------------------------------------------------------------
    # order_by with NaN / inf / None metrics
    # ------------------------------------------------------------------
    Case("", ("metrics.x asc",), _SU + "test_order_by_metric_with_nans_infs_nones"),
    Case("", ("metrics.x desc",), _SU + "test_order_by_metric_with_nans_infs_nones"),
    Case("", ("metrics.m asc",), _SU + "test_order_by_metric_with_nans_infs_nones" + _RW),
    Case("", ("metrics.m desc",), _SU + "test_order_by_metric_with_nans_infs_nones" + _RW),
    Case("", ("metrics.m",), _SU + "test_order_by_metric_with_nans_infs_nones" + _RW),
    Case(
        "metrics.m >= 0",
        ("metrics.m DESC",),
        _SU + "test_order_by_metric_with_nans_infs_nones" + _RW,
    ),  # noqa: E501
    Case(
        "metrics.m < 0", ("metrics.m ASC",), _SU + "test_order_by_metric_with_nans_infs_nones" + _RW
    ),  # noqa: E501
    # test_sqlalchemy_store.py::test_order_by_metric_tag_param
    Case("", ("metrics.x asc", "metrics.y asc"), _SQ + "test_order_by_metric_tag_param"),
    Case("", ("metrics.x asc", "tag.metric asc"), _SQ + "test_order_by_metric_tag_param"),
    Case("", ("metrics.x desc", "param.metric desc"), _SQ + "test_order_by_metric_tag_param"),
    Case("", ("metrics.m asc", "metrics.acc asc"), _SQ + "test_order_by_metric_tag_param" + _RW),
    Case("", ("metrics.m asc", "metrics.acc desc"), _SQ + "test_order_by_metric_tag_param" + _RW),
    Case("", ("metrics.m desc", "metrics.acc asc"), _SQ + "test_order_by_metric_tag_param" + _RW),
    Case("", ("metrics.m asc", "tag.env asc"), _SQ + "test_order_by_metric_tag_param" + _RW),
    Case("", ("metrics.m asc", "tag.env desc"), _SQ + "test_order_by_metric_tag_param" + _RW),
    Case("", ("metrics.m desc", "param.model desc"), _SQ + "test_order_by_metric_tag_param" + _RW),
    Case(
        "",
        ("param.lr", "metric.loss DESC", "tag.team"),
        _SQ + "test_order_by_metric_tag_param" + _RW,
    ),  # noqa: E501
    # test_sqlalchemy_store.py::test_order_by_attributes
    Case("", ("attribute.end_time asc",), _SQ + "test_order_by_attributes"),
    Case("", ("attribute.end_time desc",), _SQ + "test_order_by_attributes"),
    Case(
        "",
        ("attribute.start_time asc", "attribute.end_time desc"),
        _SQ + "test_order_by_attributes",
    ),  # noqa: E501
    Case("", ("start_time ASC",), _SQ + "test_log_inputs_and_retrieve_runs_behaves_as_expected"),
    Case("", ("start_time DESC",), _SQ + "test_log_inputs_and_retrieve_runs_behaves_as_expected"),
    Case("", ("tag.t1",), _SQ + "test_search_runs_keep_all_runs_when_sorting"),
    Case("", ("tag.only_some",), _SQ + "test_search_runs_keep_all_runs_when_sorting" + _RW),
    Case("", ("metrics.accuracy DESC",), _DOC),
    # ------------------------------------------------------------------
    # order_by: every orderable attribute, bare and prefixed
    # ------------------------------------------------------------------
    Case("", ("start_time",), _EXTRA),
    Case("", ("end_time",), _EXTRA),
    Case("", ("end_time ASC",), _EXTRA),
    Case("", ("end_time DESC",), _EXTRA),
    Case("", ("status",), _EXTRA),
    Case("", ("status DESC",), _EXTRA),
    Case("", ("run_name",), _EXTRA),
    Case("", ("run_name DESC",), _EXTRA),
    Case("", ("attribute.run_name",), _EXTRA),
    Case("", ("attributes.run_name DESC",), _EXTRA),
    Case("", ("attributes.`Run name`",), _EXTRA),
    Case("", ("run_id",), _EXTRA),
    Case("", ("run_id DESC",), _EXTRA),
    Case("", ("user_id",), _EXTRA),
    Case("", ("user_id DESC",), _EXTRA),
    Case("", ("artifact_uri",), _EXTRA),
    Case("", ("attributes.artifact_uri DESC",), _EXTRA),
    Case("", ("created",), _EXTRA),
    Case("", ("Created",), _EXTRA),
    Case("", ("created DESC",), _EXTRA),
    Case("", ("Created ASC",), _EXTRA),
    Case("", ("attr.start_time ASC",), _EXTRA),
    Case("", ("run.start_time DESC",), _EXTRA),
    Case("", ("attribute.status ASC", "attribute.run_name DESC"), _EXTRA),
    Case("", ("attribute.user_id", "attribute.start_time DESC"), _EXTRA),
    Case("", ("lifecycle_stage",), _EXTRA),
    Case("", ("experiment_id",), _EXTRA),
    Case("", ("attribute.deleted_time",), _EXTRA),
    Case("", ("dataset.name",), _EXTRA),
    Case("", ("datasets.digest DESC",), _EXTRA),
    # order_by on metrics / params / tags with backticks and quotes
    Case("", ("metrics.`with space` DESC",), _SU + "test_space_order_by_search_runs" + _RW),
    Case("", ("metrics.`with space`",), _SU + "test_space_order_by_search_runs" + _RW),
    Case("", ("metrics.`with space` ASC",), _SU + "test_space_order_by_search_runs" + _RW),
    Case("", ("metrics.`Mean Square Error`",), _SU + "test_space_order_by_search_runs"),
    Case("", ("metrics.`Mean Square Error` ASC",), _SU + "test_space_order_by_search_runs"),
    Case("", ("metrics.`Mean Square Error` DESC",), _SU + "test_space_order_by_search_runs"),
    Case("", ('metrics."with space" DESC',), _EXTRA),
    Case("", ("metrics.`a.b` ASC",), _EXTRA),
    Case("", ("metrics.a.b ASC",), _EXTRA),
    Case("", ("metrics.loss ASC",), _EXTRA),
    Case("", ("metrics.step_metric DESC",), _EXTRA),
    Case("", ("params.lr ASC",), _EXTRA),
    Case("", ("params.`lr` DESC",), _EXTRA),
    Case("", ("parameters.model",), _EXTRA),
    Case("", ('tags."mlflow.source.type" DESC',), _EXTRA),
    Case("", ("tags.`mlflow.runName`",), _EXTRA),
    Case("", ("tags.mlflow.user",), _EXTRA),
    Case("", ("metrics.acc desc",), _EXTRA),
    Case("", ("metrics.acc Desc",), _EXTRA),
    Case("", ("metrics.acc ASC", "params.model ASC", "tags.env DESC", "start_time DESC"), _EXTRA),
    Case("", ("param.a", "metric.a", "tag.a"), _SQ + "test_get_orderby_clauses"),
    Case("", ("param.model", "metric.model", "tag.model"), _SQ + "test_get_orderby_clauses" + _RW),
    # ------------------------------------------------------------------
    # order_by refusals (verbatim + rewritten)
    # ------------------------------------------------------------------
    Case("", ("m.acc",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("acc",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("attri.x",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("`metrics.A",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("`metrics.A`",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("attribute.start",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("attribute.experiment_id",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("metrics.A != 1",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("params.my_param ",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("attribute.run_id ACS",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("attribute.run_id decs",), _SU + "test_invalid_order_by_search_runs"),
    Case("", ("loss",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("`metrics.acc",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("`metrics.acc`",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("metrics.acc != 1",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("params.model ",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", (" params.model",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("metrics.acc ACS",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("start_time decs",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("start_time DESC NULLS LAST",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("start_time DESC, run_id ASC",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("metrics.acc DESC ASC",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("",), _SU + "test_invalid_order_by_search_registered_models" + _RW),
    Case("", ("creation_timestamp DESC",), _SU + "test_invalid_order_by_search_registered_models"),
    Case("", ("timestamp",), _SU + "test_invalid_order_by_search_registered_models" + _RW),
    Case("", ("name",), _SU + "test_invalid_order_by_search_registered_models" + _RW),
    Case("", ("attributes.lifecycle_stage",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("attributes.nosuch DESC",), _SU + "test_invalid_order_by_search_runs" + _RW),
    Case("", ("metric.acc", "metric.acc"), _SQ + "test_get_orderby_clauses" + _RW),
    Case("", ("attribute.start_time", "attribute.start_time"), _SQ + "test_get_orderby_clauses"),
    Case("", ("param.p", "param.p"), _SQ + "test_get_orderby_clauses"),
    Case("", ("metric.m", "metric.m"), _SQ + "test_get_orderby_clauses"),
    Case("", ("tag.t", "tag.t"), _SQ + "test_get_orderby_clauses"),
    Case("", ("metrics.acc ASC", "metrics.acc DESC"), _SQ + "test_get_orderby_clauses" + _RW),
    Case("", ("metric.acc", "metrics.acc"), _SQ + "test_get_orderby_clauses" + _RW),
    Case("", ("start_time", "attribute.start_time DESC"), _SQ + "test_get_orderby_clauses" + _RW),
    Case("", ("created", "start_time"), _SQ + "test_get_orderby_clauses" + _RW),
    Case("", ("run_name", "attributes.`Run name`"), _SQ + "test_get_orderby_clauses" + _RW),
    Case("", ("attribute.start_time ASC",), _SQ + "test_get_orderby_clauses"),
    # ------------------------------------------------------------------
    # filter + order_by combinations
    # ------------------------------------------------------------------
    Case("metrics.acc > 0", ("metrics.acc DESC",), _EXTRA),
    Case("metrics.acc > 0", ("metrics.loss ASC", "run_id"), _EXTRA),
    Case("params.model = 'tree'", ("start_time DESC",), _EXTRA),
    Case("params.model ILIKE 'tree'", ("params.model ASC", "start_time ASC"), _EXTRA),
    Case("tags.env ILIKE 'prod'", ("tags.env DESC", "run_name"), _EXTRA),
    Case("attributes.status != 'RUNNING'", ("end_time DESC",), _EXTRA),
    Case("attributes.status = 'RUNNING'", ("end_time ASC",), _EXTRA),
    Case("attributes.start_time >= 1700000000000", ("start_time ASC", "run_id DESC"), _EXTRA),
    Case("attributes.start_time = 1700000000000", ("start_time",), _EXTRA),
    Case("datasets.context = 'training'", ("metrics.acc DESC",), _EXTRA),
    Case("tags.only_some IS NOT NULL", ("tags.only_some",), _EXTRA),
    Case("params.only_some IS NULL", ("params.only_some DESC", "user_id"), _EXTRA),
    Case("attributes.user_id ILIKE 'alice'", ("user_id DESC", "created ASC"), _EXTRA),
    Case(
        "attributes.run_id IN ('{RUN_ID_0}', '{RUN_ID_1}', '{RUN_ID_2}')", ("run_id DESC",), _EXTRA
    ),  # noqa: E501
    Case("metrics.`with space` >= 0", ("metrics.`with space` DESC",), _EXTRA),
    Case("metrics.m != 0", ("metrics.m DESC", "run_id ASC"), _EXTRA),
    Case("metrics.acc > 0 OR metrics.loss > 0", ("metrics.acc DESC",), _EXTRA),
    Case("metrics.acc > 0", ("metrics.acc DESCENDING",), _EXTRA),
    Case("metrics.acc > 0", ("metrics.acc", "metrics.acc"), _EXTRA),
    Case("params.model = 'tree'", ("bogus.key",), _EXTRA),
    # Found by review (each once disagreed with MLflow or crashed the cache's query).
    Case("run_id = ('{RUN_ID_0}', '{RUN_ID_1}')", (), _REVIEW),
    Case("dataset.name = ('train-set')", (), _REVIEW),
    Case("dataset.context != ('training', 'eval')", (), _REVIEW),
    Case("dataset.name LIKE ('train-set', 'eval_set')", (), _REVIEW),
    Case("start_time > 99999999999999999999", (), _REVIEW),
    Case("end_time < -99999999999999999999", (), _REVIEW),
    Case("run_id IN ({[]: 1})", (), _REVIEW),
    Case("run_id IN (1, 2)", (), _REVIEW),
    Case("run_id IN ()", (), _REVIEW),
    Case("params.p RLIKE 'a.*'", (), _REVIEW),
    Case("metrics.acc BETWEEN 0 AND 1", (), _REVIEW),
    Case("", ("metrics.created DESC",), _REVIEW),
    Case("", ("metrics.created", "metrics.start_time"), _REVIEW),
    Case("", ("tags.`Run name` ASC",), _REVIEW),
    Case("metrics.created > 0", (), _REVIEW),
    Case("params.lr = '0.01'", ("params.created DESC",), _REVIEW),
]
