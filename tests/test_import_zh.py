"""Imports for a Chinese office (issue 24): a GBK file (what Excel saves as CSV on a Chinese
Windows) read when GB18030 is chosen, on the command line and the upload page; a GBK file sent
as UTF-8 refused with the way out; a file of another kind named in one line; problems in row
order in either language; the columns and a template of each kind on the page; the labels."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.importer import ImportFailed, import_csv
from crm.jobs import scheduler
from crm.models import Customer
from tests.conftest import csrf_token
from tests.factories import customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")


def _gbk_file(tmp_path, rows, name="customers.csv"):
    path = tmp_path / name
    with open(path, "w", newline="", encoding="gbk") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _names(database) -> set[str]:
    with database.session() as s:
        return set(s.scalars(select(Customer.name)))


def test_a_gbk_file_is_read_as_gb18030_and_refused_as_utf8_with_the_way_out(database, tmp_path):
    path = _gbk_file(tmp_path, [customer_row(name="王小明", city="广州"), customer_row(name="李娜")])
    with pytest.raises(ImportFailed) as refused:
        import_csv(database, "customers", path, ACTOR)
    [problem] = refused.value.problems
    assert "looks like GBK" in problem and "GB18030" in problem and "CSV UTF-8 (逗号分隔)" in problem
    summary = import_csv(database, "customers", path, ACTOR, encoding="gb18030")
    assert summary.created == 2 and _names(database) == {"王小明", "李娜"}


def test_a_utf8_file_sent_as_gb18030_is_refused_not_garbled(database, tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row(name="王小明")])
    with pytest.raises(ImportFailed) as refused:
        import_csv(database, "customers", path, ACTOR, encoding="gb18030")
    assert "choose the encoding UTF-8" in refused.value.problems[0]
    assert _names(database) == set()


def test_the_command_line_reads_gb18030(runner, tmp_path):
    path = _gbk_file(tmp_path, [customer_row(name="王小明")])
    refused = runner.invoke(args=["import", "customers", str(path)])
    assert refused.exit_code == 1 and "--encoding" not in refused.output and "GB18030" in refused.output
    ok = runner.invoke(args=["import", "customers", str(path), "--encoding", "gb18030"])
    assert ok.exit_code == 0, ok.output
    assert "1 new" in ok.output


def test_a_file_of_another_kind_is_named_in_one_line(database, tmp_path):
    path = write_csv(tmp_path / "p.csv", [policy_row(customer_ref="C1")])
    with pytest.raises(ImportFailed) as refused:
        import_csv(database, "customers", path, ACTOR)
    assert refused.value.problems == [
        "row 1, column -: this looks like a Policies file, not a Customers file: choose the kind Policies"
    ]


def test_problems_are_listed_in_row_order_whenever_they_were_found(database, tmp_path):
    rows = [customer_row(referred_by="C999999"), customer_row(phone="1"), customer_row(account_manager="x@y.crm")]
    with pytest.raises(ImportFailed) as refused:
        import_csv(database, "customers", write_csv(tmp_path / "c.csv", rows), ACTOR)
    assert [p.split(",")[0] for p in refused.value.problems] == ["row 2", "row 3", "row 4"]


def _upload(client, path, kind="customers", **fields):
    return client.post(
        "/admin/import",
        data={
            "csrf_token": csrf_token(client, "/admin/import"),
            "kind": kind,
            "file": (io.BytesIO(path.read_bytes()), path.name),
            **fields,
        },
        content_type="multipart/form-data",
    )


def test_the_upload_page_takes_gb18030_and_answers_in_chinese_in_row_order(app, client, login_as, database, tmp_path):
    login_as("admin", locale="zh")
    path = _gbk_file(tmp_path, [customer_row(name="王小明")])
    as_utf8 = _upload(client, path).headers["Location"]
    as_gbk = _upload(client, path, encoding="gb18030").headers["Location"]
    settings = app.config["CRM_SETTINGS"]
    with app.app_context():  # as `crm scheduler run` builds it
        built = scheduler.build(database, settings)
    run_imports = built.get_job("imports.queued").func  # run as its thread runs it: no context of its own
    run_imports(database, settings)
    run_imports(database, settings)
    refused = client.get(as_utf8).get_data(as_text=True)
    assert "看起来是 GBK 编码" in refused and "CSV UTF-8 (逗号分隔)" in refused
    assert 'id="import-result"' in client.get(as_gbk).get_data(as_text=True)
    assert _names(database) == {"王小明"}

    rows = [customer_row(referred_by="C999999"), customer_row(phone="1"), customer_row(account_manager="x@y.crm")]
    page = _upload(client, write_csv(tmp_path / "bad.csv", rows)).headers["Location"]
    run_imports(database, settings)
    listed = client.get(page).get_data(as_text=True).split('id="import-problems"', 1)[1].split("</ul>", 1)[0]
    shown = [item.split("</li>", 1)[0] for item in listed.split("<li>")[1:]]
    assert [line.split("，")[0] for line in shown] == ["第 2 行", "第 3 行", "第 4 行"], shown


def test_the_page_lists_each_kinds_columns_and_offers_a_template(client, login_as):
    login_as("admin", locale="zh")
    html = client.get("/admin/import").get_data(as_text=True)
    assert 'id="columns-policies"' in html and "<code>in_force</code> 有效" in html
    assert 'name="encoding"' in html and "GB18030" in html
    assert 'style="' not in html  # the CSP allows no inline style
    template = client.get("/admin/import/template/claims.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    header = template.get_data(as_text=True).lstrip("\ufeff").strip()
    assert (
        header
        == "claim_no,policy_no,loss_date,report_date,status,claimed_amount,reserve_amount,paid_amount,fraud_suspected"
    )
    assert client.get("/admin/import/template/shoes.csv").status_code == 404


def test_labels_name_codes_in_the_users_language(app):
    from flask_babel import force_locale

    from crm.labels import label, tier_move

    with app.test_request_context(), force_locale("zh"):
        assert str(label("in_force", "policy_status")) == "有效"
        assert str(label("review_case.claim", "audit_action")) == "审核案件已领取"
        assert str(label("vip_checkup", "benefit")) == "贵宾健康体检"
        assert str(label("completed", "job_state")) == "已完成"
        assert tier_move(None, "standard") == "新客户 → 普通"
        assert str(label("someone_elses_code", "benefit")) == "someone_elses_code"
