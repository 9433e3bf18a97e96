"""The ``jnn`` command: ``jnn demo`` (also ``python -m jnn demo``)."""

from __future__ import annotations

import argparse
import sys


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jnn", description="jnn: a functional neural-network library for JAX."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="train a small MLP on the embedded two-arm spirals and report accuracy"
    )
    demo.add_argument("--epochs", type=_positive_int, default=30, help="epochs (default 30)")
    demo.add_argument("--hidden", type=_positive_int, default=64, help="hidden units (64)")
    demo.add_argument("--lr", type=_positive_float, default=1e-2, help="Adam step size (0.01)")
    demo.add_argument("--batch-size", type=_positive_int, default=64, help="batch size (64)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "demo":
            from jnn._demo import run_demo

            run_demo(epochs=args.epochs, hidden=args.hidden, learning_rate=args.lr,
                     batch_size=args.batch_size, seed=args.seed)
    except (ValueError, TypeError) as error:
        print(f"jnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
