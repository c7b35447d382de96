{#-
  The listening figures of one period (a day, a week) per user: plays, minutes, the scores, the
  vibe and each feature's average, all over the period's plays. One definition for every grain.
-#}
{% macro listening_summary(plays, period) -%}
    select
        aggregated.user_id,
        aggregated.{{ period }},
        aggregated.plays,
        aggregated.minutes_listened,
        aggregated.plays_with_features,
        {{ energy_score(
            'aggregated.avg_danceability', 'aggregated.avg_energy', 'aggregated.avg_liveness'
        ) }} as energy_score,
        {{ musicality_score(
            'aggregated.avg_acousticness', 'aggregated.avg_instrumentalness'
        ) }} as musicality_score,
        {{ positivity_score('aggregated.avg_valence') }} as positivity_score,
        {{ listening_vibe('aggregated.avg_valence') }} as listening_vibe,
        aggregated.avg_acousticness,
        aggregated.avg_danceability,
        aggregated.avg_energy,
        aggregated.avg_instrumentalness,
        aggregated.avg_liveness,
        aggregated.avg_speechiness,
        aggregated.avg_valence

    from (
        select
            user_id,
            {{ period }},
            count(*) as plays,
            {{ ms_to_minutes('sum(listened_ms)') }} as minutes_listened,
            count(case when has_audio_features then 1 end) as plays_with_features,
            {{ exact_avg('acousticness') }} as avg_acousticness,
            {{ exact_avg('danceability') }} as avg_danceability,
            {{ exact_avg('energy') }} as avg_energy,
            {{ exact_avg('instrumentalness') }} as avg_instrumentalness,
            {{ exact_avg('liveness') }} as avg_liveness,
            {{ exact_avg('speechiness') }} as avg_speechiness,
            {{ exact_avg('valence') }} as avg_valence

        from {{ plays }}
        group by user_id, {{ period }}
    ) as aggregated
{%- endmacro %}
