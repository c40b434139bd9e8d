"""training/train.py under the sagemaker-training toolkit's conventions (issue 7, training fidelity).

In a job the toolkit runs `python train.py --key value ...` (mapping.to_cmd_args) with SM_HPS holding the same
hyperparameters, decoded from CreateTrainingJob's JSON strings (environment.read_hyperparameters).
"""

from __future__ import annotations

import json

import pytest

from local.sagemaker import toolkit_args
from training import train  # noqa: E402


@pytest.fixture(autouse=True)
def no_job_environment(monkeypatch):
    for name in ("SM_HPS", "SM_INPUT_CONFIG_DIR", "SM_OUTPUT_DIR", "SM_CHANNEL_TRAIN"):
        monkeypatch.delenv(name, raising=False)


def test_toolkit_arguments_follow_mapping_to_cmd_args():
    hyperparameters = {"embeddings": "none", "C": 5.0, "flag": True, "d": {"b": 1, "a": 2}, "cap": None}
    assert toolkit_args(hyperparameters) == [
        "-C", "5.0", "--cap", "", "-d", "a=2,b=1", "--embeddings", "none", "--flag", "True",
    ]  # fmt: skip


def test_hyperparameters_come_from_sm_hps_and_the_arguments_are_ignored(monkeypatch):
    hyperparameters = {"C": 5.0, "embeddings": "none", "text_fields": "headline", "max_iter": 100}
    monkeypatch.setenv("SM_HPS", json.dumps(hyperparameters))
    args = train.parse_args(toolkit_args(hyperparameters))
    assert args.hyperparameters is None
    assert train.load_hyperparameters(args.hyperparameters) == hyperparameters


def test_a_hyperparameter_argument_never_abbreviates_an_option(monkeypatch, capsys):
    """`--hyper x` (a hyperparameter named hyper) is not --hyperparameters: argparse's allow_abbrev is off."""
    monkeypatch.setenv("SM_HPS", json.dumps({"hyper": "x"}))
    assert train.parse_args(["--hyper", "x"]).hyperparameters is None
    assert train.main(["--hyper", "x"]) == 2
    assert "unknown hyperparameter 'hyper'" in capsys.readouterr().err


def test_without_sm_hps_the_config_dirs_hyperparameters_json_is_decoded(monkeypatch, tmp_path):
    raw = {"C": "2", "embeddings": '"none"', "sagemaker_program": '"train.py"', "name": "plain"}
    (tmp_path / "hyperparameters.json").write_text(json.dumps(raw))
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(tmp_path))
    assert train.load_hyperparameters(None) == {"C": 2, "embeddings": "none", "name": "plain"}
    monkeypatch.delenv("SM_INPUT_CONFIG_DIR")
    monkeypatch.setattr(train, "CONFIG_DIR", str(tmp_path))  # the /opt/ml default
    assert train.load_hyperparameters(None)["C"] == 2


def test_bad_hyperparameters_are_a_message_not_a_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SM_HPS", "[1, 2]")
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path))
    assert train.main([]) == 2
    err = capsys.readouterr().err
    assert "SM_HPS: hyperparameters must be a JSON object" in err and "Traceback" not in err
    assert (tmp_path / "failure").read_text() == "SM_HPS: hyperparameters must be a JSON object"


def test_hyperparameter_strings_decode_as_the_toolkit_decodes_them():
    from core.fitting.hyperparameters import decode_hyperparameters

    raw = {"C": "2", "embeddings": '"none"', "plain": "none", "flag": "true", "cap": "null", "d": '{"a": 1}',
           "already": 5}
    assert decode_hyperparameters(raw) == {"C": 2, "embeddings": "none", "plain": "none", "flag": True,
                                           "cap": None, "d": {"a": 1}, "already": 5}
