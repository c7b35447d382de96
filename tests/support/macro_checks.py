"""The statistics macros checked against scipy and statsmodels on any engine (`dbt show
--inline` on the settings' target): Student's t, Holm's adjustment and the verdict, the normal
and chi-square tails."""

from __future__ import annotations

import math

from scipy import stats

from spotiflow.settings import Settings

TOLERANCE = 1e-9


def assert_close(actual: object, expected: object, tolerance: float = TOLERANCE) -> None:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        assert actual is None or (isinstance(actual, float) and math.isnan(actual)), actual
        return
    assert actual is not None and abs(float(actual) - float(expected)) <= tolerance, (
        actual,
        expected,
    )


# The last: cos^(df - 1) of the integrand underflows a double, which PostgreSQL raises on.
T_CASES = [
    (0.0, 5.0),
    (1.0, 1.0),
    (2.5, 1.5),
    (-3.0, 2.909),
    (2.0, 40.0),
    (4.0, 4000.0),
    (1000.0, 200.0),
]


def show_rows(settings: Settings, sql: str) -> dict[int, object]:
    """`dbt show --inline` on the settings' engine, rows by their case_id."""
    # The product's call, which lets go of the warehouse after it (a later reader may open it).
    from spotiflow.warehouse.dbt import _invoke

    result = _invoke(
        settings,
        ["show", "--inline", sql, "--limit", "100", "--quiet",
         "--project-dir", str(settings.project_dir),
         "--profiles-dir", str(settings.project_dir),
         "--log-path", str(settings.data_dir / "logs")],
    )  # fmt: skip
    assert result.success, result.exception
    return {int(row["case_id"]): row for row in result.result.results[0].agate_table.rows}


def assert_student_t_agrees_with_scipy(settings: Settings) -> None:
    """On the settings' engine (its target): p-values and critical values within 1e-11."""
    inputs = " union all ".join(
        f"select {i} as case_id, cast({t} as {{{{ type_double() }}}}) as t_statistic, "
        f"cast({df} as {{{{ type_double() }}}}) as degrees_of_freedom"
        for i, (t, df) in enumerate(T_CASES)
    )
    sql = (
        f"with inputs as ({inputs}), "
        "{{ student_t_ctes('inputs', ['case_id'], 0.95, 'tested') }} "
        "select case_id, p_value, critical_value from tested order by case_id"
    )
    rows = show_rows(settings, sql)
    assert len(rows) == len(T_CASES)
    for i, (t, df) in enumerate(T_CASES):
        assert_close(rows[i]["p_value"], 2 * stats.t.sf(abs(t), df), tolerance=1e-11)
        assert_close(rows[i]["critical_value"], stats.t.ppf(0.975, df), tolerance=1e-10)


HOLM_CASES = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.9]


def assert_holm_agrees_with_statsmodels(settings: Settings) -> None:
    """The macros on a family of p-values with ties, on the settings' engine."""
    from statsmodels.stats.multitest import multipletests

    inputs = " union all ".join(
        f"select {i} as case_id, cast({p} as {{{{ type_double() }}}}) as p_value, "
        f"cast({(-1) ** i} as {{{{ type_double() }}}}) as difference"
        for i, p in enumerate(HOLM_CASES)
    )
    sql = (
        f"with inputs as ({inputs}), "
        "ranked as (select *, row_number() over (order by p_value, case_id) as p_rank, "
        "count(*) over () as family_size from inputs), "
        "adjusted as (select *, {{ holm_adjusted_p_value('p_value', 'p_rank', 'family_size', "
        "'family_size') }} as p_value_holm from ranked) "
        "select case_id, p_value_holm, {{ comparison_verdict('difference', 'p_value_holm', "
        "'true', 0.95) }} as verdict from adjusted order by case_id"
    )
    rows = show_rows(settings, sql)
    rejected, expected, _, _ = multipletests(HOLM_CASES, alpha=0.05, method="holm")
    for i, wanted in enumerate(expected):
        assert_close(rows[i]["p_value_holm"], wanted, tolerance=1e-12)
        verdict = ("better" if i % 2 == 0 else "worse") if rejected[i] else "no difference"
        assert rows[i]["verdict"] == verdict, i
    assert rejected.any() and not rejected.all()


NORMAL_CASES = [0.0, 0.5, 1.959963984540054, 3.0, 5.0, 7.5, 12.0, 40.0, -2.2]


CHI_SQUARE_CASES = [
    (0.0, 1),
    (3.84, 1),
    (10.83, 1),
    (0.5, 2),
    (7.0, 3),
    (25.0, 4),
    (40.0, 9),
    (2000.0, 4),  # e^-1000: underflows a double
]


def assert_normal_and_chi_square_agree_with_scipy(settings: Settings) -> None:
    """Two-sided normal p-values, normal critical values and chi-square tails, on the engine."""
    double = "{{ type_double() }}"
    normal = " union all ".join(
        f"select {i} as case_id, cast({z} as {double}) as z" for i, z in enumerate(NORMAL_CASES)
    )
    rows = show_rows(
        settings,
        f"with inputs as ({normal}) select case_id, "
        "{{ normal_two_sided_p_value('z') }} as p_value from inputs order by case_id",
    )
    for i, z in enumerate(NORMAL_CASES):
        expected = 2 * stats.norm.sf(abs(z))
        assert abs(float(rows[i]["p_value"]) - expected) <= 1e-15 + 1e-8 * expected, (z, rows[i])
    for level in (0.9, 0.95, 0.99):
        rows = show_rows(
            settings,
            f"with {{{{ normal_critical_value_ctes({level}, 'critical') }}}} "
            "select 0 as case_id, critical_value from critical",
        )
        assert_close(rows[0]["critical_value"], stats.norm.ppf((1 + level) / 2), 1e-12)
    chi = " union all ".join(
        f"select {i} as case_id, cast({x} as {double}) as chi_square, {df} as degrees_of_freedom"
        for i, (x, df) in enumerate(CHI_SQUARE_CASES)
    )
    rows = show_rows(
        settings,
        f"with inputs as ({chi}), "
        "{{ chi_square_p_value_ctes('inputs', ['case_id'], 'tested') }} "
        "select case_id, p_value from tested order by case_id",
    )
    for i, (x, df) in enumerate(CHI_SQUARE_CASES):
        expected = stats.chi2.sf(x, df)
        assert abs(float(rows[i]["p_value"]) - expected) <= 1e-14 + 1e-8 * expected, (x, df)
