"""Facts about the contracts come from the build artifacts, never from a hand-kept copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from disburse.chain import contracts
from disburse.chain.contracts import enum_labels, load_abi
from disburse.chain.errors import ArtifactError, DisburseError
from disburse.chain.escrow import milestone_statuses


def test_milestone_status_labels_are_the_compiled_enum_in_abi_order() -> None:
    labels = milestone_statuses()
    assert labels[0] == "None"
    assert labels.index("Registered") == 1
    assert labels.index("Expired") == len(labels) - 1
    # Every status the escrow's ABI can return fits the labels (uint8 enum, declared order).
    abi = load_abi("MilestoneEscrow")
    status_of = next(f for f in abi if f.get("name") == "statusOf")
    assert status_of["outputs"][0]["internalType"] == "enum MilestoneStatus"


def test_an_enum_declared_in_a_contract_comes_from_its_ast() -> None:
    assert enum_labels("ProposalState") == ("Unknown", "Open", "Executable", "Expired", "Executed")


def test_an_unknown_enum_is_refused_by_name() -> None:
    with pytest.raises(ArtifactError, match="no enum NoSuchEnum"):
        enum_labels("NoSuchEnum")


def test_missing_artifacts_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISBURSE_BUILD_DIR", str(tmp_path))
    enum_labels.cache_clear()
    load_abi.cache_clear()
    try:
        with pytest.raises(ArtifactError, match="brownie compile") as refused:
            enum_labels("MilestoneStatus")
        assert isinstance(refused.value, DisburseError)
        (tmp_path / "MilestoneEscrow.json").write_text("[]")
        with pytest.raises(ArtifactError, match="not a build artifact"):
            load_abi("MilestoneEscrow")
    finally:
        enum_labels.cache_clear()
        load_abi.cache_clear()
    assert contracts.build_dir() == tmp_path
