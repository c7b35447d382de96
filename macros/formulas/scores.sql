{#-
  The dashboard's scores, written once. Each takes expressions that are already averages over
  plays (a track played ten times weighs ten), as the original workbook's AVG() did.
-#}

{#- Sum of weight * expression over the sum of weights; weights come from a var. -#}
{% macro weighted_average(expressions, weights) -%}
    {%- set total = weights.values() | sum -%}
    (
        {%- for name, expression in expressions.items() %}
        {{ weights[name] }} * {{ expression }}{{ ' +' if not loop.last }}
        {%- endfor %}
    ) / {{ total }}.0
{%- endmacro %}

{#- Energy score = weighted average of AVG(danceability), AVG(energy), AVG(liveness). -#}
{% macro energy_score(danceability, energy, liveness) -%}
    {{ weighted_average(
        {'danceability': danceability, 'energy': energy, 'liveness': liveness},
        var('energy_score_weights')
    ) }}
{%- endmacro %}

{#- Musicality score = weighted average of AVG(acousticness), AVG(instrumentalness). -#}
{% macro musicality_score(acousticness, instrumentalness) -%}
    {{ weighted_average(
        {'acousticness': acousticness, 'instrumentalness': instrumentalness},
        var('musicality_score_weights')
    ) }}
{%- endmacro %}

{#- Positivity score = AVG(valence). -#}
{% macro positivity_score(valence) -%}
    {{ valence }}
{%- endmacro %}

{#-
  Listening vibe: the vibe_buckets seed row whose [lower_bound, upper_bound) holds AVG(valence);
  a value on a boundary takes the higher bucket, a null average has no vibe.
-#}
{% macro listening_vibe(valence) -%}
    (
        select max(vibe_buckets.listening_vibe)
        from {{ ref('vibe_buckets') }} as vibe_buckets
        where
            {{ valence }} >= vibe_buckets.lower_bound
            and (
                {{ valence }} < vibe_buckets.upper_bound
                or vibe_buckets.upper_bound is null
            )
    )
{%- endmacro %}

{#- Milliseconds listened: ms_played where the source says, else the track's duration (a full play). -#}
{% macro listened_ms(ms_played, duration_ms) -%}
    coalesce({{ ms_played }}, {{ duration_ms }})
{%- endmacro %}

{#- Minutes from milliseconds (the workbook's duration_ms / 1000 / 60). -#}
{% macro ms_to_minutes(milliseconds) -%}
    cast({{ milliseconds }} as {{ type_double() }}) / 60000
{%- endmacro %}
