"""``python -m sandbox [--host] [--port] [--seed] [--size] [--rate-limits]``: the same as ``bpsync sandbox``."""

from __future__ import annotations

import argparse

from sandbox.limits import PRESETS
from sandbox.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", choices=["tiny", "small", "large"], default="small")
    parser.add_argument("--rate-limits", choices=sorted(PRESETS), default="zoho")
    args = parser.parse_args()
    serve(host=args.host, port=args.port, seed=args.seed, size=args.size, rate_limits=args.rate_limits)


if __name__ == "__main__":
    main()
