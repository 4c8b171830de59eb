"""The record lists (filtered by state, type and business, paged) and one record's surfaces in Bookings.

Filters are GET parameters, safe to bookmark: states, types and business mailboxes, never a
person's identifier (search for those is a POST: dashboard/subjects.py).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session

from dashboard.context import context
from dashboard.record_surfaces import business_of, surfaces
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow
from ledger.models import RecordProjection
from ledger.projections import RECORD_STATES, RECORD_TYPES
from state.bookings_mirror import BookingAppointment, BookingCustomer

bp = Blueprint("records", __name__)
PAGE_SIZE = 50
STATES = tuple(sorted(set(RECORD_STATES.values())))


@bp.get("/records")
@allow(PRIVACY_OFFICER, AUDITOR)
def records_page() -> str:
    filters = {name: request.args.get(name, "") for name in ("state", "type", "business")}
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with Session(context().engine) as session:
        query = _filtered(select(RecordProjection), filters)
        total = session.scalar(_filtered(select(func.count()).select_from(RecordProjection), filters)) or 0
        rows = list(session.scalars(query.order_by(RecordProjection.updated_at.desc(), RecordProjection.object_id)
                                    .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        businesses = business_of(session, rows)
        choices = sorted(session.scalars(union(select(BookingAppointment.business_id), select(BookingCustomer.business_id))))
    return render_template("records/list.html", rows=rows, businesses=businesses, filters=filters, page=page,
                           more=page * PAGE_SIZE < total, total=total, states=STATES, types=RECORD_TYPES,
                           business_choices=choices)


@bp.get("/records/<object_type>/<path:object_id>")
@allow(PRIVACY_OFFICER, AUDITOR)
def record_page(object_type: str, object_id: str) -> str:
    if object_type not in RECORD_TYPES:
        abort(404)
    with Session(context().engine) as session:
        found = surfaces(session, object_type, object_id)
        if not found.known:
            abort(404)
        return render_template("records/record.html", found=found)


def _filtered(query: Any, filters: dict[str, str]) -> Any:
    if filters["state"] in STATES:
        query = query.where(RecordProjection.state == filters["state"])
    if filters["type"] in RECORD_TYPES:
        query = query.where(RecordProjection.object_type == filters["type"])
    if filters["business"]:
        business = filters["business"]
        query = query.where(or_(
            and_(RecordProjection.object_type == "appointment", RecordProjection.object_id.in_(
                select(BookingAppointment.appointment_id).where(BookingAppointment.business_id == business))),
            and_(RecordProjection.object_type == "customer", RecordProjection.object_id.in_(
                select(BookingCustomer.customer_id).where(BookingCustomer.business_id == business)))))
    return query
