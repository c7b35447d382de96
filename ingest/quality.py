"""The great-expectations checkpoint over the landed data and the marts.

GX's SQL datasource cannot validate DuckDB (it closes the pooled connection before fetching), so
each data set is read from DuckDB into a pandas frame and validated there. The expectations are
data (CHECKS below): one table says what is checked where.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from ingest.schemas import AUDIO_FEATURES
from ingest.settings import Settings
from ingest.warehouse import connect, require_marts

# Expectation kinds used below -> (GX expectation class name, how a failure reads).
KINDS: dict[str, tuple[str, str]] = {
    "not_null": ("ExpectColumnValuesToNotBeNull", "{column} is never null"),
    "unique": ("ExpectColumnValuesToBeUnique", "{column} is unique"),
    "between": ("ExpectColumnValuesToBeBetween", "{column} within {min_value}..{max_value}"),
    "unique_together": ("ExpectCompoundColumnsToBeUnique", "({columns}) unique together"),
    "equal": ("ExpectColumnPairValuesToBeEqual", "{column_A} = {column_B}"),
    "in_set": ("ExpectColumnValuesToBeInSet", "{column} is one of {value_set}"),
}

Check = tuple[str, dict[str, Any]]


def _features_in_unit_range(prefix: str = "") -> list[Check]:
    return [("between", {"column": f"{prefix}{name}", "min_value": 0, "max_value": 1})
            for name in AUDIO_FEATURES]  # fmt: skip


ROWS_ACCOUNTED: Check = ("equal", {"column_A": "rows_in", "column_B": "rows_accounted"})

# Data set -> what must hold. Lake data sets are read from Parquet, marts from the warehouse.
CHECKS: dict[str, list[Check]] = {
    "lake.plays": [
        ("not_null", {"column": "play_id"}),
        ("not_null", {"column": "user_id"}),
        ("not_null", {"column": "played_at"}),
        # A landed play is one row per load: its id names it whatever it lacks (a track id).
        ("unique_together", {"column_list": ["load_id", "play_id"]}),
    ],
    # Export records as landed: one row per record of a file of a load.
    **{
        f"lake.spotify_export__{entity}": [
            ("not_null", {"column": "user_id"}),
            ("not_null", {"column": time_column}),
            ("unique_together",
             {"column_list": ["load_id", "source_file", "file_kind", "record_number"]}),
        ]
        for entity, time_column in (("extended_plays", "ts"), ("account_plays", "end_time"))
    },
    "lake.audio_features": [("not_null", {"column": "track_id"}), *_features_in_unit_range()],
    "lake.recommendations": [
        *[("not_null", {"column": name})
          for name in ("run_id", "user_id", "seed_track_id", "recommended_track_id")],
        ("between", {"column": "rank", "min_value": 1, "max_value": None}),
    ],
    "lake.loads": [("unique", {"column": "load_id"}), ROWS_ACCOUNTED],
    "marts.fct_plays": [
        ("not_null", {"column": "play_id"}),
        ("unique", {"column": "play_id"}),
        ("not_null", {"column": "user_id"}),
        ("between", {"column": "minutes_played", "min_value": 0, "max_value": None}),
        ("in_set", {"column": "content_type",
                    "value_set": ["music", "podcast", "audiobook", "video", "unknown"]}),
        ("between", {"column": "completion_ratio", "min_value": 0, "max_value": 1}),
        *_features_in_unit_range(),
    ],
    "marts.dim_tracks": [
        ("not_null", {"column": "track_id"}),
        ("unique", {"column": "track_id"}),
        *_features_in_unit_range(),
    ],
    "marts.fct_daily_listening": [
        ("unique_together", {"column_list": ["user_id", "listen_date"]}),
        ("between", {"column": "minutes_listened", "min_value": 0, "max_value": None}),
        *[("between", {"column": name, "min_value": 0, "max_value": 1})
          for name in ("energy_score", "musicality_score", "positivity_score",
                       "skip_rate", "completion_rate")],
    ],
    "marts.fct_predicted_vs_actual": [
        ("not_null", {"column": "user_id"}),
        ("between", {"column": "predicted_value", "min_value": 0, "max_value": 1}),
        ("between", {"column": "actual_value", "min_value": 0, "max_value": 1}),
    ],
    "marts.fct_recommendation_accuracy": [
        ("unique_together", {"column_list": ["run_id", "user_id", "seed_track_id"]}),
        *[("between", {"column": name, "min_value": 0, "max_value": 1})
          for name in ("precision_at_k", "recall_at_k", "ndcg_at_k", "reciprocal_rank")],
    ],
    "marts.fct_experiment_results": [
        ("not_null", {"column": "variant"}),
        ("between", {"column": "p_value", "min_value": 0, "max_value": 1}),
    ],
    "marts.fct_loads": [ROWS_ACCOUNTED],
}  # fmt: skip


@dataclass
class DatasetResult:
    name: str
    rows: int
    evaluated: int
    failures: list[str] = field(default_factory=list)


@dataclass
class QualityReport:
    results: list[DatasetResult]

    @property
    def success(self) -> bool:
        return not any(result.failures for result in self.results)

    @property
    def expectations(self) -> int:
        return sum(result.evaluated for result in self.results)

    def summary(self) -> str:
        head = (
            f"quality checkpoint: {len(self.results)} data sets, {self.expectations} expectations"
        )
        failures = [failure for result in self.results for failure in result.failures]
        if not failures:
            return f"{head}, all passed"
        return "\n  ".join([f"{head}, {len(failures)} failed:", *failures])


def _read_frames(settings: Settings) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    with duckdb.connect() as lake:
        for name in CHECKS:
            layer, entity = name.split(".")
            if layer != "lake":
                continue
            pattern = str(settings.lake_dir / entity / "*.parquet").replace("'", "''")
            frames[name] = lake.sql(
                f"select * from read_parquet('{pattern}', union_by_name = true)"
            ).df()
    marts = [name.split(".")[1] for name in CHECKS if name.startswith("marts.")]
    with connect(settings) as warehouse:
        require_marts(warehouse, *marts)
        for mart in marts:
            frames[f"marts.{mart}"] = warehouse.sql(f"select * from marts.{mart}").df()
    for name, frame in frames.items():
        if "rows_in" in frame.columns:
            # GX compares column pairs: derive the side that must equal rows_in.
            frames[name] = frame.assign(rows_accounted=frame.rows_landed + frame.rows_rejected)
    return frames


def _describe(kind: str, kwargs: dict[str, Any], result: dict[str, Any]) -> str:
    text = KINDS[kind][1].format(
        columns=", ".join(kwargs.get("column_list", [])),
        **{k: ("" if v is None else v) for k, v in kwargs.items()},
    )
    examples = ", ".join(repr(value) for value in (result.get("partial_unexpected_list") or [])[:3])
    failing = result.get("unexpected_count")
    count = f"{failing} of {result.get('element_count')} rows fail" if failing is not None else ""
    return f"{text}: {count}" + (f" (e.g. {examples})" if examples else "")


def run_checkpoint(settings: Settings) -> QualityReport:
    """Validate every data set in CHECKS; the report says what failed, where and how often."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    frames = _read_frames(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # After the import: GX sets its loggers' levels as it loads.
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations."):
                logging.getLogger(name).setLevel(logging.ERROR)

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        datasource = context.data_sources.add_pandas("spotiflow")
        results = []
        for name, checks in CHECKS.items():
            suite = context.suites.add(gx.ExpectationSuite(name=name))
            for kind, kwargs in checks:
                expectation = getattr(gxe, KINDS[kind][0])
                suite.add_expectation(expectation(**kwargs))
            batch = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            checkpoint = context.checkpoints.add(
                gx.Checkpoint(name=f"spotiflow {name}", validation_definitions=[definition])
            )
            outcome = checkpoint.run(batch_parameters={"dataframe": frames[name]})
            result = DatasetResult(name=name, rows=len(frames[name]), evaluated=len(checks))
            for validation in outcome.run_results.values():
                for (kind, kwargs), check in zip(checks, validation.results, strict=True):
                    if not check.success:
                        failure = _describe(kind, kwargs, check.result)
                        error = check.exception_info.get("exception_message")
                        if check.exception_info.get("raised_exception"):
                            failure += f" could not be evaluated ({error})"
                        result.failures.append(f"{name}: {failure}")
            results.append(result)
    return QualityReport(results)
