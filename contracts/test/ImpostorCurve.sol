// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Not created by the factory, yet emits the exact Trade event of a real curve, naming a real
/// token. The indexer must never turn its logs into candles.
contract ImpostorCurve {
    event Trade(
        address indexed token,
        address indexed trader,
        bool isBuy,
        uint256 tokenAmount,
        uint256 ethAmount,
        uint256 virtualEthReserves,
        uint256 virtualTokenReserves
    );

    function fakeTrade(address token, uint256 tokenAmount, uint256 ethAmount) external {
        emit Trade(token, msg.sender, true, tokenAmount, ethAmount, 1, 1);
    }
}
