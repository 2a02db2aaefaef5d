//! One suite for every store backend (STYLE.md #8): each case is written once, against a
//! [`harness::Harness`], and `conformance!` instantiates all of them per backend, as
//! `sqlite::<case>` and `postgres::<case>`. A new backend adds one line at the bottom.
//!
//! PostgreSQL cases need a server (see `harness.rs`); they fail, never skip, without one.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "cases are plain async fns called from the tests: a failure fails the test"
)]

mod harness;

mod read;
mod retention;
mod search;
mod sessions;
mod state;
mod write;

/// `conformance!(module_name, Backend::Variant; group::case, ...)`: one `#[tokio::test]` per case.
macro_rules! conformance {
    ($backend:ident, $variant:ident) => {
        conformance!(@cases $backend, $variant;
            write::append_reads_back_every_field,
            write::reappending_is_idempotent,
            write::empty_batch_is_a_no_op,
            write::text_with_nul_does_not_fail_the_batch,
            write::a_thousand_records_with_4kb_bodies_append_in_one_call,
            write::reopening_runs_no_migration_and_keeps_data,
            read::every_exchange_filter_narrows,
            read::cursor_pages_newest_first,
            read::limits_default_and_cap,
            read::unknown_ids_are_none,
            sessions::session_totals_add_up_and_first_seen_fields_stay,
            sessions::session_exchanges_are_oldest_first_with_bodies,
            sessions::set_session_title_sets_clears_and_refuses_unknown,
            sessions::list_sessions_filters_newest_activity_first,
            search::search_finds_words_and_requires_all,
            search::search_is_safe_against_query_syntax,
            search::search_respects_filters_and_paging,
            search::search_splits_words_like_code,
            search::search_matches_words_of_any_script,
            search::search_finds_history_stored_before_the_index_changed,
            retention::purge_drops_bodies_keeps_totals_and_search_forgets,
            state::state_round_trips_and_unknown_keys_are_none,
            state::state_put_replaces_value_and_creation_time,
            state::state_kinds_are_separate_namespaces,
            state::state_large_values_round_trip,
            state::state_purge_removes_only_older_entries_and_counts_them,
            state::state_is_shared_by_handles_and_survives_reopening,
            read::route_stats_group_routed_requests,
        );
    };
    (@cases $backend:ident, $variant:ident; $($group:ident :: $case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let h = crate::harness::Harness::new(crate::harness::Backend::$variant).await;
                    crate::$group::$case(&h).await;
                }
            )*
        }
    };
}

conformance!(sqlite, Sqlite);
conformance!(postgres, Postgres);
