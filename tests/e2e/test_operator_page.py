"""The operator page (/) in a real browser: Debian's chromium, headless, driven by Playwright, against local
mode running the real template with a trained active model. It clicks through a retraining (started, its step
shown, an outcome at the end), a rollback (the active version shown changes) and an evaluation, and checks
what the page shows. Screenshots go to build/test-artifacts/operator-page/ (gitignored): CI artifacts."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from core.registry.versions import ModelRegistry
from core.settings import load_settings
from local import bootstrap
from local.api_client import ApiClient
from local.in_process_lambda import ENVIRONMENT_LOCK
from local.session import LocalConfig, LocalSession
from local.template import REPO_ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (make test installs it when missing)
ARTIFACTS = REPO_ROOT / "build" / "test-artifacts" / "operator-page"
RETRAINING_TIMEOUT_MS = 90_000
# The quick model (no embedding table: ~20 s less training on these 2-core machines), typed in the page.
QUICK_HYPERPARAMETERS = '{"embeddings": "none", "word_min_df": 1}'
FEEDBACK = [  # (headline, the category a user says is right)
    ("Senate passes the budget bill after a long night", "POLITICS"),
    ("Ten easy weeknight pasta recipes", "FOOD & DRINK"),
    ("Home team wins the final in overtime", "SPORTS"),
]


@pytest.fixture(scope="module")
def local_mode(tiny_model_dir):
    """Local mode with a small dataset to retrain on, and two versions of the trained tiny model: v0001 (then
    retired: where a rollback goes) and v0002 (active). Some feedback, so the page has days to draw."""
    with LocalSession(LocalConfig(port=0, max_batching_window=0)) as session:
        records = bootstrap.subsample(bootstrap.read_records(bootstrap.DEMO_CORPUS), 300)
        bootstrap.upload_dataset(session, records)
        environment = session.deployment.function_environment("ModelAdminFunction")
        with ENVIRONMENT_LOCK:  # nothing runs as a function while the host registers the models
            registry = ModelRegistry(load_settings(environment))
            for _ in range(2):
                registry.activate(registry.register_model_dir(tiny_model_dir)["version"], reason="e2e setup")
        api = ApiClient(session.front.base_url, correlation_prefix="operator-e2e")
        for headline, category in FEEDBACK:
            prediction = api.call("POST", "/api/v1/predict", {"headline": headline}).body
            prediction_id = prediction["prediction_id"]
            feedback = {"headline": headline, "prediction_id": prediction_id, "correct_category": category}
            api.call("POST", "/api/v1/feedback", feedback)
        yield session


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def test_operator_page_retrains_and_rolls_back(local_mode, browser):
    from playwright.sync_api import expect

    started = time.perf_counter()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())  # the deploy/rollback confirmation
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(local_mode.front.base_url + "/")
    expect(page.locator("body")).to_have_attribute("data-loaded", "yes", timeout=20_000)

    # what it shows: the active version, the versions with status and metrics, the latest card, feedback
    expect(page.get_by_test_id("active-version")).to_have_text("v0002")
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('#versions tr[data-version="v0002"] .status')).to_have_text("active")
    expect(page.locator('#versions tr[data-version="v0001"] .status')).to_have_text("retired")
    validation_accuracy = page.locator('#versions tr[data-version="v0002"] td').nth(2).inner_text()
    assert re.fullmatch(r"\d+\.\d%", validation_accuracy), validation_accuracy
    expect(page.get_by_test_id("rollback")).to_have_text("Roll back to v0001")
    expect(page.get_by_test_id("card-version")).to_have_text("v0002")
    expect(page.frame_locator("#card-frame").locator("body")).to_contain_text("v0002")
    summary = page.get_by_test_id("feedback-summary")
    expect(summary).to_contain_text(f"{len(FEEDBACK)} counted in all", timeout=15_000)
    expect(page.locator("#feedback-chart rect")).to_have_count(14)
    today = page.locator("#feedback-chart rect title").last.text_content()
    assert f"{len(FEEDBACK)} feedback" in today, today
    expect(page.get_by_test_id("runs")).to_contain_text("no retraining run yet")
    page.screenshot(path=ARTIFACTS / "1-loaded.png", full_page=True)

    # a retraining: started from the page, its step shown while it runs, an outcome at the end
    loaded = time.perf_counter()
    page.get_by_test_id("hyperparameters").fill("{not json")
    page.get_by_test_id("retrain").click()
    expect(page.get_by_test_id("message")).to_contain_text("failed: hyperparameters are not JSON")
    page.get_by_test_id("hyperparameters").fill(QUICK_HYPERPARAMETERS)
    page.get_by_test_id("retrain").click()
    expect(page.get_by_test_id("message")).to_contain_text("started", timeout=15_000)
    run = page.locator("#runs tbody tr").first
    expect(run.locator(".status").first).to_have_text("RUNNING", timeout=15_000)
    expect(run.locator("td.step")).not_to_be_empty(timeout=15_000)
    step_seen = run.locator("td.step").inner_text()
    page.screenshot(path=ARTIFACTS / "2-retraining.png", full_page=True)
    ended = re.compile("SUCCEEDED|FAILED")
    expect(run.locator(".status").first).to_have_text(ended, timeout=RETRAINING_TIMEOUT_MS)
    expect(run.locator("td.outcome")).to_contain_text(re.compile("deployed v0003|rejected v0003"))
    outcome = run.locator("td.outcome .status").inner_text()
    retrained = time.perf_counter()
    run_details = "/api/v1/model/train/" + run.get_attribute("data-job")
    details_fetched = sum(run_details in url for url in requested)
    expect(page.locator('#versions tr[data-version="v0003"] .status')).to_have_text(
        "active" if outcome == "deployed" else "rejected"
    )
    active_before = "v0003" if outcome == "deployed" else "v0002"
    expect(page.get_by_test_id("active-version")).to_have_text(active_before)
    expect(page.get_by_test_id("card-version")).to_have_text("v0003")  # the latest card
    page.screenshot(path=ARTIFACTS / "3-retrained.png", full_page=True)

    # a rollback: the active version shown changes to the one active before
    target = "v0002" if outcome == "deployed" else "v0001"
    expect(page.get_by_test_id("rollback")).to_have_text(f"Roll back to {target}")
    page.get_by_test_id("rollback").click()
    expect(page.get_by_test_id("active-version")).to_have_text(target, timeout=15_000)
    expect(page.get_by_test_id("message")).to_contain_text(f"{target} is active (was {active_before})")
    expect(page.locator(f'#versions tr[data-version="{active_before}"] .status')).to_have_text("retired")
    page.screenshot(path=ARTIFACTS / "4-rolled-back.png", full_page=True)

    # an evaluation of the (now) active version: started, then its golden-set figures
    page.get_by_test_id("evaluate").click()
    evaluation = page.get_by_test_id("evaluation")
    expect(evaluation).to_contain_text(f"of {target}: completed", timeout=30_000)
    expect(evaluation).to_contain_text(re.compile(r"golden set \d+\.\d% accuracy \(n=[1-9]"))
    page.screenshot(path=ARTIFACTS / "5-evaluated.png", full_page=True)

    assert errors == [], errors
    # an ended run never changes: the refreshes after it (fast ones during the evaluation included) reuse it
    assert sum(run_details in url for url in requested) == details_fetched
    seconds = time.perf_counter() - started
    print(f"operator page: retraining {outcome} (step seen: {step_seen}), rollback to {target}; "
          f"{seconds:.1f} s: load {loaded - started:.1f}, retraining {retrained - loaded:.1f}, "
          f"rollback and evaluation {time.perf_counter() - retrained:.1f}")  # fmt: skip
    assert sorted(path.name for path in ARTIFACTS.iterdir()) == [
        "1-loaded.png", "2-retraining.png", "3-retrained.png", "4-rolled-back.png", "5-evaluated.png",
    ]  # fmt: skip


def test_the_docs_page_signs_with_the_same_code(local_mode, browser):
    """/docs includes the operator page's signing code (local.browser_signing): an IAM route answers 200. (It
    also renders at all: a script error on routes with path parameters left it empty in browsers.)"""
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(local_mode.front.base_url + "/docs")
    summary = page.locator("summary", has_text=re.compile(r"^GET /api/v1/model/versions\s*IAM$"))
    expect(summary).to_have_count(1, timeout=15_000)
    summary.click()
    operation = page.locator("details[open]")
    operation.get_by_role("button", name="Send").click()
    expect(operation.locator("pre")).to_contain_text("200 OK", timeout=15_000)
    expect(operation.locator("pre")).to_contain_text('"active_version"')
    assert errors == [] and "could not load" not in page.locator("#ops").inner_text()
