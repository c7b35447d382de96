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
