{#-
  The lake as its manifest has it. Every source of the lake (sources with meta lake: true) is a
  relation in the schema `lake` that reads exactly the committed loads' rows: a file a killed
  landing or compaction left is not read, whoever builds (`spotiflow build` or a raw `dbt
  build`). on-run-start (re)creates them from the compaction records and the manifest, and fails
  the run, naming the load, when a committed load's file is gone: the marts would otherwise keep
  rows the lake no longer holds. Which files are read is one rule, _committed_lake below, the
  same as ingest/lake/files.py's in Python.
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

{#- The live compactions' loads: entity -> {load_id: the compacted file's name without
    .parquet}, from the records' rows (compaction_id, entity, file_name, load_id, replaces). A
    compaction is live while no other record replaces it. -#}
{% macro _lake_compactions(records) -%}
    {%- set replaced = {} -%}
    {%- for record in records if record[4] is not none -%}
        {%- do replaced.update({record[4]: true}) -%}
    {%- endfor -%}
    {%- set held = {} -%}
    {%- for record in records
            if record[3] is not none and record[2] is not none and record[0] not in replaced -%}
        {%- if record[1] not in held -%}
            {%- do held.update({record[1]: {}}) -%}
        {%- endif -%}
        {%- do held[record[1]].update({record[3]: record[2][:-8]}) -%}
    {%- endfor -%}
    {{ return(held) }}
{%- endmacro %}

{#- The manifest's files ('loads/<name>' keys of `listed`, the loads folder's files): the live
    compacted manifests, and the per-load ones (loads/<load_id>) no live compaction holds. A
    compacted manifest that is gone fails the run: its loads would silently leave the lake. -#}
{% macro _manifest_keys(root, held, listed) -%}
    {%- set holds = held.get('loads', {}) -%}
    {%- set keys = [] -%}
    {%- for name in holds.values() | unique | sort -%}
        {%- if ('loads/' ~ name) not in listed -%}
            {%- do exceptions.raise_compiler_error(
                "the lake in " ~ root ~ " has lost loads/" ~ name ~ ".parquet, the manifest of "
                ~ "compacted loads: restore it from a backup before anything else lands or builds"
            ) -%}
        {%- endif -%}
        {%- do keys.append('loads/' ~ name) -%}
    {%- endfor -%}
    {%- for key in listed.keys() | sort -%}
        {%- set name = key.split('/')[1] -%}
        {%- if not name.startswith('_') and not name.startswith('compacted-')
                and name not in holds -%}
            {%- do keys.append(key) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}

{#- What each entity's source reads: entity -> {'files': ['<entity>/<name>' keys of `found`],
    'withdrawn': [load ids]}, from the manifest's rows (load_id, entities, rows_rejected), the
    live compactions (held), the manifest's own keys and the files found ('<entity>/<name>' ->
    path). An entity reads the live compacted files holding a committed load and the committed
    loads' own files no live compaction holds; rows of loads no longer committed (withdrawn)
    in those compacted files are left out. A compile error, naming the first file and its load,
    when a committed load's file is gone. -#}
{% macro _committed_lake(root, loads, held, manifest_keys, found, entities) -%}
    {%- set committed = {} -%}
    {%- for load in loads -%}
        {%- do committed.update({load[0]: true}) -%}
    {%- endfor -%}
    {%- set missing = {} -%}
    {%- for load in loads -%}
        {%- set written = load[1].split(',') | reject('equalto', '') | list
            + (['rejects'] if load[2] > 0 else []) -%}
        {%- for entity in written -%}
            {%- set key = entity ~ '/' ~ held.get(entity, {}).get(load[0], load[0]) -%}
            {%- if key not in found and key not in missing -%}
                {%- do missing.update({key: load[0]}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if missing -%}
        {%- set first = missing.keys() | sort | first -%}
        {%- set first_load = missing[first] -%}
        {%- do exceptions.raise_compiler_error(
            missing | length ~ " file(s) of committed loads are gone from the lake in " ~ root
            ~ ", first " ~ first ~ ".parquet of load " ~ first_load
            ~ ". Restore the files from a backup, or withdraw the load with `spotiflow forget "
            ~ first_load ~ "` (it rebuilds the marts without the load; ingest its input again "
            ~ "to land it anew)."
        ) -%}
    {%- endif -%}
    {%- set plan = {'loads': {'files': manifest_keys, 'withdrawn': []}} -%}
    {%- for entity in entities if entity != 'loads' -%}
        {%- set holds = held.get(entity, {}) -%}
        {%- set reading = [] -%}
        {%- for load, name in holds.items() | sort -%}
            {%- if load in committed and (entity ~ '/' ~ name) not in reading -%}
                {%- do reading.append(entity ~ '/' ~ name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set withdrawn = [] -%}
        {%- for load, name in holds.items() | sort -%}
            {%- if load not in committed and (entity ~ '/' ~ name) in reading -%}
                {%- do withdrawn.append(load) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set files = [] -%}
        {%- for key in reading if key in found -%}
            {%- do files.append(key) -%}
        {%- endfor -%}
        {%- for key in found.keys() | sort -%}
            {%- set parts = key.split('/') -%}
            {%- if parts[0] == entity and parts[1] in committed and parts[1] not in holds -%}
                {%- do files.append(key) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do plan.update({entity: {'files': files, 'withdrawn': withdrawn}}) -%}
    {%- endfor -%}
    {{ return(plan) }}
{%- endmacro %}

{% macro _duckdb_string(value) -%}
    {{ return("'" ~ value | replace("'", "''") ~ "'") }}
{%- endmacro %}

{#- A condition leaving out rows of withdrawn loads (literal: the engine's string literal);
    none, so filters push down whole, when there are none. -#}
{% macro _without_loads(withdrawn, literal) -%}
    {%- if not withdrawn -%}
        {{ return('') }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for load in withdrawn -%}
        {%- do names.append(literal(load)) -%}
    {%- endfor -%}
    {{ return("load_id not in (" ~ names | join(', ') ~ ")") }}
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
    {#- The records first, then the manifest, then the files: a compaction writes its file
        before its record, a landing its files before its manifest row, so every file read
        here is listed below unless it is truly gone. -#}
    {%- set records = [] if 'compactions' not in laid_out else run_query(
        "select compaction_id, entity, file_name, load_id, replaces from read_parquet('"
        ~ pattern ~ "/compactions/*.parquet', union_by_name = true) order by compaction_id"
    ).rows -%}
    {%- set held = _lake_compactions(records) -%}
    {%- set listed = {} -%}
    {%- for row in run_query(
        "select replace(string_split(file, '/')[-1], '.parquet', ''), file from glob('"
        ~ pattern ~ "/loads/*.parquet') order by file"
    ).rows -%}
        {%- do listed.update({'loads/' ~ row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- set manifest_keys = _manifest_keys(root, held, listed) -%}
    {%- set manifest_paths = [] -%}
    {%- for key in manifest_keys -%}
        {%- do manifest_paths.append("'" ~ _duckdb_literal_path(listed[key]) ~ "'") -%}
    {%- endfor -%}
    {%- set loads = [] if not manifest_paths else run_query(
        "select load_id, coalesce(entities, '') as entities, rows_rejected from read_parquet(["
        ~ manifest_paths | join(', ') ~ "], union_by_name = true) order by load_id"
    ).rows -%}
    {%- set found = {} -%}
    {%- for row in run_query(
        "select string_split(file, '/')[-2], replace(string_split(file, '/')[-1], "
        ~ "'.parquet', ''), file from glob('" ~ pattern ~ "/*/*.parquet') order by file"
    ).rows -%}
        {%- do found.update({row[0] ~ '/' ~ row[1]: row[2]}) -%}
    {%- endfor -%}
    {%- do found.update(listed) -%}
    {%- set plan = _committed_lake(root, loads, held, manifest_keys, found, sources.keys() | list) -%}
    {%- do run_query("create schema if not exists " ~ target.database ~ ".lake") -%}
    {%- for entity, relation in sources.items() | sort -%}
        {%- set paths = ["'" ~ _duckdb_literal_path(found[entity ~ '/_schema']) ~ "'"] -%}
        {%- for key in plan[entity]['files'] -%}
            {%- do paths.append("'" ~ _duckdb_literal_path(found[key]) ~ "'") -%}
        {%- endfor -%}
        {%- set keep = _without_loads(plan[entity]['withdrawn'], _duckdb_string) -%}
        {%- do run_query(
            "create or replace view " ~ relation ~ " as select * from read_parquet(["
            ~ paths | join(', ') ~ "], union_by_name = true)" ~ (" where " ~ keep if keep else "")
        ) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#- PostgreSQL cannot read Parquet: `spotiflow build` copies each committed load into
    lake.<entity> before dbt runs (spotiflow/warehouse/engines/postgres.py), once per load, and deletes a
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
    {%- set tables = ['loads'] + (sources.keys() | list | sort)
        + (['compactions'] if 'compactions/_schema' in schemas else []) -%}
    {%- for entity in tables | unique -%}
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
    {#- The records first, then the manifest, then the files: a compaction writes its file
        before its record, a landing its files before its manifest row, so every file read
        here is listed below unless it is truly gone. -#}
    {%- set records = [] if 'compactions/_schema' not in schemas else run_query(
        "select compaction_id, entity, file_name, load_id, replaces "
        ~ "from lake.`files__compactions` order by compaction_id"
    ).rows -%}
    {%- set held = _lake_compactions(records) -%}
    {%- set listed = _spark_lake_files(root, 'loads/*.parquet') -%}
    {%- set manifest_keys = _manifest_keys(root, held, listed) -%}
    {%- set manifest_names = [] -%}
    {%- for key in manifest_keys -%}
        {%- do manifest_names.append(spark_string_literal(key.split('/')[1] ~ '.parquet')) -%}
    {%- endfor -%}
    {%- set loads = [] if not manifest_names else run_query(
        "select load_id, coalesce(entities, '') as entities, rows_rejected "
        ~ "from lake.`files__loads` where _metadata.file_name in ("
        ~ manifest_names | join(', ') ~ ") order by load_id"
    ).rows -%}
    {%- set found = _spark_lake_files(root, '*/*.parquet') -%}
    {%- do found.update(listed) -%}
    {%- set plan = _committed_lake(root, loads, held, manifest_keys, found, sources.keys() | list) -%}
    {%- for entity, relation in sources.items() | sort -%}
        {%- set files = [] -%}
        {%- for key in plan[entity]['files'] -%}
            {%- do files.append(spark_string_literal(key.split('/')[1] ~ '.parquet')) -%}
        {%- endfor -%}
        {%- set keep = _without_loads(plan[entity]['withdrawn'], spark_string_literal) -%}
        {%- do run_query(
            "create or replace view lake.`" ~ entity ~ "` as select * from lake.`files__"
            ~ entity ~ "` where "
            ~ ("_metadata.file_name in (" ~ files | join(', ') ~ ")" if files else "false")
            ~ (" and " ~ keep if keep else "")
        ) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
