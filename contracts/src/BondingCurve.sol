// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./LaunchToken.sol";

/// One curve per token: constant product over virtual reserves (pump.fun style).
/// The curve mints on buy and burns on sell. The Trade event's ethAmount is the ETH that
/// entered (buy) or left (sell) the curve's reserves, so prices are fee-neutral: on a buy the
/// fee is charged on top of it, on a sell it is deducted from what the trader receives.
contract BondingCurve {
    LaunchToken public immutable token;
    address public immutable feeRecipient;
    uint256 public immutable feeBps;
    uint256 public immutable graduationThreshold;

    uint256 public virtualEthReserves;
    uint256 public virtualTokenReserves;
    uint256 public realEthReserves;
    bool public graduated;

    event Trade(
        address indexed token,
        address indexed trader,
        bool isBuy,
        uint256 tokenAmount,
        uint256 ethAmount,
        uint256 virtualEthReserves,
        uint256 virtualTokenReserves
    );
    event Graduated(address indexed token, uint256 ethReserves, uint256 tokenReserves);

    error CurveGraduated();
    error Slippage();
    error ZeroAmount();
    error TransferFailed();

    constructor(
        string memory name_,
        string memory symbol_,
        uint256 virtualEth_,
        uint256 virtualToken_,
        uint256 graduationThreshold_,
        uint256 feeBps_,
        address feeRecipient_
    ) {
        token = new LaunchToken(name_, symbol_, address(this));
        virtualEthReserves = virtualEth_;
        virtualTokenReserves = virtualToken_;
        graduationThreshold = graduationThreshold_;
        feeBps = feeBps_;
        feeRecipient = feeRecipient_;
    }

    function quoteBuy(uint256 ethIn) public view returns (uint256 tokensOut, uint256 fee) {
        fee = (ethIn * feeBps) / 10_000;
        uint256 net = ethIn - fee;
        uint256 k = virtualEthReserves * virtualTokenReserves;
        tokensOut = virtualTokenReserves - _ceilDiv(k, virtualEthReserves + net);
    }

    function quoteSell(uint256 tokenAmount) public view returns (uint256 ethOut, uint256 fee) {
        uint256 k = virtualEthReserves * virtualTokenReserves;
        ethOut = virtualEthReserves - _ceilDiv(k, virtualTokenReserves + tokenAmount);
        fee = (ethOut * feeBps) / 10_000;
    }

    function buy(uint256 minTokensOut) external payable {
        if (graduated) revert CurveGraduated();
        if (msg.value == 0) revert ZeroAmount();
        (uint256 tokensOut, uint256 fee) = quoteBuy(msg.value);
        if (tokensOut == 0) revert ZeroAmount();
        if (tokensOut < minTokensOut) revert Slippage();
        uint256 net = msg.value - fee;
        virtualEthReserves += net;
        virtualTokenReserves -= tokensOut;
        realEthReserves += net;
        token.mint(msg.sender, tokensOut);
        _pay(feeRecipient, fee);
        emit Trade(address(token), msg.sender, true, tokensOut, net, virtualEthReserves, virtualTokenReserves);
        _maybeGraduate();
    }

    function sell(uint256 tokenAmount, uint256 minEthOut) external {
        if (graduated) revert CurveGraduated();
        if (tokenAmount == 0) revert ZeroAmount();
        (uint256 ethOut, uint256 fee) = quoteSell(tokenAmount);
        if (ethOut == 0 || ethOut > realEthReserves) revert ZeroAmount();
        if (ethOut - fee < minEthOut) revert Slippage();
        token.burn(msg.sender, tokenAmount);
        virtualEthReserves -= ethOut;
        virtualTokenReserves += tokenAmount;
        realEthReserves -= ethOut;
        _pay(feeRecipient, fee);
        _pay(msg.sender, ethOut - fee);
        emit Trade(address(token), msg.sender, false, tokenAmount, ethOut, virtualEthReserves, virtualTokenReserves);
    }

    function _maybeGraduate() private {
        if (realEthReserves >= graduationThreshold) {
            graduated = true;
            emit Graduated(address(token), realEthReserves, virtualTokenReserves);
        }
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _ceilDiv(uint256 a, uint256 b) private pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }
}
