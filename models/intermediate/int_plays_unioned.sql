{{ config(materialized=view_read_many_times()) }}

{%- set columns = [
    'play_id', 'user_id', 'track_id', 'track_name', 'artist_name', 'played_at',
    'played_at_precision', 'play_seq', 'ms_played', 'content_type', 'is_skipped',
    'reason_start', 'reason_end', 'is_shuffle', 'platform', 'is_offline',
    'is_private_session', 'source', 'load_id', 'loaded_at',
] %}

with

lake_plays as (

    select * from {{ ref('stg_lake__plays') }}

),

extended_plays as (

    select * from {{ ref('stg_spotify_export__extended_plays') }}

),

account_plays as (

    select * from {{ ref('stg_spotify_export__account_plays') }}

),

-- Every source's plays in one shape; adding a source is one more import and one more branch.
-- Only the lake keeps a play's copies that a later load landed again (the exports' staging
-- keeps one record per play).
unioned as (

    {% for relation in ['lake_plays', 'extended_plays', 'account_plays'] %}
        select
            {{ columns | join(', ') }},
            {% if relation == 'lake_plays' -%}
                superseded_by_load_id,
                superseded_by_source
            {%- else -%}
                cast(null as {{ dbt.type_string() }}) as superseded_by_load_id,
                cast(null as {{ dbt.type_string() }}) as superseded_by_source
            {%- endif %}
        from {{ relation }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
