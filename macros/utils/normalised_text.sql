{#-
  Text as names are compared: Unicode NFKC, case-folded, runs of whitespace collapsed to one
  space, trimmed. "Ｓｔｒａßｅ  Ｎｏ.１" and "strasse no.1" are one name. DuckDB takes it from
  a registered function (spotiflow/warehouse/dbt_plugins/text_keys.py); PostgreSQL has NFKC but only lower
  case, which differs from case folding in a few letters (ß); Spark has neither, so it compares
  lower case with collapsed whitespace.
-#}
{% macro normalised_text(expression) -%}
    {{ return(adapter.dispatch('normalised_text', 'spotiflow')(expression)) }}
{%- endmacro %}

{% macro duckdb__normalised_text(expression) -%}
    spotiflow_normalised_text({{ expression }})
{%- endmacro %}

{% macro postgres__normalised_text(expression) -%}
    lower(btrim(regexp_replace(normalize({{ expression }}, NFKC), '\s+', ' ', 'g')))
{%- endmacro %}

{#- Spark 4.3 SQL has no NFKC and no case folding, but it ships ICU4J (for collations), whose
    static Normalizer.compose(s, true) is NFKC and UCharacter.foldCase(s, true) full case folding:
    reflect() calls them, in views too (a Python UDF is a temporary function, which a view
    cannot use). (?U) makes \s Unicode white space, as Python's str.split() nearly is. -#}
{% macro spark__normalised_text(expression) -%}
    {#- reflect() fails the query on a Java exception: compose(null) throws. -#}
    case when {{ expression }} is not null then trim(regexp_replace(
        reflect('com.ibm.icu.lang.UCharacter', 'foldCase',
            reflect('com.ibm.icu.text.Normalizer', 'compose', {{ expression }}, true), true),
        '(?U)\\s+', ' '
    )) end
{%- endmacro %}

{% macro default__normalised_text(expression) -%}
    lower(trim(regexp_replace({{ expression }}, '\\s+', ' ')))
{%- endmacro %}

{#-
  What names a track across sources: its normalised name and first artist. Account data and
  extended history name one artist, the Web API and catalogs all of them joined with ', '.
-#}
{% macro track_match_key(track_name, artist_name) -%}
    {{ dbt.concat([
        normalised_text(track_name),
        'chr(31)',
        normalised_text(dbt.split_part(artist_name, "', '", 1)),
    ]) }}
{%- endmacro %}
