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

{#-
  Skip rate: skipped plays / plays whose source records skips (null when none does). Written as
  its two counts and their ratio, so an aggregate can keep the counts (per track and day, say)
  and a later one sum them before dividing: skip_rate(x) = skip_rate_of(skipped_plays(x),
  count(x)).
-#}
{% macro skipped_plays(is_skipped) -%}
    count(case when {{ is_skipped }} then 1 end)
{%- endmacro %}

{% macro skip_rate_of(skipped_plays, plays_with_skip_data) -%}
    cast({{ skipped_plays }} as {{ type_double() }}) / nullif({{ plays_with_skip_data }}, 0)
{%- endmacro %}

{% macro skip_rate(is_skipped) -%}
    {{ skip_rate_of(skipped_plays(is_skipped), 'count(' ~ is_skipped ~ ')') }}
{%- endmacro %}

{#-
  Completion rate: the mean completion ratio over plays where it is known; likewise its exact
  sum (decimals: the same digits in any order, on every engine) over its count.
-#}
{#- (The sum cast again: PostgreSQL's sum of a decimal(38, 18) is an unbounded numeric.) -#}
{% macro completion_ratio_sum(completion_ratio) -%}
    cast(sum(cast({{ completion_ratio }} as decimal(38, 18))) as decimal(38, 18))
{%- endmacro %}

{% macro completion_rate_of(completion_ratio_sum, plays_with_completion_data) -%}
    cast({{ completion_ratio_sum }} as {{ type_double() }})
    / nullif({{ plays_with_completion_data }}, 0)
{%- endmacro %}

{% macro completion_rate(completion_ratio) -%}
    {{ completion_rate_of(
        completion_ratio_sum(completion_ratio), 'count(' ~ completion_ratio ~ ')'
    ) }}
{%- endmacro %}
