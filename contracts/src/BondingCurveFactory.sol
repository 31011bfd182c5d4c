// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./BondingCurve.sol";

/// Creates one token and its bonding curve per launch. Only curves created here are trades
/// to the indexer; any other contract emitting the same event is ignored.
contract BondingCurveFactory {
    uint256 public immutable virtualEth;
    uint256 public immutable virtualToken;
    uint256 public immutable graduationThreshold;
    uint256 public immutable feeBps;
    address public immutable feeRecipient;

    mapping(address => address) public curveOf;
    address[] public allTokens;

    event CurveCreated(
        address indexed token,
        address indexed curve,
        address indexed creator,
        string name,
        string symbol
    );

    constructor(
        uint256 virtualEth_,
        uint256 virtualToken_,
        uint256 graduationThreshold_,
        uint256 feeBps_,
        address feeRecipient_
    ) {
        virtualEth = virtualEth_;
        virtualToken = virtualToken_;
        graduationThreshold = graduationThreshold_;
        feeBps = feeBps_;
        feeRecipient = feeRecipient_;
    }

    function createCurve(string calldata name, string calldata symbol)
        external
        returns (address token, address curve)
    {
        BondingCurve c = new BondingCurve(
            name, symbol, virtualEth, virtualToken, graduationThreshold, feeBps, feeRecipient
        );
        curve = address(c);
        token = address(c.token());
        curveOf[token] = curve;
        allTokens.push(token);
        emit CurveCreated(token, curve, msg.sender, name, symbol);
    }

    function tokenCount() external view returns (uint256) {
        return allTokens.length;
    }
}
