"""The program facts the tests create programs with: a baseline far above anything a test funds,
so that only the tests of the baseline meet it."""

from __future__ import annotations

from disburse.chain.escrow import ProgramFacts

TEST_FACTS = ProgramFacts(
    title="Test program",
    organisation="ATLA",
    category="research",
    fiscal_year=2027,
    baseline=2**127,
)
FACTS = TEST_FACTS.as_arg()
"""TEST_FACTS as the createProgram argument."""

FACT_OPTIONS = (
    "--title",
    TEST_FACTS.title,
    "--organisation",
    TEST_FACTS.organisation,
    "--category",
    TEST_FACTS.category,
    "--fiscal-year",
    str(TEST_FACTS.fiscal_year),
    "--baseline",
    "1,000,000,000",
)
"""The facts as `disburse program create` takes them (a baseline in the token's units)."""
