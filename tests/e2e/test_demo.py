"""The demo scenario (`make demo`) runs to a balanced close on the test chain."""

import io

import scripts.demo as demo


def test_demo_scenario_pays_overrides_and_reconciles(capsys):
    out = io.StringIO()
    demo._OUT = out
    with demo.quiet_brownie():
        demo.scenario()
    text = out.getvalue()
    assert "refused with Escrow_ChallengeWindowOpen" in text
    assert "CR-2026/M4 crew training: Frozen" in text
    assert "CR-2026/M4 crew training: Cancelled" in text
    assert "CR-2026/M5 spare parts: Released" in text
    assert "budget 500,000,000 JPYT: OK" in text.splitlines()[-1]
