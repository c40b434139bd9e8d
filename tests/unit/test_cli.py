"""The mlnews console script and the SageMaker entry point: contract, exit codes, no tracebacks."""

import json
from pathlib import Path

import pytest

from cli.main import build_parser, main

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST_HP = '{"embeddings": "none", "word_min_df": 1}'


def test_train_writes_model_dir(cli_model, capsys):
    model, _ = cli_model
    assert (model / "manifest.json").is_file() and (model / "bundle" / "arrays.npz").is_file()
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["text_fields"] == ["headline", "short_description", "authors"]


def test_evaluate_json_is_one_object(cli_model, capsys):
    model, data = cli_model
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert 0.5 < report["accuracy"] <= 1.0
    assert {"macro_f1", "top3_accuracy", "ece", "per_class", "n"} <= set(report)
    assert report["n"] == 400
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0
    text = capsys.readouterr().out
    assert "macro-F1" in text and "SPORTS" in text and "calibration error" in text


def test_predict_text_and_files(cli_model, tmp_path, capsys):
    model, _ = cli_model
    assert main(["predict", "--model", str(model), "--json", "coach says the team won the league match"]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["category"] == "SPORTS"
    assert len(prediction["top_k"]) == 3 and prediction["explanation"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"headline": "new pasta recipe from the chef", "id": 7}\n\n"senate passes the bill"\n')
    target = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(model), "--input", str(source), "--output", str(target)]) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["category"] for r in rows] == ["FOOD & DRINK", "POLITICS"]
    assert rows[0]["id"] == 7


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--data", "/no/such.jsonl", "--out", "{tmp}/m"], "no such file"),
        (["train", "--data", "{data}", "--out", "{tmp}/m", "--text-fields", "headline,body"],
         "unknown text field"),
        (["train", "--data", "{data}", "--out", "{tmp}/m", "--hyperparameters", '{"C": 0}'], "C: "),
        (["train", "--data", "{data}", "--out", "{tmp}/m", "--hyperparameters", "{oops"], "not valid JSON"),
        (["train", "--data", "{bad}", "--out", "{tmp}/m"], "bad.jsonl:2"),
        (["train", "--data", "{empty}", "--out", "{tmp}/m"], "no valid records"),
        (["evaluate", "--model", "{tmp}/none", "--data", "{data}"], "no such directory"),
        (["evaluate", "--model", "{tmp}", "--data", "{data}"], "no bundle.json"),
        (["predict", "--model", "{model}"], "either headline text or --input"),
        (["predict", "--model", "{model}", "--input", "{bad}"], "bad.jsonl:2"),
    ],
)
def test_bad_input_gives_message_and_exit_2(argv, message, cli_model, tmp_path, capsys):
    model, data = cli_model
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"headline": "a", "category": "X"}\n{"headline": 3\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    names = {"{tmp}": tmp_path, "{data}": data, "{bad}": bad, "{empty}": empty, "{model}": model}
    for key, value in names.items():
        argv = [a.replace(key, str(value)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlnews: error:") and message in err
    assert "Traceback" not in err


def test_skip_invalid_trains_on_the_rest(tmp_path, generated_rows, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in generated_rows[:100]) + "{broken\n")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--hyperparameters", FAST_HP,
                 "--skip-invalid"]) == 0
    assert "skipped 1 invalid line" in capsys.readouterr().err


def test_data_inspect(tmp_path, generated_rows, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in generated_rows[:50]) + '{"headline": ""}\n')
    assert main(["data", "inspect", str(data), "--json"]) == 1  # invalid line without --skip-invalid
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 50 and report["invalid_lines"] == 1
    assert main(["data", "inspect", str(data), "--skip-invalid"]) == 0
    assert "categories (5)" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", "x"])
    assert exc.value.code == 2


def test_parser_offers_the_contract_commands():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"data", "train", "evaluate", "predict"} <= set(commands)


def test_sagemaker_hyperparameter_decoding():
    from training.train import decode_hyperparameters

    decoded = decode_hyperparameters({"C": "4.5", "embeddings": "none", "flag": "true", "name": '"x"',
                                      "sagemaker_region": '"eu-west-1"'})
    assert decoded == {"C": 4.5, "embeddings": "none", "flag": True, "name": "x"}


def test_local_demo_passes_its_options_to_the_story(monkeypatch, capsys):
    import local.demo
    from cli.main import main
    from local.demo import DemoResult

    seen = []
    monkeypatch.setattr(local.demo, "run_demo", lambda options: seen.append(options) or DemoResult(True, 1.0))
    assert main(["local", "demo", "--keep-running", "--sample", "0", "--port", "3111"]) == 0
    assert seen[0].keep_running and seen[0].sample is None and seen[0].port == 3111
    assert main(["local", "demo"]) == 0
    assert not seen[1].keep_running and seen[1].sample == local.demo.DEFAULT_SAMPLE
    assert "demo OK" in capsys.readouterr().out
