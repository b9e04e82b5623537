// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only token whose transfers call back into a target (the escrow) with prepared
/// calldata, as a hostile token would. The outcome of the call-back is recorded, not propagated,
/// so a test can see that the escrow refused it while the outer call went on.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public callData;
    bool public armed;
    bool public lastCallSucceeded;
    bytes public lastCallResult;

    constructor() ERC20("Reentrant Token", "REN") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms one call-back to `target_` with `callData_` on the next transfer.
    function arm(address target_, bytes calldata callData_) external {
        target = target_;
        callData = callData_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed) {
            armed = false;
            (lastCallSucceeded, lastCallResult) = target.call(callData);
        }
    }
}
