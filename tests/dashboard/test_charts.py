"""The charts: SVG drawn on the server that runs nothing and loads nothing, whose bars are the
numbers of the table beside them; an empty chart says so instead of inventing data."""
from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy.orm import Session

from ledger import requests
from ledger.requests import Intake, RequestRules
from ledger.transactions import Ledger
from overview_data import NOW, CLINIC, ingest, prepare, table_rows, utc
from state.retention_dues import Clock, set_due_dates

SVG = "{http://www.w3.org/2000/svg}"
CHARTS = ("record-changes", "expiries", "requests")


@pytest.fixture(autouse=True)
def _prepared(dashboard_app, dashboard):
    prepare(dashboard_app, dashboard)


def svg(client, name: str) -> ElementTree.Element:
    response = client.get(f"/charts/{name}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    return ElementTree.fromstring(response.get_data())


def bars(root: ElementTree.Element, *, horizontal: bool = False) -> dict[str, float]:
    """Bar id -> its drawn length (its height; its width for horizontal bars), from the path's corners."""
    lengths = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("id", "").startswith("bar-"):
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", group.find(f"{SVG}path").get("d"))]
            xs, ys = numbers[0::2], numbers[1::2]
            lengths[group.get("id")] = max(xs) - min(xs) if horizontal else max(ys) - min(ys)
    return lengths


def texts(root: ElementTree.Element) -> list[str]:
    return [element.text for element in root.iter(f"{SVG}text") if element.text]


def on_day(dashboard, day) -> Ledger:
    """The dashboard's ledger with its clock on `day` (so entries are appended on that day)."""
    return Ledger(dashboard.engine, dashboard.ledger.keys, clock=lambda: day, keystore=dashboard.ledger.keystore)


def ingest_on(dashboard, day, appointment_id, customer_number):
    moved = type(dashboard)(dashboard.settings, on_day(dashboard, day), dashboard.policy, lambda: day)
    ingest(moved, appointment_id, start=day + timedelta(days=20), customer_number=customer_number)


@pytest.mark.parametrize("name", CHARTS)
def test_a_chart_is_svg_that_runs_nothing_loads_nothing_and_has_no_css(dashboard, officer, name):
    ingest(dashboard, "a-1", start=utc(2026, 12, 10, 10))
    response = officer.get(f"/charts/{name}.svg")
    body = response.get_data(as_text=True)
    root = ElementTree.fromstring(response.get_data())
    assert root.tag == f"{SVG}svg"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert "<!DOCTYPE" not in body and "<script" not in body.lower() and "<style" not in body
    assert all("style" not in element.attrib for element in root.iter())
    for element in root.iter():
        for attribute, value in element.attrib.items():
            if attribute.endswith("href"):
                assert value.startswith("#"), value
            for target in re.findall(r"url\(([^)]*)\)", value):
                assert target.startswith("#"), target
    assert not [element for element in root.iter() if element.tag.endswith(("foreignObject", "image", "metadata"))]


def test_the_same_data_draws_the_same_bytes(dashboard, officer):
    ingest(dashboard, "a-1", start=utc(2026, 12, 10, 10))
    assert officer.get("/charts/record-changes.svg").data == officer.get("/charts/record-changes.svg").data


def test_records_by_day_draws_one_bar_per_day_of_changes_as_tall_as_its_count(dashboard, officer):
    days = {NOW - timedelta(days=9): 1, NOW - timedelta(days=4): 3, NOW: 2}
    number = 0
    for day, count in days.items():
        for _ in range(count):
            number += 1
            ingest_on(dashboard, day, f"a-{number}", number)
    root = svg(officer, "record-changes")
    drawn = bars(root)
    positions = {29 - 9: 1, 29 - 4: 3, 29: 2}        # the window's last position is today
    assert set(drawn) == {f"bar-0-{index}" for index in positions}      # series 0: collected
    unit = drawn["bar-0-29"] / 2
    for index, count in positions.items():
        assert drawn[f"bar-0-{index}"] == pytest.approx(unit * count, rel=1e-3)
    assert [text for text in texts(root) if text in ("1", "2", "3")].count("3") >= 1
    html = officer.get("/").get_data(as_text=True)
    assert [row[:2] for row in table_rows(html, "What happened to records")] == [
        ["2026-11-22", "1"], ["2026-11-27", "3"], ["2026-12-01", "2"]]


def test_expiries_ahead_are_drawn_by_day_and_category(dashboard, officer):
    with Session(dashboard.engine) as session, session.begin():
        for number, (days, category) in enumerate([(3, "booking.contact"), (3, "booking.identity"), (10, "booking.contact")]):
            set_due_dates(session, "appointment", f"a-{number}", f"{number:032d}",
                          {category: Clock(NOW - timedelta(days=30 - days), "P30D")}, business_id=CLINIC, zone=NOW.tzinfo)
    root = svg(officer, "expiries")
    assert set(bars(root)) == {"bar-0-3", "bar-0-10", "bar-1-3"}     # contact on days 3 and 10, identity on day 3
    assert "booking.contact" in texts(root) and "booking.identity" in texts(root)   # the legend
    html = officer.get("/").get_data(as_text=True)
    assert table_rows(html, "Data coming due") == [["2026-12-04", "1", "1"], ["2026-12-11", "1", "0"]]


def test_requests_show_a_clear_empty_state_until_there_are_requests(dashboard, officer):
    html = officer.get("/").get_data(as_text=True)
    assert "No data-subject request is open." in html
    assert "/charts/requests.svg" not in html                # no picture of nothing
    assert "No data-subject request is open." in texts(svg(officer, "requests"))
    assert not bars(svg(officer, "requests"))
    with dashboard.ledger.transaction() as tx:
        rules = RequestRules.from_settings(dashboard.settings)
        request_id = requests.receive(tx, Intake("access", "dashboard", email="ada@example.org"), rules).request_id
    html = officer.get("/").get_data(as_text=True)
    # Received 1 December: one month is 1 January, New Year's Day in Ireland, so Monday 4 January.
    assert table_rows(html, "Open data-subject requests") == [[request_id, "34", ""]]   # not extended
    assert "34" in texts(svg(officer, "requests")) and set(bars(svg(officer, "requests"))) == {"bar-0-0"}


def test_charts_are_for_the_overviews_roles_only(dashboard_app, officer, auditor, admin):
    for client in (officer, auditor, admin):
        assert client.get("/charts/expiries.svg").status_code == 200
    assert officer.get("/charts/nothing.svg").status_code == 404
    assert dashboard_app.test_client().get("/charts/expiries.svg").status_code == 302     # to sign in
