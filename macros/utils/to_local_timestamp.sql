{#-
  A UTC timestamp (stored without a zone) as wall-clock time in an IANA zone. DuckDB (with its
  bundled ICU) and PostgreSQL both read `at time zone` twice: UTC in, the user's zone out.
-#}
{% macro to_local_timestamp(utc_timestamp, time_zone) -%}
    {{ return(adapter.dispatch('to_local_timestamp', 'spotiflow')(utc_timestamp, time_zone)) }}
{%- endmacro %}

{% macro default__to_local_timestamp(utc_timestamp, time_zone) -%}
    (({{ utc_timestamp }} at time zone 'UTC') at time zone {{ time_zone }})
{%- endmacro %}

{% macro snowflake__to_local_timestamp(utc_timestamp, time_zone) -%}
    convert_timezone('UTC', {{ time_zone }}, {{ utc_timestamp }})
{%- endmacro %}

{#- Spark rejects `at time zone`; its timestamps are instants shown in the session zone (UTC in
    the spark profile), and from_utc_timestamp shifts one to the zone's wall-clock time. -#}
{% macro spark__to_local_timestamp(utc_timestamp, time_zone) -%}
    from_utc_timestamp({{ utc_timestamp }}, {{ time_zone }})
{%- endmacro %}
