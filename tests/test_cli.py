"""The ``jnn`` command."""

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


def test_demo_command_prints_per_epoch_and_final_accuracy(capsys):
    assert main(["demo", "--epochs", "2", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    assert "epoch   2/2" in out and "final test accuracy:" in out


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
