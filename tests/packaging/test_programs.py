"""The programs as their processes run: `mlnews predict` and serving stay free of scikit-learn, scipy and
pickle, bad input ends with a message and exit 2 (never a traceback), training/train.py runs as a script."""

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_predict_process_stays_light_and_clean(cli_model):
    """A fresh `mlnews predict` imports no scikit-learn/scipy and prints no traceback on bad input."""
    model, _ = cli_model
    code = (
        "import sys\nfrom cli.main import main\n"
        f"rc = main(['predict', '--model', {str(model)!r}, 'senate vote'])\n"
        "heavy = any(m.split('.')[0] in ('sklearn', 'scipy') for m in sys.modules)\n"
        "print('HEAVY' if heavy else 'LIGHT', rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("LIGHT 0")
    argv = [sys.executable, "-m", "cli.main", "evaluate", "--model", "/nope", "--data", "/nope"]
    bad = subprocess.run(argv, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "mlnews: error" in bad.stderr


def test_sagemaker_entry_point_local_run(tmp_path, generated_rows, monkeypatch):
    channel = tmp_path / "train"
    channel.mkdir()
    (channel / "part-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in generated_rows[:200]))
    (channel / "part-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in generated_rows[200:]))
    (channel / "README.txt").write_text("not data")
    hps = {"embeddings": '"none"', "C": "2", "word_min_df": "1", "sagemaker_program": '"train.py"',
           "text_fields": '"headline,short_description,authors"', "model_version": '"v0042"'}
    monkeypatch.delenv("SM_OUTPUT_DIR", raising=False)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "training" / "train.py"), "--train", str(channel),
         "--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "out"),
         "--hyperparameters", json.dumps(hps)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "validation:accuracy=" in result.stdout
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["data"]["n_records"] == 400
    assert manifest["version"] == "v0042"
    assert manifest["hyperparameters"]["C"] == 2.0
    assert manifest["text_fields"] == ["headline", "short_description", "authors"]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["accuracy"] > 0.4
    bad = subprocess.run(
        [sys.executable, str(REPO_ROOT / "training" / "train.py"), "--train", str(channel),
         "--model-dir", str(tmp_path / "m2"), "--output-data-dir", str(tmp_path / "o2"),
         "--hyperparameters", '{"learning_rate": "0.1"}'],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert bad.returncode == 2 and "unknown hyperparameter 'learning_rate'" in bad.stderr


def test_serving_imports_neither_sklearn_nor_scipy_nor_pickle_loads(tiny_model_dir):
    code = (
        "import sys, pickle\n"
        "def refuse(*a, **k): raise AssertionError('unpickling attempted')\n"
        "pickle.loads = pickle.load = refuse\n"
        "from core.model.bundle import ServingModel\n"
        f"m = ServingModel.load({str(tiny_model_dir)!r})\n"
        "p = m.predict([{'headline': 'senate vote on the new bill'}])\n"
        "assert p[0]['category']\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('sklearn', 'scipy', 'joblib'))\n"
        "print('BAD' if bad else 'CLEAN', bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CLEAN"), result.stdout
