{#-
  The listening figures of one period (a day, a week) per user, over music plays: plays, minutes,
  the scores, the vibe and each feature's average count streams only (macro is_stream); skip
  rate and completion rate describe every music play, short ones included (a skip is usually
  short). One definition for every grain: per user, or (per_user=false) over every listener's
  plays at once, with the number of listeners.
-#}
{% macro listening_summary(plays, period, per_user=true) -%}
    {%- set keys = ['user_id', period] if per_user else [period] -%}
    select
        {%- for key in keys %}
        aggregated.{{ key }},
        {%- endfor %}
        {%- if not per_user %}
        aggregated.listeners,
        {%- endif %}
        aggregated.plays,
        aggregated.minutes_listened,
        aggregated.plays_with_features,
        aggregated.short_plays,
        aggregated.skip_rate,
        aggregated.plays_with_skip_data,
        aggregated.completion_rate,
        aggregated.plays_with_completion_data,
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
            {{ keys | join(', ') }},
            {%- if not per_user %}
            count(distinct case when is_music_stream then user_id end) as listeners,
            {%- endif %}
            count(case when is_music_stream then 1 end) as plays,
            {{ ms_to_minutes('sum(case when is_music_stream then listened_ms end)') }}
                as minutes_listened,
            count(case when is_music_stream and has_audio_features then 1 end)
                as plays_with_features,
            count(case when not is_stream then 1 end) as short_plays,
            {{ skip_rate('is_skipped') }} as skip_rate,
            count(is_skipped) as plays_with_skip_data,
            {{ completion_rate('completion_ratio') }} as completion_rate,
            count(completion_ratio) as plays_with_completion_data,
            {%- for feature in ['acousticness', 'danceability', 'energy', 'instrumentalness',
                                'liveness', 'speechiness', 'valence'] %}
            {{ exact_avg('case when is_music_stream then ' ~ feature ~ ' end') }}
                as avg_{{ feature }}{{ ',' if not loop.last }}
            {%- endfor %}

        from {{ plays }}
        where content_type = 'music'
        group by {{ keys | join(', ') }}
    ) as aggregated
{%- endmacro %}
