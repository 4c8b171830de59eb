"""Deterministic, realistic booking data: businesses across time zones, staff, services, custom
questions, customers (names, emails, phones, addresses, notes) and appointments with answers.

Appointments are created through the store's own appointment builder from Graph-shaped POST
bodies, so seeded data has exactly the shape the API produces.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .store import Business, BookingStore
from .timefmt import zone

FIRST = ["Alex", "Bob", "Chen", "Dana", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jordan", "Kofi", "Lena", "Mateo",
         "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomoko", "Uma", "Viktor", "Wen", "Yusuf", "Zoe"]
LAST = ["Kelly", "Miller", "Nakamura", "Okafor", "Schmidt", "Garcia", "Haddad", "Ivanova", "Johansson", "Kim", "Larsen",
        "Moreau", "Novak", "O'Brien", "Patel", "Rossi", "Silva", "Tanaka", "Weber", "Yilmaz"]
# (display name, mailbox local part, business time zone, phone country code). The zone goes to the
# scheduling mailbox's mailboxSettings (bookingBusiness has none), by its Windows name, the format
# Exchange uses unless an admin set IANA names; one business keeps the IANA name, as Graph may return.
BUSINESSES = [("Contoso Dental", "contosodental", "Central Standard Time", "+1"),
              ("Fabrikam Physiotherapy", "fabrikamphysio", "GMT Standard Time", "+44"),
              ("Northwind Legal Advice", "northwindlegal", "AUS Eastern Standard Time", "+61"),
              ("Tailspin Tutoring", "tailspintutoring", "Tokyo Standard Time", "+81"),
              ("Wingtip Wellness", "wingtipwellness", "Europe/Berlin", "+49")]
SERVICES = [("Initial consultation", 60, 80.0, 1), ("Follow-up visit", 30, 45.0, 1), ("Quick check", 15, 0.0, 1),
            ("Group workshop", 90, 25.0, 6)]
QUESTIONS = [("What is your age?", "text", []), ("How did you hear about us?", "radioButton", ["Friend", "Web search", "Flyer"]),
             ("Anything we should know before your visit?", "text", [])]
NOTES = ["Prefers morning slots.", "Allergic to latex.", "Needs wheelchair access.", "Bring previous reports.",
         "Call before arrival.", None, None]
STREETS = ["Main Street", "High Street", "Station Road", "Park Avenue", "Church Lane"]
CITIES = {"America/Chicago": "Chicago", "Europe/London": "London", "Australia/Sydney": "Sydney", "Asia/Tokyo": "Tokyo",
          "Europe/Berlin": "Berlin"}


def business_zone(business: Business) -> str:
    """The IANA name of a business's time zone, from its scheduling mailbox's settings."""
    return zone(business.mailbox_settings.get("timeZone") or "UTC").key


def set_mailbox_zone(business: Business, name: str) -> None:
    """Put a business in a time zone: its mailbox's timeZone and working hours (400 for an unknown zone)."""
    zone(name)
    business.mailbox_settings["timeZone"] = name
    business.mailbox_settings["workingHours"]["timeZone"] = {"name": name}


def seed(store: BookingStore, *, seed: int, businesses: int = 1, appointments: int = 50, customers: int = 20,
         days_back: int = 90, days_ahead: int = 30, domain: str = "contoso.onmicrosoft.com",
         time_zones: list[str] | None = None) -> list[str]:
    """Create businesses full of data; same seed and parameters give the same data. Returns business ids.

    ``time_zones`` (Windows or IANA names, used in turn) replaces the demo businesses' zones."""
    for name in time_zones or ():
        zone(name)  # refuse a bad list before anything is created
    rng = random.Random(seed)
    created = []
    for number in range(businesses):
        name, local, mailbox_zone, code = BUSINESSES[number % len(BUSINESSES)]
        mailbox_zone = time_zones[number % len(time_zones)] if time_zones else mailbox_zone
        suffix = str(number // len(BUSINESSES) + 1) if number >= len(BUSINESSES) else ""
        business = store.add_business({"email": f"{local}{suffix}@{domain}", "displayName": f"{name} {suffix}".strip(),
                                       "businessType": "Health" if number % 2 == 0 else "Professional services",
                                       "phone": _phone(rng, code), "defaultCurrencyIso": "USD"})
        set_mailbox_zone(business, mailbox_zone)
        context = _setup(store, business.id, rng, business_zone(business), code, customers, domain)
        now = store.clock.now()
        # A generator, so a large seed never holds all request bodies at once.
        store.bulk_create(business.id, (appointment_body(rng, context, now, days_back, days_ahead) for _ in range(appointments)))
        created.append(business.id)
    return created


def _setup(store: BookingStore, business_id: str, rng: random.Random, tz: str, code: str, customers: int, domain: str) -> dict:
    """Staff, services, questions and customers of one business; returns what appointments draw from."""
    def create(kind: str, body: dict) -> dict:
        return store.create_entity(business_id, kind, body)

    staff = [create("staffMembers", {"displayName": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "emailAddress": f"staff{i}@{domain}",
                                     "role": "administrator" if i == 0 else "member", "timeZone": tz}) for i in range(3)]
    services = [create("services", {"displayName": name, "defaultDuration": f"PT{minutes}M", "defaultPrice": price,
                                    "defaultPriceType": "fixedPrice" if price else "free", "maximumAttendeesCount": seats,
                                    "staffMemberIds": [s["id"] for s in staff]})
                for name, minutes, price, seats in SERVICES]
    questions = [create("customQuestions", {"displayName": text, "answerInputType": kind, "answerOptions": options})
                 for text, kind, options in QUESTIONS]
    people = [customer_body(rng, tz, code) for _ in range(customers)]
    people = [{**p, "id": create("customers", p)["id"]} for p in people]
    return {"tz": tz, "staff": staff, "services": services, "questions": questions, "customers": people}


def customer_body(rng: random.Random, tz: str, code: str) -> dict:
    """A bookingCustomer POST body for a made-up person."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first}.{last}{rng.randrange(100)}@example.com".lower().replace("'", "")
    return {"@odata.type": "#microsoft.graph.bookingCustomer", "displayName": f"{first} {last}", "emailAddress": email,
            "phones": [{"number": _phone(rng, code), "type": "mobile"}],
            "addresses": [{"street": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", "city": CITIES.get(tz, "Springfield"),
                           "state": "", "countryOrRegion": "", "postalCode": f"{rng.randrange(10000, 99999)}", "type": "home"}]}


def appointment_body(rng: random.Random, context: dict, now: datetime, days_back: int, days_ahead: int) -> dict:
    """A bookingAppointment POST body: local business time, one or two customers with answers."""
    service = rng.choice(context["services"])
    minutes = int(service["defaultDuration"][2:-1])
    day = (now + timedelta(days=rng.randrange(-days_back, days_ahead + 1))).astimezone(ZoneInfo(context["tz"]))
    start = day.replace(hour=rng.randrange(8, 18), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0, tzinfo=None)
    seats = service["maximumAttendeesCount"]
    people = rng.sample(context["customers"], k=min(len(context["customers"]), 2 if seats > 1 else 1))
    return {
        "serviceId": service["id"], "staffMemberIds": [rng.choice(context["staff"])["id"]],
        "startDateTime": {"dateTime": start.isoformat(), "timeZone": context["tz"]},
        "endDateTime": {"dateTime": (start + timedelta(minutes=minutes)).isoformat(), "timeZone": context["tz"]},
        "customerTimeZone": context["tz"], "maximumAttendeesCount": seats, "price": service["defaultPrice"],
        "priceType": service["defaultPriceType"], "isLocationOnline": rng.random() < 0.3,
        "serviceNotes": rng.choice(NOTES), "customerNotes": rng.choice(NOTES),
        "reminders": [{"offset": "P1D", "recipients": "allAttendees", "message": "See you tomorrow."}],
        "customers": [{"customerId": p["id"], "name": p["displayName"], "emailAddress": p["emailAddress"],
                       "phone": (p.get("phones") or [{}])[0].get("number"), "notes": rng.choice(NOTES), "timeZone": context["tz"],
                       "customQuestionAnswers": _answers(rng, context["questions"])} for p in people],
    }


def _answers(rng: random.Random, questions: list[dict]) -> list[dict]:
    """Answers to the custom questions: an age (free-text PII), a choice, an optional remark."""
    return [{"questionId": q["id"], "question": q["displayName"], "answerInputType": q["answerInputType"],
             "answerOptions": q["answerOptions"], "isRequired": i == 0, "answer": _answer(rng, q, i), "selectedOptions": []}
            for i, q in enumerate(questions)]


def _answer(rng: random.Random, question: dict, position: int) -> str:
    if question["answerOptions"]:
        return rng.choice(question["answerOptions"])
    return str(rng.randrange(16, 90)) if position == 0 else rng.choice(["", "Running late maybe."])


def _phone(rng: random.Random, code: str) -> str:
    return f"{code} {rng.randrange(200, 999)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
