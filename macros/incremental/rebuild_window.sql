{#-
  Incremental builds by rebuild window. Plays only ever arrive, but a new play can change more
  than its own row: it can make an older play from a worse source a duplicate, move a track's
  observed duration, close an accuracy window. So an incremental model does not append what is
  new; it deletes and rebuilds everything from the earliest point the new loads can reach:

  - plays:     from the new loads' earliest play, less the duplicate-play window, and from the
               earliest play without a track id of its own when the new loads name tracks
               (they may resolve it);
  - listening: the same, and from the first play of any track whose observed duration the new
               plays move; a load that changed tracks, audio features or a time zone rebuilds
               everything (those reach any play); models downstream (config `after`) rebuild
               the local days from the day before, and whole weeks from that day's Monday;
  - runs:      every recommendation run the new loads bring rows of, whole;
  - lists:     from the new loads' earliest list, from the earliest list whose accuracy window
               the rebuilt plays reach, and from every list whose window was still open.

  "New" is relative to the model's watermark: the start of its last successful build. Loads
  committed after this build started wait for the next one. `dbt build --full-refresh` gives the
  same rows (tests/test_incremental.py checks it); changing a var or a seed needs it.
-#}

{% macro builds_relation() -%}
    {{ return(adapter.dispatch('builds_relation', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__builds_relation() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=target.schema, identifier='incremental_builds'
    )) }}
{%- endmacro %}

{#- Spark has no database above its schemas (target.database is not to be set). -#}
{% macro spark__builds_relation() -%}
    {{ return(api.Relation.create(schema=target.schema, identifier='incremental_builds')) }}
{%- endmacro %}

{#- on-run-start: the log of incremental builds, one row per successful build of a model. -#}
{% macro create_incremental_builds_table() -%}
    {#- PostgreSQL: the target's schema holds no model, so dbt does not make it. -#}
    {%- if target.type == 'postgres' -%}
        create schema if not exists {{ adapter.quote(target.schema) }};
    {% endif -%}
    create table if not exists {{ builds_relation() }} (
        model_name {{ dbt.type_string() }},
        built_at timestamp,
        rebuilt_everything boolean,
        rebuilt_from timestamp
    )
{%- endmacro %}

{% macro _timestamp_literal(value) -%}
    cast('{{ value }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro _run_started() -%}
    {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}

{% macro _scalar_row(sql) -%}
    {{ return(run_query(sql).rows[0]) }}
{%- endmacro %}

{#-
  post-hook of every model (dbt_project.yml), a no-op but for incremental models; inside the
  model's transaction, so only a success is logged: what this build rebuilt, which is what the
  models downstream of it must rebuild.
-#}
{% macro log_incremental_build() -%}
    {%- set settings = config.get('rebuild_window') -%}
    {%- if settings is none or config.get('materialized') != 'incremental' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set window = rebuild_window(settings) -%}
    {%- set everything = window is none or window.everything -%}
    {%- set rebuilt_from = none if everything
        else window.get('rebuilt_from', window.get('played_at')) -%}
    insert into {{ builds_relation() }} (model_name, built_at, rebuilt_everything, rebuilt_from)
    values (
        '{{ this.identifier }}',
        {{ _timestamp_literal(_run_started()) }},
        {{ 'true' if everything else 'false' }},
        {{ 'null' if rebuilt_from is none else _timestamp_literal(rebuilt_from) }}
    )
{%- endmacro %}

{#- Rebuild the played_at window `played_at`, the lists generated from then (what they are
    scored on may have moved), and the local days and weeks (Monday first, as
    dbt.date_trunc('week') on every engine) it can reach. -#}
{% macro _play_window(played_at) -%}
    {%- set listen_date = none if played_at is none
        else (played_at - modules.datetime.timedelta(days=1)).date() -%}
    {{ return({
        'everything': false,
        'played_at': played_at,
        'generated_at': played_at,
        'listen_date': listen_date,
        'week_start': none if listen_date is none
            else listen_date - modules.datetime.timedelta(days=listen_date.weekday()),
    }) }}
{%- endmacro %}

{#- The earliest of several optional timestamps (none when there are none). -#}
{% macro _earliest(values) -%}
    {%- set known = values | reject('none') | list -%}
    {{ return((known | min) if known else none) }}
{%- endmacro %}

{#- The loads of `loads` (the manifest, staged or as the lake has it) committed after `since`
    and before this run started (later ones wait for the next run). -#}
{% macro _loads_committed_since(loads, since) -%}
    select * from {{ loads }}
    where
        finished_at > {{ _timestamp_literal(since) }}
        and finished_at <= {{ _timestamp_literal(_run_started()) }}
{%- endmacro %}

{#- The earliest play that new plays from `plays_from` on can repeat or be repeated by. -#}
{% macro _reached_by_plays_from(plays_from) -%}
    {{ return(none if plays_from is none
        else plays_from - modules.datetime.timedelta(seconds=var('duplicate_play_window_seconds'))
    ) }}
{%- endmacro %}

{#- From the loads committed since this model's last build: see the comment at the top. -#}
{% macro _window_from_loads(kind, since) -%}
    {%- set new_loads = _loads_committed_since(ref('stg_lake__loads'), since) -%}
    {%- set loads = _scalar_row(
        "select
            max(case
                when loaded_entities is null
                    or loaded_entities like '%tracks%'
                    or loaded_entities like '%audio_features%'
                    or loaded_entities like '%user_profiles%'
                then 1 else 0 end),
            min(plays_from),
            max(case
                when loaded_entities like '%tracks%'
                    or loaded_entities like '%spotify_export__extended_plays%'
                then 1 else 0 end)
        from (" ~ new_loads ~ ") as new_loads"
    ) -%}
    {%- set plays_from = _reached_by_plays_from(loads[1]) -%}
    {%- if kind == 'runs' -%}
        {{ return(_run_window(new_loads)) }}
    {%- endif -%}
    {%- if kind == 'plays' -%}
        {#- Newly named tracks can resolve any play that had no track id, however old. -#}
        {%- set unresolved_from = none -%}
        {%- if loads[2] == 1 -%}
            {%- set unresolved_from = _scalar_row(
                "select min(played_at) from " ~ this
                ~ " where track_resolution in ('name', 'ambiguous', 'unresolved')"
            )[0] -%}
        {%- endif -%}
        {{ return(_play_window(_earliest([plays_from, unresolved_from]))) }}
    {%- endif -%}
    {%- if plays_from is none and loads[0] != 1 -%}
        {{ return(_play_window(plays_from)) }}
    {%- endif -%}
    {%- if loads[0] == 1 -%}
        {{ return({'everything': true}) }}
    {%- endif -%}
    {#- Tracks without a duration take the median of their completed, not duplicated plays
        (int_tracks_enriched): a new completed one moves it for every play of the track. A new
        play cannot move it by making a completed play a duplicate: only extended history says
        how a play ended, and it is the best source, which nothing duplicates. -#}
    {%- set observed_from = _scalar_row(
        "select min(plays.played_at)
        from " ~ ref('int_plays_deduplicated') ~ " as plays
        inner join " ~ ref('int_tracks_enriched') ~ " as tracks
            on plays.track_id = tracks.track_id
        where
            tracks.duration_source = 'observed'
            and plays.track_id in (
                select new_plays.track_id
                from " ~ ref('int_plays_unioned') ~ " as new_plays
                where
                    new_plays.played_at >= " ~ _timestamp_literal(plays_from) ~ "
                    and new_plays.reason_end = 'trackdone'
                    and new_plays.load_id in (select new_loads.load_id from ("
                        ~ new_loads ~ ") as new_loads)
            )"
    )[0] -%}
    {{ return(_play_window(_earliest([plays_from, observed_from]))) }}
{%- endmacro %}

{#-
  Recommendations arrive by run: every run a new load brings a row of is rebuilt whole, from the
  lists as staged now (a run landed again replaces its rows, whichever load they came from).
  `run_id` is the subquery naming those runs; `rebuilt_from` their earliest list, before or
  after, which is where the models downstream start (a list answers for the local week it was
  generated in, which _play_window reaches).
-#}
{% macro _run_window(new_loads) -%}
    {%- set lists_from = _scalar_row(
        "select min(lists_from) from (" ~ new_loads ~ ") as new_loads"
    )[0] -%}
    {%- if lists_from is none -%}
        {{ return({'everything': false, 'run_id': none, 'rebuilt_from': none}) }}
    {%- endif -%}
    {%- set runs -%}
        select distinct new_lists.run_id
        from {{ ref('stg_lake__recommendations') }} as new_lists
        where
            new_lists.generated_at >= {{ _timestamp_literal(lists_from) }}
            and new_lists.load_id in (select new_loads.load_id from ({{ new_loads }}) as new_loads)
    {%- endset -%}
    {%- set rebuilt_from = _scalar_row(
        "select min(generated_at) from (
            select generated_at from " ~ this ~ " where run_id in (" ~ runs ~ ")
            union all
            select generated_at from " ~ ref('stg_lake__recommendations')
            ~ " where run_id in (" ~ runs ~ ")
        ) as rebuilt"
    )[0] -%}
    {{ return({'everything': false, 'run_id': runs, 'rebuilt_from': rebuilt_from}) }}
{%- endmacro %}

{#- From what the upstream incremental models (one name or a list) rebuilt in their builds
    since this model's: from the earliest point any of them rebuilt (a play's time, or a list's,
    which reaches its local week the same way). -#}
{% macro _window_after(upstream, since) -%}
    {%- set upstreams = [upstream] if upstream is string else upstream -%}
    {%- set rebuilt = _scalar_row(
        "select max(case when rebuilt_everything then 1 else 0 end), min(rebuilt_from)
        from " ~ builds_relation() ~ "
        where model_name in ('" ~ upstreams | join("', '") ~ "')
            and built_at > " ~ _timestamp_literal(since)
    ) -%}
    {%- if rebuilt[0] == 1 -%}
        {{ return({'everything': true}) }}
    {%- endif -%}
    {{ return(_play_window(rebuilt[1])) }}
{%- endmacro %}

{#-
  The window this incremental build rebuilds, for settings {'kind': plays | listening | runs}
  or {'after': <upstream model or models>}: a dict with `everything` (true: rebuild it all) and
  the earliest played_at, listen_date and week_start (for lists generated_at; for runs the
  run_id subquery) to rebuild, none where nothing is. Returns none outside an incremental
  build.
-#}
{% macro rebuild_window(settings) -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = _scalar_row(
        "select max(built_at) from " ~ builds_relation()
        ~ " where model_name = '" ~ this.identifier ~ "'"
    )[0] -%}
    {%- if since is none -%}
        {{ return({'everything': true}) }}
    {%- endif -%}
    {%- if 'after' in settings -%}
        {%- set window = _window_after(settings['after'], since) -%}
    {%- else -%}
        {%- set window = _window_from_loads(settings['kind'], since) -%}
    {%- endif -%}
    {%- if settings.get('lists') and not window.everything -%}
        {%- set open_or_new = _scalar_row(
            "select min(lists.generated_at)
            from " ~ ref(settings['lists']) ~ " as lists
            left join " ~ this ~ " as judged
                on
                    lists.run_id = judged.run_id
                    and lists.user_id = judged.user_id
                    and lists.seed_track_id = judged.seed_track_id
            where judged.run_id is null or not judged.is_window_complete"
        )[0] -%}
        {%- set reached = none if window.played_at is none
            else window.played_at - modules.datetime.timedelta(days=var('accuracy_window_days') + 1)
        -%}
        {%- do window.update({'generated_at': _earliest([open_or_new, reached])}) -%}
    {%- endif -%}
    {{ return(adapter.dispatch('align_rebuild_window', 'spotiflow')(window)) }}
{%- endmacro %}

{#-
  The predicate selecting a rebuild window's rows by one column (true in a full build), reaching
  `earlier_by_seconds` before the window. A constant bound, so DuckDB pushes it into the scan.
-#}
{% macro in_rebuild_window(window, column, key, earlier_by_seconds=0) -%}
    {%- if window is none or window.everything -%}
        true
    {%- elif window[key] is none -%}
        false
    {%- elif key in ('listen_date', 'week_start') -%}
        {{ column }} >= cast('{{ window[key] }}' as date)
    {%- elif key == 'run_id' -%}
        {{ column }} in ({{ window[key] }})
    {%- else -%}
        {%- set bound = window[key] - modules.datetime.timedelta(seconds=earlier_by_seconds) -%}
        {{ column }} >= {{ _timestamp_literal(bound) }}
    {%- endif -%}
{%- endmacro %}

{#-
  incremental_strategy='rebuild_window', with the settings of rebuild_window() in the config
  rebuild_window and `key`, the column that places a row in the window (played_at, listen_date
  generated_at, or week_start for weekly marts): delete the window's rows, insert the
  rebuild.
-#}
{% macro get_incremental_rebuild_window_sql(arg_dict) -%}
    {%- set settings = config.get('rebuild_window') -%}
    {%- set window = rebuild_window(settings) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ in_rebuild_window(window, settings['key'], settings['key']) }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#-
  The window as the engine can rebuild it. DuckDB and PostgreSQL delete rows and insert, from
  any point. Spark's plain Parquet tables cannot delete: a model is overwritten by whole
  partitions (days, config partition_by, see spark__rebuild_partition), so its window starts at
  midnight (UTC) of its first day, and a model without partitions rebuilds everything.
-#}
{% macro default__align_rebuild_window(window) -%}
    {{ return(window) }}
{%- endmacro %}

{% macro spark__align_rebuild_window(window) -%}
    {%- if window.everything -%}
        {{ return(window) }}
    {%- endif -%}
    {%- if not config.get('partition_by') -%}
        {{ return({'everything': true}) }}
    {%- endif -%}
    {%- set aligned = {} -%}
    {%- for key, value in window.items() -%}
        {%- if key in ('played_at', 'generated_at') and value is not none -%}
            {%- do aligned.update({key: modules.datetime.datetime.combine(
                value.date(), modules.datetime.time())}) -%}
        {%- else -%}
            {%- do aligned.update({key: value}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(aligned) }}
{%- endmacro %}

{#-
  How an incremental model replaces its window (config incremental_strategy): it deletes the
  window and inserts the rebuild (rebuild_window, below) on DuckDB and PostgreSQL; dbt's own
  delete+insert deletes only the keys present in the new rows, and a rebuild can empty a key
  (a day whose only play became a duplicate). Spark's plain Parquet tables cannot delete:
  dbt-spark's insert_overwrite, by day partitions, after the window's are dropped (below).
-#}
{% macro rebuild_strategy() -%}
    {{ return(adapter.dispatch('rebuild_strategy', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__rebuild_strategy() -%}
    {{ return('rebuild_window') }}
{%- endmacro %}

{% macro spark__rebuild_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#-
  The day column a model's table is partitioned by on engines that overwrite partitions rather
  than delete rows (Spark); none elsewhere (dbt-duckdb would warn it ignores partition_by).
-#}
{% macro rebuild_partition(column) -%}
    {{ return(adapter.dispatch('rebuild_partition', 'spotiflow')(column)) }}
{%- endmacro %}

{% macro default__rebuild_partition(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__rebuild_partition(column) -%}
    {{ return(column) }}
{%- endmacro %}

{#-
  Spark (dbt-spark's insert_overwrite, overridden): dynamic partition overwrite replaces only
  the partitions the rebuild has rows for, so a day whose rows all went (plays de-duplicated
  away) would keep its stale rows. The partitions from the window's first day are dropped
  first (all of them when it rebuilds everything). Spark 4.3 rejects a comparison in a
  partition spec (`drop partition (d >= ...)`), so each is listed and dropped by value.
-#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) %}
    {%- set settings = config.get('rebuild_window') -%}
    {%- set partition_by = config.get('partition_by') -%}
    {%- if settings is not none and partition_by -%}
        {%- set column = partition_by if partition_by is string else partition_by[0] -%}
        {%- set window = rebuild_window(settings) -%}
        {%- set first_day = none -%}
        {%- if window is none or window.everything -%}
            {%- set first_day = '0000-01-01' -%}
        {%- elif column in ('listen_date', 'week_start') and window[column] is not none -%}
            {%- set first_day = window[column] | string -%}
        {%- elif column not in ('listen_date', 'week_start')
                and window[settings['key']] is not none -%}
            {%- set first_day = window[settings['key']].date() | string -%}
        {%- endif -%}
        {%- if first_day is not none -%}
            {%- for row in run_query('show partitions ' ~ target_relation).rows -%}
                {%- set value = row[0].split('=', 1)[1] -%}
                {%- set is_null = value == '__HIVE_DEFAULT_PARTITION__' -%}
                {%- if (is_null and first_day == '0000-01-01') or (not is_null and value >= first_day) -%}
                    {%- do run_query(
                        'alter table ' ~ target_relation ~ ' drop if exists partition ('
                        ~ column ~ " = '" ~ value ~ "')"
                    ) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- set dest_columns = adapter.get_columns_in_relation(target_relation) -%}
    {%- set dest_cols_csv = dest_columns | map(attribute='quoted') | join(', ') -%}
    insert overwrite table {{ target_relation }}
    {{ partition_cols(label="partition") }}
    select {{ dest_cols_csv }} from {{ source_relation }}
{% endmacro %}
