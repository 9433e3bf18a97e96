"""The ``jnn`` command."""

import os
import subprocess
import sys

import pytest

from jnn.cli import main


def test_demo_trains_spirals_to_high_accuracy():
    lines = []
    from jnn._demo import run_demo

    accuracy = run_demo(epochs=30, print_fn=lines.append)
    assert accuracy >= 0.97
    assert lines[0].startswith("jnn demo: two-arm spirals")
    assert sum(line.startswith("epoch ") for line in lines) == 30
    assert lines[-1].startswith("final test accuracy:")
    assert any(line.startswith("learning curve") for line in lines)
    eig_line = next(line for line in lines if line.startswith("top Hessian eigenvalue"))
    assert float(eig_line.split(": ")[1].split()[0]) > 0  # a minimum: positive curvature


def test_demo_command_prints_per_epoch_and_writes_figures(capsys, tmp_path):
    assert main(["demo", "--epochs", "2", "--hidden", "8", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch   2/2" in out and "final test accuracy:" in out
    for name in ("decision_boundary.png", "learning_curves.png", "loss_landscape.png"):
        path = tmp_path / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_bad_option_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--epochs", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --epochs: expected a positive integer, got 0" in err
    assert "Traceback" not in err


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "jnn", "--help"], capture_output=True,
                            text=True, check=True)
    assert "demo" in result.stdout


def test_train_digits_mlp_reaches_95_percent():
    from jnn._train_cli import run_train

    result = run_train(dataset="digits", model="mlp", optimizer="adam", learning_rate=1e-3,
                       epochs=20, batch_size=64, hidden="128,64", seed=0, data_dir=None,
                       checkpoint_dir=None, resume=False, patience=None, print_fn=lambda s: None)
    assert result["accuracy"] >= 0.95


def test_train_digits_cnn_reaches_97_percent():
    from jnn._train_cli import run_train

    result = run_train(dataset="digits", model="cnn", optimizer="adam", learning_rate=2e-3,
                       epochs=8, batch_size=64, hidden="", seed=0, data_dir=None,
                       checkpoint_dir=None, resume=False, patience=None, print_fn=lambda s: None)
    assert result["accuracy"] >= 0.97


def test_train_checkpoints_and_resumes(tmp_path, capsys):
    args = ["train", "--dataset", "spirals", "--epochs", "2", "--hidden", "16",
            "--checkpoint-dir", str(tmp_path)]
    assert main(args) == 0
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]
    assert main(["train", "--dataset", "spirals", "--epochs", "3", "--hidden", "16",
                 "--checkpoint-dir", str(tmp_path), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch   3/3" in out and "epoch   1/3" not in out.split(
        "resumed from")[1]


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "foo"], "unknown dataset 'foo'; choose one of"),
    (["train", "--optimizer", "bar"], "unknown optimizer 'bar'; choose one of"),
    (["train", "--resume"], "--resume needs --checkpoint-dir"),
    (["train", "--dataset", "mnist"], "--dataset mnist needs --data-dir"),
])
def test_train_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
