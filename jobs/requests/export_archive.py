"""The export archive's files: export.json (the whole document) and a CSV per table, zipped in memory.

    archive = zip_export(document)      # bytes of a zip; nothing is written to disk in the clear

A full export (GDPR, or CCPA verified to `high`) holds

    export.json                  everything below, structured
    ledger_personal_data.csv     subject, field, category, purpose, stored_at, value
    ledger_entries.csv           subject, seq, time, kind, purpose, categories, fields, refs: what was done, when
    requests.csv                 the requests the person made: id, type, state, received, completed
    graph_customers.csv          business, customer id, name, email, phones, addresses, created, updated
    graph_appointments.csv       business, appointment id, start, end, service, the subject's customer entry
    README.txt

a categories export (CCPA below `high`, §7024(a)) export.json, categories.csv and README.txt.
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

README_FULL = """This archive holds the personal data bookings-ledger and Microsoft Bookings hold about you.

export.json is the whole export, machine-readable, every value exactly as stored; each CSV file is
one of its tables (a cell that a spreadsheet would run as a formula starts with an apostrophe):
  ledger_personal_data.csv   the values the ledger keeps, encrypted, with their category and purpose
  ledger_entries.csv         what was done with them and when (the ledger's entries: no values)
  requests.csv               the privacy requests you made
  graph_customers.csv        your customer records in each Bookings business, as Microsoft Graph returned them
  graph_appointments.csv     your appointments in each Bookings business (only your own part of a shared one)
"""
README_CATEGORIES = """This archive lists the categories of personal data bookings-ledger and Microsoft Bookings hold about you.

Your identity was verified to a reasonable degree of certainty, which under the CCPA regulations
(11 CCR 7024(a)) allows disclosing the categories of personal information, not specific pieces.
Verify to a reasonably high degree (three data points and a signed declaration) for the values.

export.json is the whole export, machine-readable; categories.csv is its table of categories.
"""
JSON_OPTIONS = {"indent": 2, "sort_keys": True, "ensure_ascii": False}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); a note
# someone else typed must not run when the subject opens the file. Numbers and phone numbers pass.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_LIKE = re.compile(r"[+-]?[0-9 ()./-]+")


def zip_export(document: dict[str, Any]) -> bytes:
    """The archive's bytes for an export document (its `scope` decides the files)."""
    files = {"export.json": json.dumps(document, **JSON_OPTIONS) + "\n"}
    if document["scope"] == "categories":
        files["categories.csv"] = _csv(("source", "business", "category", "purpose", "fields", "records"),
                                       _category_rows(document))
        files["README.txt"] = README_CATEGORIES
    else:
        files.update(_full_tables(document))
        files["README.txt"] = README_FULL
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            # A fixed date: the archive's bytes depend on its content alone.
            archive.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), text.encode("utf-8"),
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _full_tables(document: dict[str, Any]) -> dict[str, str]:
    subjects = document["ledger"]["subjects"]
    values = [(s["subject"], v["field"], v["category"], v["purpose"], v["stored_at"], v["value"])
              for s in subjects for v in s["personal_data"]]
    entries = [(s["subject"], e["seq"], e["time"], e["kind"], e.get("purpose"), _joined(e.get("categories")),
                _joined(e.get("fields")), _json(e.get("refs"))) for s in subjects for e in s["entries"]]
    requests = [(r["request_id"], r["request_type"], r["state"], r["received_at"], r["completed_at"])
                for r in document["ledger"]["requests"]]
    customers, appointments = [], []
    for business in document["graph"]["businesses"]:
        customers += [(business["business_id"], c["id"], c["displayName"], c["emailAddress"], _json(c["phones"]),
                       _json(c["addresses"]), c["createdDateTime"], c["lastUpdatedDateTime"])
                      for c in business["customers"]]
        appointments += [(business["business_id"], a["id"], _moment(a["startDateTime"]), _moment(a["endDateTime"]),
                          a["serviceName"], person.get("name"), person.get("emailAddress"), person.get("phone"),
                          _json(person.get("customQuestionAnswers")), a.get("customerNotes"), a.get("serviceNotes"))
                         for a in business["appointments"] for person in a["customers"] or [{}]]
    return {
        "ledger_personal_data.csv": _csv(("subject", "field", "category", "purpose", "stored_at", "value"), values),
        "ledger_entries.csv": _csv(("subject", "seq", "time", "kind", "purpose", "categories", "fields", "refs"), entries),
        "requests.csv": _csv(("request_id", "request_type", "state", "received_at", "completed_at"), requests),
        "graph_customers.csv": _csv(("business", "customer_id", "name", "email", "phones", "addresses", "created",
                                     "last_updated"), customers),
        "graph_appointments.csv": _csv(("business", "appointment_id", "start", "end", "service", "name", "email", "phone",
                                        "answers", "customer_notes", "service_notes"), appointments),
    }


def _category_rows(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = [("ledger", "", c["category"], c["purpose"], _joined(c["fields"]), c["values"])
            for c in document["ledger"]["categories"]]
    rows += [("graph", b["business_id"], c["category"], "", _joined(c["fields"]), c["records"])
             for b in document["graph"]["businesses"] for c in b["categories"]]
    return rows


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    """A CSV cell: empty for None, and text a spreadsheet would run as a formula quoted with `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER_LIKE.fullmatch(value):
        return "'" + value
    return value


def _moment(value: Any) -> str | None:
    return value.get("dateTime") if isinstance(value, dict) else value


def _joined(values: Any) -> str:
    return ";".join(values) if isinstance(values, list) else ""


def _json(value: Any) -> str:
    return "" if value in (None, [], {}) else json.dumps(value, sort_keys=True, ensure_ascii=False)
