{#-
  A play's id from what identifies it: the listener, what was played (a track id, else a uri,
  else its kind and names), when it ended, to which precision, and the ordinal that keeps equal
  records of one load apart. Portable: dbt's hash (md5) over text every engine writes alike.
-#}
{% macro play_id(user_id, play_key, played_at, precision, play_seq) -%}
    {{ dbt.hash(dbt.concat([
        user_id, "'|'",
        play_key, "'|'",
        'cast(' ~ played_at ~ ' as ' ~ dbt.type_string() ~ ')', "'|'",
        precision, "'|'",
        'cast(' ~ play_seq ~ ' as ' ~ dbt.type_string() ~ ')',
    ])) }}
{%- endmacro %}

{#-
  An export's plays (`relation`: user_id, played_at, play_key, ms_played, source_file,
  record_number, load_id, loaded_at) identified: equal records of one load (same listener, end
  time and play_key) are numbered the longest first, so the same record in another load (the
  same person's later export) gets the same number and id, and is kept once.
-#}
{% macro export_plays_identified(relation, precision) -%}
    {%- set numbered -%}
        (
            select
                {{ play_id('user_id', 'play_key', 'played_at', "'" ~ precision ~ "'", 'play_seq') }}
                    as play_id,
                numbered.*
            from (
                select
                    records.*,
                    row_number() over (
                        partition by records.load_id, records.user_id, records.played_at,
                        records.play_key
                        order by
                            coalesce(records.ms_played, -1) desc,
                            records.source_file asc,
                            records.record_number asc
                    ) as play_seq
                from {{ relation }} as records
            ) as numbered
        )
    {%- endset -%}
    {{ deduplicate(
        numbered,
        'user_id, played_at, play_id',
        'coalesce(ms_played, -1) desc, loaded_at desc, load_id desc'
    ) }}
{%- endmacro %}

{#-
  A day-precision play's id (legacy files), as their reader gives it
  (ingest/sources/legacy_csv/reader.py: stable_hash(user_id, track_id, played_at.isoformat(),
  play_seq)): the first 24 hex digits of SHA-256 over the listener, the track, the day as an ISO
  timestamp at midnight and the ordinal, joined by U+001F. stg_lake__plays gives an ordinal that
  continues across loads (see there); the ordinal a load's own rows have, the id they landed
  with.
-#}
{% macro day_play_id(user_id, track_id, played_at, ordinal) -%}
    substr({{ sha256_hex(dbt.concat([
        user_id, 'chr(31)',
        'coalesce(' ~ track_id ~ ", '')", 'chr(31)',
        'cast(cast(' ~ played_at ~ ' as date) as ' ~ dbt.type_string() ~ ')', "'T00:00:00'",
        'chr(31)',
        'cast(' ~ ordinal ~ ' as ' ~ dbt.type_string() ~ ')',
    ])) }}, 1, 24)
{%- endmacro %}

{#- SHA-256 of a text's UTF-8 bytes, as 64 lowercase hex digits, as each engine spells it. -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'spotiflow')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro postgres__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}
