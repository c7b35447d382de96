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

{#-
  Graded relevance: a relevant track's gain is the number of times the user streamed it in the
  window (linear gain, as ranx's ndcg; not 2^rel − 1, which a track streamed 40 times would
  make dwarf every other). Graded NDCG@k = Σ_{i ≤ k} gain_i / log2(i + 1) over the ideal: the
  same sum with the relevant tracks ordered by gain; macro ndcg_at_k divides them.
-#}
{% macro graded_gain(streams) -%}
    cast({{ streams }} as {{ type_double() }})
{%- endmacro %}

{#-
  Average precision@k = Σ over relevant positions i ≤ k of precision@i, over min(k, |R|): a
  list whose top k is all relevant (or holds all of R) scores 1 (Recommenders ≥ 1.2's map_at_k;
  ranx's map@k divides by |R|). Null when |R| = 0.
-#}
{% macro average_precision_at_k(precision_sum, relevant_tracks, k) -%}
    {{ precision_sum }} / nullif(least({{ relevant_tracks }}, {{ k }}), 0)
{%- endmacro %}

{#-
  Average precision = Σ over every relevant position i of the whole list of precision@i, over
  |R| (ranx's and Recommenders' map). Null when |R| = 0.
-#}
{% macro average_precision(precision_sum, relevant_tracks) -%}
    {{ precision_sum }} / nullif({{ relevant_tracks }}, 0)
{%- endmacro %}

{#-
  R-precision = relevant tracks in the list's first |R| positions, over |R| (a list shorter
  than |R| still divides by |R|). Null when |R| = 0.
-#}
{% macro r_precision(hits_in_top_r, relevant_tracks) -%}
    cast({{ hits_in_top_r }} as {{ type_double() }}) / nullif({{ relevant_tracks }}, 0)
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
  rate@k, mean precision@k, recall@k, NDCG@k (binary and graded), MAP@k, MAP, mean
  r-precision, MRR. All but hit rate, precision and MRR average over the lists whose window has
  a relevant track (their per-list value is null otherwise).
-#}
{% macro accuracy_rollup_columns(alias='') -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    count(*) as lists,
    {{ share_of(prefix ~ 'is_hit') }} as hit_rate,
    {{ exact_avg(prefix ~ 'precision_at_k') }} as mean_precision_at_k,
    {{ exact_avg(prefix ~ 'recall_at_k') }} as mean_recall_at_k,
    {{ exact_avg(prefix ~ 'ndcg_at_k') }} as mean_ndcg_at_k,
    {{ exact_avg(prefix ~ 'graded_ndcg_at_k') }} as mean_graded_ndcg_at_k,
    {{ exact_avg(prefix ~ 'average_precision_at_k') }} as mean_average_precision_at_k,
    {{ exact_avg(prefix ~ 'average_precision') }} as mean_average_precision,
    {{ exact_avg(prefix ~ 'r_precision') }} as mean_r_precision,
    {{ exact_avg(prefix ~ 'reciprocal_rank') }} as mean_reciprocal_rank
{%- endmacro %}
