{#-
  The lake as its manifest has it. Every source of the lake (sources with meta lake: true) is a
  relation in the schema `lake` that reads exactly the committed loads' files: a file a killed
  landing left is not read, whoever builds (`spotiflow build` or a raw `dbt build`). on-run-start
  (re)creates them from the manifest, and fails the run, naming the load, when a committed
  load's file is gone: the marts would otherwise keep rows the lake no longer holds.
-#}

{% macro lake_root() -%}
    {{ return(env_var('SPOTIFLOW_DATA_DIR', 'data') ~ '/lake') }}
{%- endmacro %}

{#- The lake's sources (meta lake: true): entity (folder, the identifier) -> relation. -#}
{% macro lake_sources() -%}
    {%- set found = {} -%}
    {%- for node in graph.sources.values() if node.meta.get('lake') -%}
        {%- do found.update({node.identifier: api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.identifier
        )}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{% macro publish_committed_lake() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(adapter.dispatch('publish_committed_lake', 'spotiflow')()) }}
{%- endmacro %}

{% macro default__publish_committed_lake() -%}
    {%- do exceptions.raise_compiler_error(
        "the lake's sources are made for DuckDB only so far (target type " ~ target.type
        ~ "): macros/lake/committed_lake.sql has no " ~ target.type ~ "__publish_committed_lake"
    ) -%}
{%- endmacro %}

{#- A path DuckDB reads as itself in a string literal: it globs [, * and ? (so each becomes a
    one-character class) and the literal doubles '. -#}
{% macro _duckdb_literal_path(path) -%}
    {{ return(path
        | replace('[', '[[]') | replace('*', '[*]') | replace('?', '[?]')
        | replace("'", "''")) }}
{%- endmacro %}

{% macro duckdb__publish_committed_lake() -%}
    {%- set root = lake_root() -%}
    {%- set pattern = _duckdb_literal_path(root) -%}
    {%- set sources = lake_sources() -%}
    {%- set laid_out = run_query(
        "select string_split(file, '/')[-2] from glob('" ~ pattern ~ "/*/_schema.parquet')"
    ).columns[0].values() -%}
    {%- for entity in ['loads'] + (sources.keys() | list) if entity not in laid_out -%}
        {%- do exceptions.raise_compiler_error(
            "the lake in " ~ root ~ " has no " ~ entity ~ "/_schema.parquet: run "
            ~ "`spotiflow build` (or land any file with `spotiflow ingest`), which lays "
            ~ "the lake out"
        ) -%}
    {%- endfor -%}
    {#- The manifest first, then the files: a landing writes its files before its manifest
        row, so every load read here has its files listed below unless they are truly gone. -#}
    {%- set loads = run_query(
        "select load_id, coalesce(entities, '') as entities, rows_rejected from read_parquet('"
        ~ pattern ~ "/loads/*.parquet', union_by_name = true) order by load_id"
    ).rows -%}
    {%- set found = {} -%}
    {%- for row in run_query(
        "select string_split(file, '/')[-2], replace(string_split(file, '/')[-1], "
        ~ "'.parquet', ''), file from glob('" ~ pattern ~ "/*/*.parquet') order by file"
    ).rows -%}
        {%- do found.update({row[0] ~ '/' ~ row[1]: row[2]}) -%}
    {%- endfor -%}
    {%- set committed = {'_schema': true} -%}
    {%- set missing = [] -%}
    {%- for load in loads -%}
        {%- do committed.update({load[0]: true}) -%}
        {%- set written = load[1].split(',') | reject('equalto', '') | list
            + (['rejects'] if load[2] > 0 else []) -%}
        {%- for entity in written if (entity ~ '/' ~ load[0]) not in found -%}
            {%- do missing.append(entity ~ '/' ~ load[0]) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if missing -%}
        {%- set first_load = missing[0].split('/')[1] -%}
        {%- do exceptions.raise_compiler_error(
            missing | length ~ " file(s) of committed loads are gone from the lake in " ~ root
            ~ ", first " ~ missing[0] ~ ".parquet of load " ~ first_load
            ~ ". Restore the files from a backup, or withdraw the load with `spotiflow forget "
            ~ first_load ~ "` (it rebuilds the marts without the load; ingest its input again "
            ~ "to land it anew)."
        ) -%}
    {%- endif -%}
    {%- do run_query("create schema if not exists " ~ target.database ~ ".lake") -%}
    {%- for entity, relation in sources.items() | sort -%}
        {%- set paths = [] -%}
        {%- for key, file in found.items() | sort
                if key.split('/')[0] == entity and key.split('/')[1] in committed -%}
            {%- do paths.append("'" ~ _duckdb_literal_path(file) ~ "'") -%}
        {%- endfor -%}
        {%- do run_query(
            "create or replace view " ~ relation ~ " as select * from read_parquet(["
            ~ paths | join(', ') ~ "], union_by_name = true)"
        ) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#- PostgreSQL cannot read Parquet: `spotiflow build` copies each committed load into
    lake.<entity> before dbt runs (ingest/engines/postgres.py), once per load, and deletes a
    withdrawn one. Here the run only checks that the lake has been copied in at all. -#}
{% macro postgres__publish_committed_lake() -%}
    {%- set found = run_query(
        "select table_name from information_schema.tables where table_schema = 'lake'"
    ).columns[0].values() -%}
    {%- for entity in lake_sources().keys() | sort if entity not in found -%}
        {%- do exceptions.raise_compiler_error(
            "PostgreSQL has no lake." ~ entity ~ ": run `SPOTIFLOW_ENGINE=postgres spotiflow "
            ~ "build`, which copies the lake's committed loads in before dbt runs"
        ) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
