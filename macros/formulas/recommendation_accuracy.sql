{#-
  Behaviour-based accuracy of one recommendation list, written once. A list is what a run
  recommended for one (user, seed track); its top k are judged against the tracks the user
  streamed in the window after it was generated (see fct_recommendation_accuracy).
-#}

{#- The DCG discount of a 1-based list position: 1 / log2(position + 1). -#}
{% macro dcg_discount(position) -%}
    (ln(2.0) / ln(cast({{ position }} as {{ type_double() }}) + 1.0))
{%- endmacro %}

{#- precision@k = hits / k (a list shorter than k still divides by k). -#}
{% macro precision_at_k(hits, k) -%}
    cast({{ hits }} as {{ type_double() }}) / {{ k }}
{%- endmacro %}

{#- recall@k = hits / relevant tracks in the window (null when the window has none). -#}
{% macro recall_at_k(hits, relevant_tracks) -%}
    cast({{ hits }} as {{ type_double() }}) / nullif({{ relevant_tracks }}, 0)
{%- endmacro %}

{#-
  NDCG@k = DCG / ideal DCG, binary relevance: DCG sums the discounts of the relevant positions
  in the top k; the ideal DCG sums the discounts of positions 1 .. min(k, relevant tracks).
  Null when the window has no relevant track.
-#}
{% macro ndcg_at_k(dcg, ideal_dcg) -%}
    {{ dcg }} / nullif({{ ideal_dcg }}, 0)
{%- endmacro %}

{#- Reciprocal rank = 1 / position of the first relevant track in the top k, 0 when none. -#}
{% macro reciprocal_rank(first_hit_position) -%}
    coalesce(1.0 / cast({{ first_hit_position }} as {{ type_double() }}), 0.0)
{%- endmacro %}

{#- Hit: at least one relevant track in the top k. Hit rate is its mean over lists. -#}
{% macro is_hit(hits) -%}
    ({{ hits }} > 0)
{%- endmacro %}

{#- A track is new to a user at a moment when they had not played it before that moment. -#}
{% macro is_new_to_user(first_played_at, moment) -%}
    ({{ first_played_at }} is null or {{ first_played_at }} >= {{ moment }})
{%- endmacro %}

{#- The end of a list's judgement window: generated_at + var('accuracy_window_days') days. -#}
{% macro accuracy_window_end(generated_at) -%}
    {{ dbt.dateadd('day', var('accuracy_window_days'), generated_at) }}
{%- endmacro %}

{#-
  The accuracy of many lists (rows of fct_recommendation_accuracy), for any grain: lists, hit
  rate@k, mean precision@k, recall@k and NDCG@k, MRR. Recall and NDCG average over the lists
  whose window has a relevant track (null otherwise).
-#}
{% macro accuracy_rollup_columns(alias='') -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    count(*) as lists,
    {{ share_of(prefix ~ 'is_hit') }} as hit_rate,
    {{ exact_avg(prefix ~ 'precision_at_k') }} as mean_precision_at_k,
    {{ exact_avg(prefix ~ 'recall_at_k') }} as mean_recall_at_k,
    {{ exact_avg(prefix ~ 'ndcg_at_k') }} as mean_ndcg_at_k,
    {{ exact_avg(prefix ~ 'reciprocal_rank') }} as mean_reciprocal_rank
{%- endmacro %}
