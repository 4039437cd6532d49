"""Numbers written as text (flags, the --gaussian-field spec, torchrun's variables) are read one way:
ASCII digits only. Python's int() and float() also take "1_000", full-width "１" and Arabic-Indic "١",
so ``--steps １0`` trained for ten steps and ``RANK=٠`` sharded; each is now refused by name."""

from __future__ import annotations

import pytest

from ipainter_nb.batch import parse_shard, shard_from_env
from ipainter_nb.checks import real_number, whole_number
from ipainter_nb.cli import main
from ipainter_nb.errors import UserInputError
from ipainter_nb.train_fields import field_model

ODD = ["1_0", "１０", "١٠", "²", "0x10", "", " ", "1.0", "ten"]


@pytest.mark.parametrize("text", ODD)
def test_a_whole_number_is_ascii_digits_only(text):
    with pytest.raises(ValueError, match="expected a whole number in digits 0-9, got"):
        whole_number(text)


@pytest.mark.parametrize("text", ["1_0", "１", "٠.5", "0x10", "", "1,5", "--1"])
def test_a_number_is_a_decimal_in_ascii(text):
    with pytest.raises(ValueError, match="expected a number written in digits 0-9"):
        real_number(text)


def test_what_a_user_writes_is_still_read():
    assert [whole_number(t) for t in ("7", "+7", "-7", " 12 ", "007")] == [7, 7, -7, 12, 7]
    assert [real_number(t) for t in ("0.5", ".5", "5.", "-2", "1e-4", "2E3")] == [0.5, 0.5, 5.0, -2.0, 1e-4, 2000.0]
    assert real_number("inf") == float("inf") and real_number("nan") != real_number("nan")  # the ranges refuse them


@pytest.mark.parametrize("argv", [
    ["schedule", "--t-T", "１０"],  # an integer setting's flag
    ["schedule", "--t-T", "50", "--eta", "０.5"],  # a real setting's flag
    ["schedule", "--t-T", "50", "--eta", "1_0"],
    ["demo", "--seed", "١"],
    ["paint", "-s", "s", "-d", "d", "--num-samples", "1_0"],
    ["train", "--steps", "１０"],
    ["train", "--lr", "1_0e-4"],
    ["train", "--image-size", "３２"],
])
def test_a_flag_written_in_other_digits_is_refused_by_name(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "digits 0-9" in err and "Traceback" not in err


def test_a_spec_and_torchruns_variables_are_read_the_same_way(monkeypatch):
    with pytest.raises(UserInputError, match=r"beta='２' is not a number"):
        field_model("beta=２")
    assert field_model("beta=2.5,knee=0.06").beta == 2.5
    for shard in ("0/２", "²/3", "+0/2", "-1/2", "1/"):
        with pytest.raises(ValueError, match="expected i/n"):
            parse_shard(shard)
    monkeypatch.setenv("RANK", "١")
    with pytest.raises(UserInputError, match="RANK='١'"):
        shard_from_env()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert shard_from_env() == (1, 2)
