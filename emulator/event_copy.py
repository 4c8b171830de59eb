"""The parts of an appointment's calendar copy that can hold customer data: its body, and what
an event PATCH may change (privacy-facts §2.4, §2.5).

CONFLICT: in 2018 the copy's subject and body were stripped of customer data
(bookings-samples#7); 2020 reports show the custom-question answers in its body as "Custom
Fields … Question … Answer" (docs-contrib#4577 = microsoft-graph-docs#9860). With
``event_body_has_custom_answers`` (on) the body carries them; off, it is empty.
"""

from __future__ import annotations

import re
from html import escape

from .errors import bad_request

# The event properties a PATCH may change here (event-update lists more: start, end, recurrence
# and the like would move the copy away from its appointment, which the emulator does not model).
WRITABLE = frozenset({"subject", "body", "attendees", "location", "categories", "importance", "sensitivity", "showAs",
                      "isReminderOn", "reminderMinutesBeforeStart", "responseRequested", "allowNewTimeProposals",
                      "hideAttendees"})
_PREVIEW = 255  # Outlook's bodyPreview is the first 255 characters of the body's text
_TAGS = re.compile(r"<[^>]+>")


def event_body(appointment: dict, with_answers: bool) -> tuple[dict, str]:
    """The copy's body and bodyPreview: the customers' answers as "Question … Answer" lines, or empty."""
    lines = []
    for customer in appointment["customers"] if with_answers else ():
        for answer in customer.get("customQuestionAnswers") or ():
            given = answer.get("answer") or ", ".join(answer.get("selectedOptions") or ())
            lines += [f"Question: {answer.get('question') or ''}", f"Answer: {given or ''}"]
    if not lines:
        return {"contentType": "html", "content": ""}, ""
    lines.insert(0, "Custom Fields")
    # Quotes stay as they are, so a search for "O'Brien" finds the answer in the raw body.
    html = "<html><body>" + "".join(f"<p>{escape(line, quote=False)}</p>" for line in lines) + "</body></html>"
    return {"contentType": "html", "content": html}, " ".join(lines)[:_PREVIEW]


def checked_patch(body: dict) -> dict:
    """The fields of an event PATCH body; 400 for ones this emulator does not write or a bad body."""
    fields = {k: v for k, v in body.items() if "@odata." not in k}
    unsupported = sorted(set(fields) - WRITABLE)
    if unsupported:
        raise bad_request(f"The emulator does not change {', '.join(unsupported)} on a Bookings calendar copy.")
    if "body" in fields:
        content = fields["body"]
        if not isinstance(content, dict) or str(content.get("contentType", "")).lower() not in ("text", "html") \
                or not isinstance(content.get("content", ""), str):
            raise bad_request("The event body needs a contentType of text or html and a string content.")
        fields["body"] = {"contentType": content["contentType"].lower(), "content": content.get("content", "")}
    if "attendees" in fields and not isinstance(fields["attendees"], list):
        raise bad_request("attendees must be a collection of attendee.")
    return fields


def apply_patch(event: dict, fields: dict, when: str) -> dict:
    """The rendered copy with an event PATCH applied."""
    patched = {**event, **fields, "lastModifiedDateTime": when}
    if "body" in fields:
        patched["bodyPreview"] = " ".join(_TAGS.sub(" ", fields["body"]["content"]).split())[:_PREVIEW]
    if "attendees" in fields:
        patched["attendees"] = [{"type": a.get("type", "required"), "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                                 "emailAddress": a.get("emailAddress") or {}} for a in fields["attendees"] if isinstance(a, dict)]
    return patched
