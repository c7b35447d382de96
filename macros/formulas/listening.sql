{#-
  What counts as listening, written once: streams, skips and completion.
-#}

{#-
  A stream: a play of at least var('min_stream_ms') (Spotify's 30 s). A play whose length the
  source does not record (API polls, legacy files) counts: Spotify lists a play after ~30 s.
-#}
{% macro is_stream(ms_played) -%}
    coalesce({{ ms_played }} >= {{ var('min_stream_ms') }}, true)
{%- endmacro %}

{#- Share of the track played: ms_played / duration_ms, capped at 1; null where either is unknown. -#}
{% macro completion_ratio(ms_played, duration_ms) -%}
    case
        -- least() skips nulls in some engines: an unknown ms_played must stay unknown.
        when {{ ms_played }} is not null and {{ duration_ms }} > 0
            then least(
                cast({{ ms_played }} as {{ type_double() }}) / {{ duration_ms }}, 1.0
            )
    end
{%- endmacro %}

{#- Skip rate: skipped plays / plays whose source records skips (null when none does). -#}
{% macro skip_rate(is_skipped) -%}
    {{ exact_avg('case when ' ~ is_skipped ~ ' then 1 when not ' ~ is_skipped ~ ' then 0 end') }}
{%- endmacro %}

{#- Completion rate: the mean completion ratio over plays where it is known. -#}
{% macro completion_rate(completion_ratio) -%}
    {{ exact_avg(completion_ratio) }}
{%- endmacro %}
