"""The detail pages on a PostgreSQL index: the same tests as on SQLite (imported from their
modules, so pytest runs them here too), over the same history indexed into a PostgreSQL
database of this module's own. The pages' SQL (keyset pages, the date bisection, the oracles'
GROUP BY, the address search) must answer the same on both engines the index supports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from disburse.index.store import with_database
from tests.console.conftest import run_cli
from tests.console.test_pages_alerts import (  # noqa: F401 - collected here too
    test_a_manager_sees_only_their_programs_alerts,
    test_every_programs_alerts_most_severe_first,
)
from tests.console.test_pages_council import (  # noqa: F401
    open_proposals,
    test_an_open_force_release_is_decoded_counted_and_warned,
    test_executed_and_expired_proposals_are_below_in_their_state,
    test_members_and_threshold_are_the_councils,
)
from tests.console.test_pages_events import (  # noqa: F401
    test_a_bad_parameter_is_a_400_naming_it,
    test_a_manager_sees_only_their_programs_events,
    test_every_event_newest_first_page_after_page,
    test_the_csv_holds_the_same_events_in_base_units,
    test_the_date_range_is_the_blocks_times,
    test_the_first_block_at_a_time_is_found_by_bisection,
    test_the_kind_milestone_and_address_filters,
    test_the_program_filter_is_its_events_and_its_milestones,
)
from tests.console.test_pages_milestone import (  # noqa: F401
    test_a_verified_milestone_shows_its_window_and_the_freeze_command,
    test_an_open_milestone_shows_the_index_forecast,
    test_each_act_names_who_did_it,
    test_the_timeline_is_every_event_of_the_milestone,
)
from tests.console.test_pages_oracles import (  # noqa: F401
    test_a_manager_sees_the_oracles_work_on_their_programs,
    test_each_oracles_work_is_the_index_and_the_analytics,
)
from tests.console.test_pages_program import (  # noqa: F401
    test_each_s_curve_point_is_the_analytics_earned_value_at_its_instant,
    test_the_bands_are_the_thresholds_bands,
    test_the_baseline_history_is_the_index_one,
    test_the_program_page_shows_the_index_figures,
)
from tests.databases import PG_URL, require_postgres

pytest_plugins = ["tests.console._detail"]


@pytest.fixture(scope="module")
def index_url(console_history, open_proposals) -> Iterator[str]:  # noqa: F811
    """The history (with the council tests' open proposals) indexed into a new PostgreSQL
    database, dropped after the module."""
    require_postgres()
    name = f"disburse_console_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(PG_URL, name)
    try:
        result = run_cli(console_history.history.deployment_file, "index", "--db", url)
        assert result.exit_code == 0, result.output
        yield url
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_index_is_postgresql(reader):
    assert reader.store.engine.dialect.name == "postgresql"
