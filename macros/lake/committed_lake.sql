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
    {%- set listing -%}
        with found as (
            select
                file,
                string_split(file, '/')[-2] as entity,
                regexp_replace(string_split(file, '/')[-1], '\.parquet$', '') as stem
            from glob('{{ pattern }}/*/*.parquet')
        ),

        loads as (
            select load_id, entities, rows_rejected
            from read_parquet('{{ pattern }}/loads/*.parquet', union_by_name = true)
        ),

        expected as (
            select loads.load_id, unnest(string_split(loads.entities, ',')) as entity
            from loads
            where coalesce(loads.entities, '') <> ''
            union all
            select loads.load_id, 'rejects' as entity
            from loads
            where loads.rows_rejected > 0
        )

        select 'missing' as state, expected.entity, expected.load_id as stem, null as file
        from expected
        anti join found on expected.entity = found.entity and expected.load_id = found.stem
        union all
        select 'read' as state, found.entity, found.stem, found.file
        from found
        where
            found.stem = '_schema'
            or found.stem in (select loads.load_id from loads)
        order by state, entity, stem
    {%- endset -%}
    {%- set rows = run_query(listing).rows -%}
    {%- set missing = rows | selectattr(0, 'equalto', 'missing') | list -%}
    {%- if missing -%}
        {%- set first = missing[0] -%}
        {%- do exceptions.raise_compiler_error(
            missing | length ~ " file(s) of committed loads are gone from the lake in " ~ root
            ~ ", first " ~ first[1] ~ "/" ~ first[2] ~ ".parquet of load " ~ first[2]
            ~ ". Restore the files from a backup, or withdraw the load with `spotiflow forget "
            ~ first[2] ~ "` (it rebuilds the marts without the load; ingest its input again "
            ~ "to land it anew)."
        ) -%}
    {%- endif -%}
    {%- do run_query("create schema if not exists " ~ target.database ~ ".lake") -%}
    {%- for entity, relation in sources.items() | sort -%}
        {%- set paths = [] -%}
        {%- for row in rows if row[1] == entity -%}
            {%- do paths.append("'" ~ _duckdb_literal_path(row[3]) ~ "'") -%}
        {%- endfor -%}
        {%- do run_query(
            "create or replace view " ~ relation ~ " as select * from read_parquet(["
            ~ paths | join(', ') ~ "], union_by_name = true)"
        ) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
