// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IContractorRegistry} from "../interfaces/IContractorRegistry.sol";

/// @notice Test-only: measures what the escrow's release path will pay to consult the registry,
/// an external `isPayable` (or `payableAddressOf`) call from another contract on a
/// cold registry.
contract RegistryProbe {
    /// @notice The gas of the last measured call, and its answer.
    uint256 public lastGas;
    bool public lastAnswer;

    function probe(IContractorRegistry registry, address payout) external returns (bool answer) {
        uint256 before = gasleft();
        answer = registry.isPayable(payout);
        lastGas = before - gasleft();
        lastAnswer = answer;
    }

    function probeId(IContractorRegistry registry, uint256 contractorId) external returns (address payout) {
        uint256 before = gasleft();
        payout = registry.payableAddressOf(contractorId);
        lastGas = before - gasleft();
        lastAnswer = payout != address(0);
    }
}
