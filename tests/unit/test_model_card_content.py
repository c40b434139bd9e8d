"""Model cards on a tiny model: the golden-set part computed from probabilities (confusion matrix, reliability
bins, top confusions with example headlines), the card of a model directory, the Evaluate step's additions,
the pictures (matplotlib), the HTML page and `mlnews card`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cli.main import main
from core.cards import build, sections
from core.cards.card import ModelCard
from core.cards.files import CARD_DIR, card_json, parse_card, read_card_dir, write_card_dir
from core.cards.html import render_html
from core.errors import InvalidInput
from core.model.evaluation import evaluate
from core.plotting.card_plots import draw

CLASSES = ["A", "B", "C"]
# truth, and the probabilities of A, B, C
ROWS = [
    ("A", [0.90, 0.05, 0.05]),
    ("A", [0.20, 0.70, 0.10]),  # A taken for B, fairly sure
    ("A", [0.30, 0.60, 0.10]),  # A taken for B, less sure
    ("B", [0.10, 0.80, 0.10]),
    ("C", [0.05, 0.15, 0.80]),
    ("C", [0.50, 0.10, 0.40]),  # C taken for A
]


@pytest.fixture
def golden():
    records = [{"headline": f"headline {i}", "category": truth} for i, (truth, _) in enumerate(ROWS)]
    return records, np.array([proba for _, proba in ROWS])


def test_the_golden_part_holds_the_confusion_matrix_bins_and_the_surest_mistakes(golden):
    records, proba = golden
    part = sections.golden_section(records, proba, CLASSES, scored_by="a test")
    report = evaluate([r["category"] for r in records], proba, CLASSES)
    assert (part.n, part.accuracy, part.macro_f1, part.ece) == (6, 0.5, report["macro_f1"], report["ece"])
    assert part.confusion.labels == CLASSES
    assert part.confusion.matrix == [[1, 2, 0], [0, 1, 0], [1, 0, 1]]
    assert part.per_class["B"].precision == pytest.approx(1 / 3)
    assert part.per_class["A"].recall == pytest.approx(1 / 3)
    (a_for_b, c_for_a) = part.top_confusions
    assert (a_for_b.true, a_for_b.predicted, a_for_b.count) == ("A", "B", 2)
    assert [e.headline for e in a_for_b.examples] == ["headline 1", "headline 2"]  # surest first
    assert (c_for_a.true, c_for_a.predicted, c_for_a.count) == ("C", "A", 1)
    # the bins are the ECE's: their weighted gap is core.model.evaluation's number
    bins = part.reliability
    assert len(bins) == 15 and sum(b.count for b in bins) == 6
    gap = sum(b.count * abs(b.accuracy - b.mean_confidence) for b in bins if b.count) / 6
    assert gap == pytest.approx(report["ece"])
    (top_bin,) = [b for b in bins if b.lower < 0.9 <= b.upper]
    assert (top_bin.count, top_bin.accuracy) == (1, 1.0)
    assert part.data_fingerprint == sections.golden_section(records[::-1], proba[::-1], CLASSES,
                                                            scored_by="x").data_fingerprint  # fmt: skip


def test_a_model_directory_card_and_what_it_lacks(tiny_model_dir, generated_rows):
    golden = generated_rows[:40]
    card = build.card_for_model_dir(
        tiny_model_dir, measured_in="a test", golden_records=golden, scored_by="a test"
    )
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    assert card.source == "model directory" and card.version is None
    assert card.classes == sorted(manifest["data"]["categories"])
    assert card.data.fingerprint == manifest["data"]["fingerprint"] and card.data.n_records == 400
    assert card.data.categories == manifest["data"]["categories"]
    assert card.validation["accuracy"] == manifest["metrics"]["accuracy"] and "timings" not in card.validation
    assert card.golden.n == 40 and card.serving_cost.latency.n == 40
    bundle = tiny_model_dir / "bundle"
    assert card.serving_cost.bundle_bytes == sum(p.stat().st_size for p in bundle.iterdir())
    assert card.missing == [
        "data sources: not recorded (only the pipeline's PrepareData step knows them)",
        "feedback share: not recorded (only the pipeline's PrepareData step knows it)",
        "pictures: not drawn (the plotting library is in the training job and the CLI only; "
        "`mlnews card VERSION --html card.html` draws them from these numbers)",
    ]
    assert parse_card(card_json(card), "here") == card  # the JSON round-trips


def test_the_evaluate_steps_part_and_a_card_from_a_registry_item(tiny_model_dir, generated_rows):
    card = build.card_for_model_dir(tiny_model_dir, measured_in="a test")
    model, _ = sections.timed_load(tiny_model_dir)
    labels = [r["category"] for r in generated_rows]
    candidate = evaluate(labels, model.predict_proba(generated_rows), model.classes)
    active = {**candidate, "accuracy": 0.5, "per_class": {
        name: {**row, "f1": row["f1"] + (0.2 if name == "SPORTS" else -0.1)}
        for name, row in candidate["per_class"].items()}}  # fmt: skip
    comparison = sections.comparison(active_version="v0001", golden_n=400, candidate=candidate, active=active)
    assert comparison.class_changes[0].category == "SPORTS" and comparison.class_changes[0].change < 0
    summary = {"base_dataset": "s3://data/datasets/base.jsonl", "base_dataset_version": "7", "n_train": 400,
               "n_golden": 44, "n_feedback_train": 40, "categories": {}}  # fmt: skip
    decision = {"promote": False, "reasons": ["no significant gain"], "checks": {"margin": 0.01}}
    card = build.with_evaluation(card, golden=None, comparison=comparison, decision=decision,
                                 decided_at="2026-01-01T00:00:00+00:00", data_summary=summary)  # fmt: skip
    assert card.data.sources[0] == "s3://data/datasets/base.jsonl (version 7)"
    assert (card.data.n_feedback, card.data.feedback_share, card.data.n_golden) == (40, 0.1, 44)
    assert card.data.fingerprint and card.decision.reasons == ["no significant gain"]

    item = {"version": "v0003", "status": "rejected", "source": "training", "training_distribution": {"A": 3},
            "metrics": {"accuracy": 0.9, "timings": {}}, "data_summary": summary,
            "evaluation": {"decision": decision, "evaluated_at": "t", "active_version": "v0001", "golden": {
                "n": 44, "candidate": {"n": 44, "accuracy": 0.8}, "active": None}}}  # fmt: skip
    known = build.card_from_registry_item(item)
    assert (known.version, known.source, known.decision.promote) == ("v0003", "training", False)
    assert known.comparison.candidate.accuracy == 0.8 and known.comparison.active is None
    assert known.validation == {"accuracy": 0.9} and known.data.feedback_share == 0.1
    assert "serving cost: not measured" in known.missing and "golden-set metrics: not scored" in known.missing


def test_pictures_html_and_the_card_directory(golden, tmp_path):
    records, proba = golden
    records[1]["headline"] = "<b>bold</b> & co"  # the surest A -> B mistake: shown as an example
    card = ModelCard(source="model directory", bundle_version="b1",
                     golden=sections.golden_section(records, proba, CLASSES, scored_by="a test"))  # fmt: skip
    drawn, images = draw(card, made_by="a test")
    assert sorted(images) == ["confusion_matrix.png", "reliability.png"]
    assert all(data.startswith(b"\x89PNG") for data in images.values())
    assert draw(card, made_by="a test")[1] == images  # the same numbers, the same bytes
    assert {plot.data_fingerprint for plot in drawn.plots.values()} == {card.golden.data_fingerprint}
    assert not any("pictures" in line for line in drawn.missing)

    page = render_html(drawn, images)
    assert page.count("data:image/png;base64,") == 2 and "Model card b1" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page and "<b>bold" not in page
    assert "headline 2" in page and "<td>C</td><td>A</td>" in page
    write_card_dir(tmp_path / CARD_DIR, drawn, images)
    assert read_card_dir(tmp_path / CARD_DIR) == (drawn, images)
    assert read_card_dir(tmp_path / "nothing") is None
    tampered = json.loads(card_json(drawn))
    tampered["plots"]["reliability"]["file"] = "../../etc/passwd"
    (tmp_path / CARD_DIR / "card.json").write_text(json.dumps(tampered))
    with pytest.raises(InvalidInput, match="is not a model card"):
        read_card_dir(tmp_path / CARD_DIR)


def test_mlnews_card_for_a_model_directory(cli_model, tmp_path, capsys):
    model, data = cli_model
    page = tmp_path / "card.html"
    assert main(["card", str(model), "--golden", str(data), "--html", str(page), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["golden"]["n"] == 400 and card["golden"]["scored_by"].startswith("mlnews card (--golden ")
    assert card["serving_cost"]["latency"]["n"] == sections.LATENCY_SAMPLE
    assert set(card["plots"]) == {"confusion_matrix", "reliability"}
    assert page.read_text().count("data:image/png;base64,") == 2
    assert main(["card", str(model)]) == 0  # no --golden: what the directory tells
    text = capsys.readouterr().out
    assert "data:     400 records" in text and "missing:  golden-set metrics: not scored" in text


def test_mlnews_card_saves_a_card_that_registration_would_store(tiny_model_dir, generated_rows, tmp_path,
                                                                write_rows, capsys):
    golden = write_rows(tmp_path / "golden.jsonl", generated_rows[:20])
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    assert main(["card", str(model), "--golden", str(golden), "--save"]) == 0
    card, images = read_card_dir(model / CARD_DIR)
    assert card.golden.n == 20 and sorted(images) == ["confusion_matrix.png", "reliability.png"]
    capsys.readouterr()
    assert main(["card", str(model), "--json"]) == 0  # the saved card, as it is
    assert json.loads(capsys.readouterr().out)["golden"]["n"] == 20


@pytest.mark.parametrize(
    "argv, message",
    [
        (["card", "{tmp}/none"], "neither a model directory nor a model version"),
        (["card", "{tmp}"], "holds no manifest.json or bundle"),
        (["card", "v0001", "--golden", "x.jsonl"], "--golden and --save are for a model directory"),
        (["card", "{model}", "--golden", "{tmp}/missing.jsonl"], "no such file"),
    ],
)
def test_mlnews_card_bad_input_is_a_message_and_exit_2(cli_model, tmp_path, capsys, argv, message):
    model, _ = cli_model
    argv = [arg.format(tmp=tmp_path, model=model) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
