"""The ``jnn`` command: ``jnn demo`` and ``jnn train`` (also ``python -m jnn ...``)."""

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
    demo.add_argument("--out", default="jnn_demo_out",
                      help="folder for the PNG figures (jnn_demo_out)")
    demo.add_argument("--no-figures", action="store_true", help="do not write figures")

    train = commands.add_parser(
        "train", help="train a model on a dataset, with validation, checkpoints and --resume"
    )
    train.add_argument("--dataset", default="digits",
                       help="digits, spirals, moons, circles, blobs, mnist, fashion_mnist")
    train.add_argument("--data-dir", default=None, help="folder with MNIST IDX/.npz files")
    train.add_argument("--model", default="mlp", choices=["mlp", "cnn"], help="mlp or cnn")
    train.add_argument("--hidden", default="128,64", help="MLP widths, e.g. 128,64")
    train.add_argument("--optimizer", default="adam", help="a jnn.optim name (adam)")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="step size (0.001)")
    train.add_argument("--epochs", type=_positive_int, default=20, help="epochs (20)")
    train.add_argument("--batch-size", type=_positive_int, default=64, help="batch size (64)")
    train.add_argument("--patience", type=_positive_int, default=None,
                       help="early stopping patience in epochs (off)")
    train.add_argument("--checkpoint-dir", default=None, help="save a checkpoint every epoch")
    train.add_argument("--resume", action="store_true",
                       help="continue from the latest checkpoint in --checkpoint-dir")
    train.add_argument("--seed", type=int, default=0, help="random seed (0)")
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
                     batch_size=args.batch_size, seed=args.seed,
                     out_dir=None if args.no_figures else args.out)
        elif args.command == "train":
            from jnn._train_cli import run_train

            run_train(dataset=args.dataset, model=args.model, optimizer=args.optimizer,
                      learning_rate=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                      hidden=args.hidden, seed=args.seed, data_dir=args.data_dir,
                      checkpoint_dir=args.checkpoint_dir, resume=args.resume,
                      patience=args.patience)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"jnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
