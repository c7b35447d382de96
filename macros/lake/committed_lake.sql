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
        "the lake's sources are made for DuckDB, PostgreSQL and Spark, not " ~ target.type
        ~ ": macros/lake/committed_lake.sql has no " ~ target.type ~ "__publish_committed_lake"
    ) -%}
{%- endmacro %}

{#- A path DuckDB reads as itself in a string literal: it globs [, * and ? (so each becomes a
    one-character class) and the literal doubles '. -#}
{% macro _duckdb_literal_path(path) -%}
    {{ return(path
        | replace('[', '[[]') | replace('*', '[*]') | replace('?', '[?]')
        | replace("'", "''")) }}
{%- endmacro %}

{#- The committed loads (load_id -> true, and '_schema'), from the manifest's rows (load_id,
    entities, rows_rejected) and the files found ('<entity>/<name>' -> path): a compile error,
    naming the first load, when a committed load's file is gone. -#}
{% macro _committed_loads(root, loads, found) -%}
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
    {{ return(committed) }}
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
    {%- set committed = _committed_loads(root, loads, found) -%}
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

{#- The lake's files matching a glob under its root: '<entity>/<name>' -> path. Listed with the
    binaryFile source (its content column is never read) and ignoredPathSegmentRegex (Spark
    4.3), which stops Spark hiding _-prefixed files such as _schema.parquet. -#}
{% macro _spark_lake_files(root, glob) -%}
    {%- do run_query(
        "create or replace temporary view spotiflow_lake_files using binaryFile options (path "
        ~ spark_string_literal(root ~ '/' ~ glob) ~ ", ignoredPathSegmentRegex '^[.]')"
    ) -%}
    {%- set found = {} -%}
    {%- for row in run_query("select path from spotiflow_lake_files order by path").rows -%}
        {%- set parts = row[0].split('/') -%}
        {%- do found.update({parts[-2] ~ '/' ~ parts[-1][:-8]: row[0]}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#-
  Spark: each lake entity is an external table over its folder, lake.files__<entity>, with the
  columns of its _schema.parquet spelt out (Spark skips _-prefixed files, so it would neither
  see that schema nor infer one for an entity with no load yet), and the source relation,
  lake.<entity>, a view of its rows from the committed loads' files only (the hidden column
  _metadata.file_name). Recreated each run, so files landed since are seen even by a session
  that outlives a run.
-#}
{% macro spark__publish_committed_lake() -%}
    {%- set root = lake_root() -%}
    {%- set sources = lake_sources() -%}
    {#- (A lake folder that does not exist fails here, with Spark's PATH_NOT_FOUND.) -#}
    {%- set schemas = _spark_lake_files(root, '*/_schema.parquet') -%}
    {%- for entity in ['loads'] + (sources.keys() | list) if (entity ~ '/_schema') not in schemas -%}
        {%- do exceptions.raise_compiler_error(
            "the lake in " ~ root ~ " has no " ~ entity ~ "/_schema.parquet: run "
            ~ "`spotiflow build` (or land any file with `spotiflow ingest`), which lays "
            ~ "the lake out"
        ) -%}
    {%- endfor -%}
    {%- do run_query("create schema if not exists lake") -%}
    {%- for entity in ['loads'] + (sources.keys() | list | sort) -%}
        {%- do run_query(
            "create or replace temporary view spotiflow_lake_schema using parquet options (path "
            ~ spark_string_literal(schemas[entity ~ '/_schema']) ~ ", ignoredPathSegmentRegex '^[.]')"
        ) -%}
        {%- set described = [] -%}
        {%- for row in run_query("describe spotiflow_lake_schema").rows
                if row[0] and not row[0].startswith('#') -%}
            {#- pyarrow writes zone-less timestamps (Spark: timestamp_ntz); the models' timestamps
                are Spark's `timestamp`, which reads them as UTC (the session zone). -#}
            {%- do described.append(
                '`' ~ row[0] ~ '` ' ~ ('timestamp' if row[1] == 'timestamp_ntz' else row[1])
            ) -%}
        {%- endfor -%}
        {%- do run_query("drop view if exists lake.`" ~ entity ~ "`") -%}
        {%- do run_query("drop table if exists lake.`files__" ~ entity ~ "`") -%}
        {%- do run_query(
            "create table lake.`files__" ~ entity ~ "` (" ~ described | join(', ')
            ~ ") using parquet location " ~ spark_string_literal(root ~ '/' ~ entity)
        ) -%}
    {%- endfor -%}
    {#- The manifest first, then the files: a landing writes its files before its manifest
        row, so every load read here has its files listed below unless they are truly gone. -#}
    {%- set loads = run_query(
        "select load_id, coalesce(entities, '') as entities, rows_rejected "
        ~ "from lake.`files__loads` order by load_id"
    ).rows -%}
    {%- set found = _spark_lake_files(root, '*/*.parquet') -%}
    {%- set committed = _committed_loads(root, loads, found) -%}
    {%- for entity, relation in sources.items() | sort -%}
        {%- set files = [] -%}
        {%- for key in found.keys() | sort
                if key.split('/')[0] == entity and key.split('/')[1] in committed
                and key.split('/')[1] != '_schema' -%}
            {%- do files.append(spark_string_literal(key.split('/')[1] ~ '.parquet')) -%}
        {%- endfor -%}
        {%- do run_query(
            "create or replace view lake.`" ~ entity ~ "` as select * from lake.`files__"
            ~ entity ~ "` where "
            ~ ("_metadata.file_name in (" ~ files | join(', ') ~ ")" if files else "false")
        ) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
