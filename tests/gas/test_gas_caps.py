"""Gas of the hot paths stays under the caps of the escrow issue, and above the lower bound the
storage layout allows (a figure under its bound would mean the bound model is wrong)."""

import pytest

from scripts.gas import CAPS, measure


@pytest.fixture(scope="module")
def rows():
    return {r.operation: r for r in measure()}


def test_every_capped_operation_is_measured(rows):
    assert set(rows) == set(CAPS)


@pytest.mark.parametrize("operation", sorted(CAPS))
def test_operation_gas_is_under_its_cap(rows, operation):
    row = rows[operation]
    assert row.gas <= CAPS[operation], f"{operation}: {row.gas:,} gas over cap {CAPS[operation]:,}"


@pytest.mark.parametrize("operation", sorted(CAPS))
def test_operation_gas_is_not_below_its_lower_bound(rows, operation):
    row = rows[operation]
    assert row.gas >= row.lower_bound, f"{operation}: {row.gas:,} < bound {row.lower_bound:,}"


def test_release_batch_pays_each_milestone_for_under_half_a_lone_release(rows):
    # What releaseBatch is for: the base cost and the pause, program and token first touches are
    # paid once per batch, not once per milestone.
    batch, single = rows["release_batch20_per_milestone"], rows["release"]
    assert 2 * batch.gas < single.gas, f"batch {batch.gas:,} per milestone, release {single.gas:,}"
