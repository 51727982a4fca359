"""Stored frequency models: JSON / skops in the database, an older version's pickle never
loaded (the next run refits and says why), and the model page an actuary can read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, update
from threadpoolctl import threadpool_limits

from crm import audit
from crm.db import utcnow
from crm.demo import seed_demo
from crm.jobs import recalc
from crm.models import RiskModelRecord
from crm.tiers import models_store
from segmentation import build_training_frame, fit_frequency_model, predict_frequency
from segmentation.model_inputs import CANDIDATES, Vocabulary
from segmentation.risk_model import _hgb
from segmentation.truth import make_true_portfolio
from tests.conftest import csrf_token
from tests.template_helpers import seeded

AS_OF = dt.date(2026, 11, 24)


def _demo(database) -> None:
    """The 150-customer demo portfolio, seeded once per worker (tests/template_helpers.py)."""
    seeded(database, "demo-150-4", lambda: seed_demo(database, 150, seed=4, as_of=AS_OF))


ACTOR = audit.Actor("system", "tests")


class _Tripwire:
    """A pickle that, if loaded, touches a file: what an old (or forged) stored model could do."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _plant_old_pickle(database, sentinel: Path) -> str:
    """The newest stored model becomes a pickle, as the versions before stored them, fresh."""
    with database.transaction() as s:
        record = models_store.newest(s)
        s.execute(
            update(RiskModelRecord)
            .where(RiskModelRecord.id == record.id)
            .values(blob=pickle.dumps(_Tripwire(sentinel), protocol=pickle.HIGHEST_PROTOCOL), created_at=utcnow())
        )
        return record.version


@pytest.fixture
def one_openmp_thread():
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def test_an_older_versions_pickle_is_not_loaded_and_the_next_run_refits_with_a_note(
    database, tmp_path, caplog, one_openmp_thread
):
    _demo(database)
    sentinel = tmp_path / "unpickled"
    old = _plant_old_pickle(database, sentinel)
    with caplog.at_level(logging.WARNING, logger="crm.tiers.models_store"):
        summary = recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=1), actor=ACTOR))
    assert not sentinel.exists()  # no code of the pickle ran
    assert summary.model_version.endswith(f"#run{summary.run_id}")  # fitted by this run, not reused
    assert any("older version" in r.getMessage() and old in r.getMessage() for r in caplog.records)
    with database.session() as s:
        newest = models_store.newest(s)
        assert newest.version == summary.model_version and not models_store.unreadable(newest)
        assert newest.note.startswith(f"Refitted: the model stored before ({old}) was written by an older version")
        assert models_store.reusable_model(s, dt.timedelta(days=30), utcnow())[1] == newest.version
    again = recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=1), actor=ACTOR))
    assert again.model_version == summary.model_version and again.changed == 0  # read back: the same scores


@pytest.mark.parametrize("kind", ["poisson_glm", "hgb_poisson"])
def test_a_model_stored_and_read_back_predicts_exactly_what_it_did(database, kind, one_openmp_thread):
    book = make_true_portfolio(1500, seed=3, as_of=AS_OF)
    train = build_training_frame(*book[:3], AS_OF)
    fitted = fit_frequency_model(train, boosted_min_gain=1.0)
    if kind == "hgb_poisson":
        codes = Vocabulary(fitted.vocabulary).encode(train, CANDIDATES).astype(np.float64)
        trees = _hgb(0).fit(codes, train["claims"] / train["exposure"], sample_weight=train["exposure"])
        fitted = dataclasses.replace(fitted, kind=kind, estimator=trees, inputs=CANDIDATES)
    with database.transaction() as s:
        models_store.save_model(s, fitted, f"test:{kind}")
    with database.session() as s:
        blob = s.scalar(select(RiskModelRecord.blob).where(RiskModelRecord.version == f"test:{kind}"))
        stored, version = models_store.reusable_model(s, dt.timedelta(days=1), utcnow())
    assert bytes(blob)[:1] == b"{" and version == f"test:{kind}" and stored.kind == kind
    expected = predict_frequency(fitted, *book[:3], AS_OF)
    pd.testing.assert_series_equal(predict_frequency(stored, *book[:3], AS_OF), expected, check_exact=True)


def test_model_page_shows_deviance_gini_calibration_and_relativities(client, login_as, database, tmp_path):
    _demo(database)
    login_as("risk_officer")
    html = client.get("/tiers/model").get_data(as_text=True)
    for part in (
        'id="deviance-model"',
        'id="deviance-constant"',
        'id="deviance-explained"',
        'id="gini"',
        'class="decile-chart"',
        'id="calibration"',
        'id="relativities"',
        'id="base-rate"',
        'id="selection"',
        "Product type",
        "Relativity",
        "Actual / predicted",
    ):
        assert part in html, part
    assert html.count("<tr><td>", html.index('id="calibration"'), html.index('id="relativities"')) == 10
    assert "1.000</td>" in html  # each input's base level
    assert 'id="model-legacy"' not in html
    token = csrf_token(client, "/tiers/model")
    client.post("/language", data={"locale": "zh", "csrf_token": token, "next": "/tiers/model"})
    html = client.get("/tiers/model").get_data(as_text=True)
    for part in ("广义线性模型相对系数", "校准", "险种", "相对系数", "基准频率"):
        assert part in html, part

    _plant_old_pickle(database, tmp_path / "unpickled")
    html = client.get("/tiers/model").get_data(as_text=True)
    assert 'id="model-legacy"' in html and not (tmp_path / "unpickled").exists()
