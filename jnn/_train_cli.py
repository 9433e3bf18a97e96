"""``jnn train``: train a model on a dataset from the command line, with checkpoints."""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import data, losses, optim
from jnn.layers import Conv, Dense, Flatten, Lambda, MaxPool, Sequential
from jnn.train import EarlyStopping, evaluate, fit

DATASETS: dict[str, Callable] = {
    "digits": lambda key: data.load_digits(),
    "spirals": lambda key: data.spirals(key, 1000),
    "moons": lambda key: data.moons(key, 1000),
    "circles": lambda key: data.circles(key, 1000),
    "blobs": lambda key: data.blobs(key, 1000),
}

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam",
              "amsgrad", "adamw", "lion", "rprop")


def _load(name: str, data_dir: str | None, key) -> tuple:
    if name in ("mnist", "fashion_mnist"):
        if data_dir is None:
            raise ValueError(f"--dataset {name} needs --data-dir, the folder with the IDX or "
                             f".npz files")
        (x, y) = data.load_mnist(data_dir, kind="train")
        return x.reshape(x.shape[0], -1).astype(jnp.float32) / 255.0, y
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{sorted([*DATASETS, 'mnist', 'fashion_mnist'])}")
    return DATASETS[name](key)


def _model(name: str, hidden: tuple[int, ...], classes: int, x_shape: tuple) -> Sequential:
    if name == "mlp":
        layers = []
        for width in hidden:
            layers += [Dense(width), jax.nn.relu]
        return Sequential([*layers, Dense(classes)])
    if name == "cnn":
        side = int(round(x_shape[1] ** 0.5))
        if side * side != x_shape[1]:
            raise ValueError(f"--model cnn needs square images; got {x_shape[1]} features")
        to_image = Lambda(lambda x, s=side: x.reshape(x.shape[0], s, s, 1))
        return Sequential([to_image, Conv(16, (3, 3)), jax.nn.relu, Conv(32, (3, 3)),
                           jax.nn.relu, MaxPool((2, 2)), Flatten(), Dense(64), jax.nn.relu,
                           Dense(classes)])
    raise ValueError(f"unknown model {name!r}; choose 'mlp' or 'cnn'")


def run_train(*, dataset: str, model: str, optimizer: str, learning_rate: float, epochs: int,
              batch_size: int, hidden: str, seed: int, data_dir: str | None,
              checkpoint_dir: str | None, resume: bool, patience: int | None,
              print_fn=print) -> dict[str, float]:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZERS)}")
    try:
        widths = tuple(int(w) for w in hidden.split(",") if w.strip())
    except ValueError:
        raise ValueError(f"--hidden must be comma-separated integers like 128,64; got "
                         f"{hidden!r}") from None
    if resume and checkpoint_dir is None:
        raise ValueError("--resume needs --checkpoint-dir, the folder to resume from")
    key = jax.random.key(seed)
    k_data, k_split, k_init, k_fit = jax.random.split(key, 4)
    x, y = _load(dataset, data_dir, k_data)
    train, val, test = data.train_val_test_split(k_split, x, y, val_fraction=0.15,
                                                 test_fraction=0.15, stratify=True)
    classes = int(jnp.max(y)) + 1
    net = _model(model, widths, classes, x.shape)
    params, state = net.init(k_init, train[0][:1])
    tx = getattr(optim, optimizer)(learning_rate)
    opt_state, initial_epoch, history = None, 0, None
    callbacks = []
    if patience is not None:
        callbacks.append(EarlyStopping("val_loss", patience=patience))
    if checkpoint_dir is not None:
        from jnn.train import Checkpoint, Checkpointer

        checkpointer = Checkpointer(os.path.abspath(checkpoint_dir), max_to_keep=3)
        callbacks.append(Checkpoint(checkpointer))
        if resume:
            restored = checkpointer.restore((params, state, tx.init(params)))
            params, state, opt_state = restored.params, restored.state, restored.opt_state
            initial_epoch, history = restored.step, restored.history
            print_fn(f"resumed from {checkpoint_dir} at epoch {initial_epoch}")
    print_fn(f"jnn train: {dataset} ({train[0].shape[0]} train / {val[0].shape[0]} val / "
             f"{test[0].shape[0]} test), model {net}, {optimizer}({learning_rate})")
    if initial_epoch >= epochs:
        print_fn(f"nothing to do: the checkpoint is already at epoch {initial_epoch}")
    else:
        params, state, _, history = fit(
            net, params, state, tx, losses.softmax_cross_entropy, train, epochs=epochs,
            batch_size=batch_size, key=k_fit, val_data=val, metrics=["accuracy"],
            callbacks=callbacks, opt_state=opt_state, initial_epoch=initial_epoch,
            history=history, print_fn=print_fn)
    result = evaluate(net, params, state, losses.softmax_cross_entropy, test,
                      metrics=["accuracy"])
    print_fn(f"test loss {result['loss']:.4f}  test accuracy {result['accuracy']:.4f}")
    return result
