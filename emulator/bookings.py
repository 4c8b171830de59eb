"""Routes of the Bookings API under ``/v1.0/solutions/bookingBusinesses`` (graph-facts §1)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, request

from . import entities, identity
from .errors import GraphError
from .identity import requires
from .paging import keyset_page, page_size
from .responses import collection, context, emulator, graph_json, json_body, no_content, query_args
from .store import Business
from .timefmt import parse_offset_datetime

bp = Blueprint("bookings", __name__, url_prefix="/v1.0/solutions/bookingBusinesses")
KIND = "<any(services,staffMembers,customers,customQuestions):kind>"
# PATCH answers: customers 200 with the object (bookingcustomer-update), the others 204.
PATCH_RETURNS_BODY = {"customers"}
WRITE_ENTITY = {"customers": identity.WRITE_APPOINTMENTS}


def _fragment(business_id: str, tail: str) -> str:
    return f"bookingBusinesses('{quote(business_id, safe='')}')/{tail}"


def _typed(kind: str, entity: dict) -> dict:
    return {"@odata.type": entities.ODATA_TYPES[kind], **entity}


# Businesses -----------------------------------------------------------------------------------
@bp.get("")
@requires(identity.LIST_BUSINESSES)
def list_businesses() -> Response:
    """List returns only id and displayName and stops at 500, without paging (§1.1)."""
    businesses = list(emulator().store.businesses.values())[:500]
    items = [{"id": b.id, "displayName": b.data["displayName"]} for b in businesses]
    return graph_json(collection("bookingBusinesses", items, None, root="solutions/"))


@bp.post("")
@requires(identity.MANAGE_BUSINESS)
def create_business() -> Response:
    """Create a business (201)."""
    business = emulator().store.add_business(json_body())
    return graph_json({"@odata.context": context("bookingBusinesses/$entity", "solutions/"), **business.data}, 201)


@bp.get("/<business_id>")
@requires(identity.READ_BOOKINGS)
def get_business(business_id: str) -> Response:
    """One business with all its properties."""
    business = emulator().store.business(business_id)
    return graph_json({"@odata.context": context("bookingBusinesses/$entity", "solutions/"), **business.data})


@bp.patch("/<business_id>")
@requires(identity.MANAGE_BUSINESS)
def update_business(business_id: str) -> Response:
    """PATCH a business (204)."""
    store = emulator().store
    body = entities.strip_annotations(json_body())
    entities.check_business_properties(body)
    with store.lock:
        entities.patch_entity(store.business(business_id).data, {k: v for k, v in body.items() if k not in ("id", "email")},
                              now=store.clock.now())
    return no_content()


@bp.delete("/<business_id>")
@requires(identity.MANAGE_BUSINESS)
def delete_business(business_id: str) -> Response:
    """DELETE a business (204)."""
    emulator().store.remove_business(business_id)
    return no_content()


# Services, staff members, customers, custom questions ----------------------------------------------
@bp.get(f"/<business_id>/{KIND}")
@requires(identity.READ_BOOKINGS)
def list_entities(business_id: str, kind: str) -> Response:
    """A paged collection in creation order."""
    store = emulator().store
    with store.lock:
        items = store.business(business_id).collections[kind]
        return _page(_fragment(business_id, kind), lambda after: items.order.scan(after=after),
                     lambda key: _typed(kind, items.items[key[1]]))


@bp.post(f"/<business_id>/{KIND}")
@requires(identity.WRITE_SETUP, by_kind=WRITE_ENTITY)
def create_entity(business_id: str, kind: str) -> Response:
    """Create (201)."""
    entity = emulator().store.create_entity(business_id, kind, json_body())
    return graph_json({"@odata.context": context(_fragment(business_id, f"{kind}/$entity"), "solutions/"), **_typed(kind, entity)}, 201)


@bp.get(f"/<business_id>/{KIND}/<entity_id>")
@requires(identity.READ_BOOKINGS)
def get_entity(business_id: str, kind: str, entity_id: str) -> Response:
    """One entity."""
    entity = emulator().store.entity(business_id, kind, entity_id)
    return graph_json({"@odata.context": context(_fragment(business_id, f"{kind}/$entity"), "solutions/"), **_typed(kind, entity)})


@bp.patch(f"/<business_id>/{KIND}/<entity_id>")
@requires(identity.WRITE_SETUP, by_kind=WRITE_ENTITY)
def update_entity(business_id: str, kind: str, entity_id: str) -> Response:
    """PATCH: customers answer 200 with the object, the others 204."""
    entity = emulator().store.update_entity(business_id, kind, entity_id, json_body())
    if kind in PATCH_RETURNS_BODY:
        return graph_json({"@odata.context": context(_fragment(business_id, f"{kind}/$entity"), "solutions/"), **_typed(kind, entity)})
    return no_content()


@bp.delete(f"/<business_id>/{KIND}/<entity_id>")
@requires(identity.WRITE_SETUP, by_kind=WRITE_ENTITY)
def delete_entity(business_id: str, kind: str, entity_id: str) -> Response:
    """DELETE (204); no cascade to appointments. A deleted customer may still answer 500 (see below)."""
    core = emulator()
    core.store.delete_entity(business_id, kind, entity_id)
    rate = core.options.quirk_delete_customer_500_rate
    if kind == "customers" and rate > 0 and core.rng.random() < rate:  # no draw at 0: seeded runs stay as they were
        # docs-contrib#9012: 500 although the customer was deleted; the next DELETE answers 404.
        raise GraphError(500, "UnknownError", "An error has occurred.")
    return no_content()


# Appointments -------------------------------------------------------------------------------------
@bp.get("/<business_id>/appointments")
@requires(identity.READ_BOOKINGS)
def list_appointments(business_id: str) -> Response:
    """All appointments in start order, paged; ``$count=true`` adds ``@odata.count``."""
    store = emulator().store
    with store.lock:
        business = store.business(business_id)
        return _page(_fragment(business_id, "appointments"), lambda after: business.by_start.scan(after=after),
                     lambda key: _render_listed(business, key), count=len(business.appointments))


@bp.post("/<business_id>/appointments")
@requires(identity.WRITE_APPOINTMENTS)
def create_appointment(business_id: str) -> Response:
    """Create (201) and answer with the appointment as GET-by-id shows it."""
    appointment = emulator().store.create_appointment(business_id, json_body())
    return _single(business_id, appointment, 201)


@bp.get("/<business_id>/appointments/<appointment_id>")
@requires(identity.READ_BOOKINGS)
def get_appointment(business_id: str, appointment_id: str) -> Response:
    """One appointment, with the fields only GET-by-id returns; start/end in UTC."""
    return _single(business_id, emulator().store.appointment(business_id, appointment_id))


@bp.patch("/<business_id>/appointments/<appointment_id>")
@requires(identity.WRITE_APPOINTMENTS)
def update_appointment(business_id: str, appointment_id: str) -> Response:
    """PATCH answers 204 without a body (bookingappointment-update)."""
    emulator().store.update_appointment(business_id, appointment_id, json_body())
    return no_content()


@bp.delete("/<business_id>/appointments/<appointment_id>")
@requires(identity.WRITE_APPOINTMENTS)
def delete_appointment(business_id: str, appointment_id: str) -> Response:
    """DELETE (204)."""
    emulator().store.delete_appointment(business_id, appointment_id)
    return no_content()


@bp.post("/<business_id>/appointments/<appointment_id>/cancel")
@requires(identity.CANCEL_APPOINTMENT)
def cancel_appointment(business_id: str, appointment_id: str) -> Response:
    """Cancel (204; 404 when missing). Application callers need Bookings.ReadWrite.All (§1.6)."""
    body = request.get_json(silent=True) or {}
    emulator().store.cancel_appointment(business_id, appointment_id, body.get("cancellationMessage"))
    return no_content()


@bp.get("/<business_id>/calendarView")
@requires(identity.READ_BOOKINGS)
def calendar_view(business_id: str) -> Response:
    """Appointments overlapping [start, end); both required, each with an offset (§1.5)."""
    args = query_args()
    start = parse_offset_datetime(args.get("start"), "start").timestamp()
    end = parse_offset_datetime(args.get("end"), "end").timestamp()
    store = emulator().store
    with store.lock:
        business = store.business(business_id)
        return _page(_fragment(business_id, "calendarView"), lambda after: business.overlapping(start, end, after),
                     lambda key: _render_listed(business, key))


# Helpers ---------------------------------------------------------------------------------------------
def _render_listed(business: Business, key: tuple) -> dict:
    options = emulator().options
    return entities.render_appointment(business.appointment(key[1]), single=False,
                                       empty_customers=options.quirk_empty_customers_in_lists,
                                       aliases=options.quirk_start_end_aliases)


def _single(business_id: str, appointment: dict, status: int = 200) -> Response:
    options = emulator().options
    body = entities.render_appointment(appointment, single=True, empty_customers=False, aliases=options.quirk_start_end_aliases)
    return graph_json({"@odata.context": context(_fragment(business_id, "appointments/$entity"), "solutions/"), **body}, status)


def _page(fragment: str, scan, render, count: int | None = None) -> Response:
    args = query_args()
    size, top = page_size(args, request.headers.get("Prefer", ""), emulator().options.page_size)
    items, next_link = keyset_page(scan, render, args=args, base_url=request.base_url, size=size, top=top)
    extra = {"@odata.count": count} if count is not None and args.get("$count", "").lower() == "true" else None
    return graph_json(collection(fragment, items, next_link, root="solutions/", extra=extra))
