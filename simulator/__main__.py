"""`python -m simulator`: create a few curves and trade on them with random sizes and timing.

    BLOCKCHAIN_HTTP_URL=... BONDING_CURVE_FACTORY_ADDRESS=... python -m simulator --curves 3
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time

from .chain import Curve, Launchpad

log = logging.getLogger("simulator")


def trade_forever(pad: Launchpad, curves: list[Curve], count: int, min_delay: float, max_delay: float,
                  rng: random.Random) -> int:
    traders = pad.accounts[1:18]
    done = 0
    while count <= 0 or done < count:
        curve = rng.choice(curves)
        trader = rng.choice(traders)
        held = pad.token_balance(curve, trader)
        try:
            if held > 0 and rng.random() < 0.4:
                amount = held * rng.randint(10, 100) // 100
                pad.sell(curve, trader, amount)
                log.info("%s sold %d %s", trader[:10], amount, curve.symbol)
            else:
                wei = rng.randint(1, 500) * 10**15
                pad.buy(curve, trader, wei)
                log.info("%s bought %s for %.3f ETH", trader[:10], curve.symbol, wei / 1e18)
        except Exception as exc:  # noqa: BLE001 - a reverted trade (graduated curve) is part of the game
            log.warning("trade on %s reverted: %s", curve.symbol, exc)
        done += 1
        time.sleep(rng.uniform(min_delay, max_delay))
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--curves", type=int, default=3, help="curves to create")
    p.add_argument("--trades", type=int, default=0, help="trades to make (0 = forever)")
    p.add_argument("--min-delay", type=float, default=0.05)
    p.add_argument("--max-delay", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="[%(asctime)s] %(name)s: %(message)s")
    url = os.environ.get("BLOCKCHAIN_HTTP_URL")
    factory = os.environ.get("BONDING_CURVE_FACTORY_ADDRESS")
    if not url or not factory:
        print("simulator: BLOCKCHAIN_HTTP_URL and BONDING_CURVE_FACTORY_ADDRESS are required", file=sys.stderr)
        return 2
    pad = Launchpad(url, factory)
    rng = random.Random(args.seed)
    names = ["Pepe Rocket", "Doge Moon", "Cat Coin", "Frog Labs", "Mega Shiba", "Based Ape"]
    curves = [pad.create_curve(names[i % len(names)], f"T{i}{rng.randint(10, 99)}") for i in range(args.curves)]
    for c in curves:
        log.info("created %s token %s curve %s", c.symbol, c.token, c.curve)
    try:
        trade_forever(pad, curves, args.trades, args.min_delay, args.max_delay, rng)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
