"""Synchronous web3 client for the reference contracts (deploy, create, buy, sell).

Used by the demo's trade simulator and by the tests to drive anvil; not part of the pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "contracts" / "artifacts"

# anvil's default mnemonic ("test test ... junk"), first 20 accounts.
MNEMONIC = "test test test test test test test test test test test junk"

DEFAULTS = dict(virtual_eth=30 * 10**18, virtual_token=1_073_000_000 * 10**18,
                graduation_threshold=85 * 10**18, fee_bps=100)


def artifact(name: str) -> dict[str, Any]:
    path = ARTIFACTS / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run `npm run compile` (node contracts/compile.js)")
    return dict(json.loads(path.read_text()))


def accounts(n: int = 20) -> list[Any]:
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(n)]


@dataclass
class Curve:
    token: str
    curve: str
    name: str
    symbol: str


class Launchpad:
    def __init__(self, http_url: str, factory: str | None = None) -> None:
        self.w3 = Web3(HTTPProvider(http_url, request_kwargs={"timeout": 30}))
        self.accounts = [a.address for a in accounts()]
        self.deployer = self.accounts[0]
        self.factory = self.w3.eth.contract(address=Web3.to_checksum_address(factory),
                                            abi=artifact("BondingCurveFactory")["abi"]) if factory else None
        self.curve_abi = artifact("BondingCurve")["abi"]

    def deploy(self, **params: int) -> str:
        p = {**DEFAULTS, **params}
        addr = self._deploy("BondingCurveFactory", p["virtual_eth"], p["virtual_token"],
                            p["graduation_threshold"], p["fee_bps"], self.accounts[19])
        self.factory = self.w3.eth.contract(address=addr, abi=artifact("BondingCurveFactory")["abi"])
        return addr.lower()

    def deploy_impostor(self) -> Any:
        addr = self._deploy("ImpostorCurve")
        return self.w3.eth.contract(address=addr, abi=artifact("ImpostorCurve")["abi"])

    def _deploy(self, name: str, *args: Any) -> Any:
        art = artifact(name)
        c = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        tx = c.constructor(*args).transact({"from": self.deployer})
        return self.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]

    def create_curve(self, name: str, symbol: str, sender: str | None = None) -> Curve:
        assert self.factory is not None
        tx = self.factory.functions.createCurve(name, symbol).transact({"from": sender or self.deployer})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        ev = self.factory.events.CurveCreated().process_receipt(receipt)[0]["args"]
        return Curve(ev["token"].lower(), ev["curve"].lower(), name, symbol)

    def curve(self, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.curve_abi)

    def token_balance(self, curve: Curve, holder: str) -> int:
        erc20 = self.w3.eth.contract(address=Web3.to_checksum_address(curve.token), abi=artifact("LaunchToken")["abi"])
        return int(erc20.functions.balanceOf(holder).call())

    def buy(self, curve: Curve, trader: str, eth_wei: int, wait: bool = True) -> str:
        tx = self.curve(curve.curve).functions.buy(0).transact({"from": trader, "value": eth_wei, "gas": 300_000})
        if wait:
            self.w3.eth.wait_for_transaction_receipt(tx)
        return tx.hex()

    def sell(self, curve: Curve, trader: str, token_amount: int, wait: bool = True) -> str:
        tx = self.curve(curve.curve).functions.sell(token_amount, 0).transact({"from": trader, "gas": 300_000})
        if wait:
            self.w3.eth.wait_for_transaction_receipt(tx)
        return tx.hex()

    # --- dev-chain controls (anvil) ---
    def rpc(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp.get("result")

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def mine(self, timestamp: int | None = None) -> None:
        if timestamp is not None:
            self.rpc("evm_setNextBlockTimestamp", [timestamp])
        self.rpc("evm_mine", [])

    def head(self) -> int:
        return int(self.w3.eth.block_number)
