{#-
  Data tests that follow the new data. `spotiflow refresh` (new data, the same code) sets the
  var test_new_data_only; a generic data test configured `where: __new_plays__` or
  `where: __new_runs__` then reads only the rows that can have changed since this build's
  place (its database) last passed a whole `dbt build`:

  - __new_plays__: rows from the earliest play of the loads committed since, less the
    duplicate-play window (a repeat has the time of the play it repeats, so both are read),
    and, for an incremental model, from the earliest row any of its builds since rewrote (a
    failed build's too); everything when one of them rebuilt everything;
  - __new_runs__: the recommendation runs the loads committed since bring rows of (a view
    only: a table rebuilt by runs is tested whole).

  Rows outside were read by a passing build's tests before. Without the var (`spotiflow
  build`, a plain `dbt build`, `dbt test`, CI), in a full refresh and before the first passing
  build, every row is tested. A change to the project's code or tests needs `spotiflow build`,
  which tests everything, as it runs the unit tests the refresh leaves out.
-#}

{#- The log of whole `dbt build`s in which every test passed, beside incremental_builds. -#}
{% macro passing_builds_relation() -%}
    {{ return(builds_relation().incorporate(path={'identifier': 'passing_builds'})) }}
{%- endmacro %}

{#- on-run-start. -#}
{% macro create_passing_builds_table() -%}
    create table if not exists {{ passing_builds_relation() }} (
        built_at timestamp,
        full_refresh boolean
    )
{%- endmacro %}

{#-
  on-run-end: record a `dbt build` of the whole project (no selection; unit tests may be left
  out) in which nothing failed, errored or was skipped.
-#}
{% macro log_passing_build(results) -%}
    {%- if not execute or flags.WHICH != 'build' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set args = invocation_args_dict -%}
    {%- if args.get('select') or args.get('exclude') or args.get('selector') or args.get('empty')
    -%}
        {{ return('') }}
    {%- endif -%}
    {%- for result in results if result.status in ('error', 'fail', 'skipped') -%}
        {{ return('') }}
    {%- endfor -%}
    insert into {{ passing_builds_relation() }} (built_at, full_refresh)
    values (
        {{ _timestamp_literal(_run_started()) }},
        {{ 'true' if flags.FULL_REFRESH else 'false' }}
    )
{%- endmacro %}

{#-
  The predicate selecting the rows a test of `relation` reads (see above), for kind 'plays' or
  'runs'; '' for every row.
-#}
{% macro new_data_tested(kind, relation) -%}
    {%- if not execute or not var('test_new_data_only') or flags.FULL_REFRESH -%}
        {{ return('') }}
    {%- endif -%}
    {%- set since = _scalar_row(
        "select max(built_at) from " ~ passing_builds_relation()
        ~ " where built_at < " ~ _timestamp_literal(_run_started())
    )[0] -%}
    {%- if since is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rewritten = _scalar_row(
        "select count(*), max(case when rebuilt_everything then 1 else 0 end), min(rebuilt_from)
        from " ~ builds_relation() ~ "
        where model_name = '" ~ relation.identifier ~ "' and built_at > "
        ~ _timestamp_literal(since)
    ) -%}
    {%- if rewritten[1] == 1 or (kind == 'runs' and rewritten[0] > 0) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set lake = lake_sources() -%}
    {#- The lake's manifest, not its staging model: a test may not ref what it does not test. -#}
    {%- set new_loads = _loads_committed_since(lake['loads'], since) -%}
    {%- if kind == 'runs' -%}
        {{ return(_new_runs(lake['recommendations'], new_loads)) }}
    {%- endif -%}
    {%- set plays_from = _scalar_row("select min(plays_from) from (" ~ new_loads ~ ") as new_loads")[0] -%}
    {%- set tested_from = _earliest([_reached_by_plays_from(plays_from), rewritten[2]]) -%}
    {%- if tested_from is none -%}
        {{ return('1 = 0') }}
    {%- endif -%}
    {#- A row without a time is new or not: it is read (not_null finds it). -#}
    {{ return('(played_at >= ' ~ _timestamp_literal(tested_from) ~ ' or played_at is null)') }}
{%- endmacro %}

{#- The runs the new loads bring rows of, as a list of literals DuckDB pushes into the scan
    (run_id partitions the staging view's deduplication); every row past a thousand runs. -#}
{% macro _new_runs(recommendations, new_loads) -%}
    {%- set runs = run_query(
        "select distinct lists.run_id from " ~ recommendations ~ " as lists
        where lists.load_id in (select new_loads.load_id from (" ~ new_loads ~ ") as new_loads)
        order by 1"
    ).columns[0].values() -%}
    {%- if runs | length == 0 -%}
        {{ return('1 = 0') }}
    {%- endif -%}
    {%- if runs | length > 1000 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for run in runs if run is not none -%}
        {%- do literals.append("'" ~ (run | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- set listed = 'run_id in (' ~ literals | join(', ') ~ ')' if literals else '1 = 0' -%}
    {#- A row without a run is read (not_null finds it). -#}
    {{ return('(' ~ listed ~ ' or run_id is null)') }}
{%- endmacro %}

{#- dbt's where config (dbt.get_where_subquery), reading the placeholders above. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__new_plays__' -%}
        {%- set where = new_data_tested('plays', relation) -%}
    {%- elif where == '__new_runs__' -%}
        {%- set where = new_data_tested('runs', relation) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
