{#-
  Songs ranked by music streams within each group of `keys` (a user's week, or everyone's):
  plays, then minutes listened, then track_id, so ranks never depend on load order or engine.
  Plays whose track could not be identified have no song to rank. `extra_columns` are
  aggregate expressions with their aliases, added to each song's row.
-#}
{% macro ranked_songs(plays, keys, extra_columns=[]) -%}
    select
        {{ keys | join(', ') }},
        track_id,
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        max(track_name) as track_name,
        max(artist_name) as artist_name,
        count(*) as plays,
        {{ ms_to_minutes('sum(listened_ms)') }} as minutes_listened,
        {{ positivity_score(exact_avg('valence')) }} as positivity_score,
        -- bigint everywhere: Spark's row_number is an int.
        cast(row_number() over (
            partition by {{ keys | join(', ') }}
            order by count(*) desc, sum(listened_ms) desc, track_id asc
        ) as bigint) as song_rank

    from {{ plays }}
    where is_music_stream and track_id is not null
    group by {{ keys | join(', ') }}, track_id
{%- endmacro %}
