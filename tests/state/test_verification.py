"""Identity challenges and portal links: hashed at rest, single use, short-lived, a few attempts.

Each test works on a migrated database of both backends, in transactions of its own, as the
portal and the mailer do.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from state.portal_links import PortalLink, create_link, redeem_link
from state.verification import (ChallengeError, VerificationChallenge, check_code, check_link, issue_challenge,
                                want_challenge, wanted_challenges)

MINUTES, ATTEMPTS = 15, 3


def _in_session(db, work):
    with Session(db) as session, session.begin():
        return work(session)


def _issued(db, clock, request_id="req_1"):
    challenge = _in_session(db, lambda s: want_challenge(s, request_id, clock()))
    return challenge, _in_session(db, lambda s: issue_challenge(s, challenge, clock(), MINUTES))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_a_wanted_challenge_is_listed_for_the_mailer_until_it_is_issued(db, clock):
    challenge = _in_session(db, lambda s: want_challenge(s, "req_1", clock()))
    assert _in_session(db, wanted_challenges) == [(challenge, "req_1")]
    issued = _in_session(db, lambda s: issue_challenge(s, challenge, clock(), MINUTES))
    assert len(issued.code) == 6 and issued.code.isdigit() and len(issued.link_token) >= 43
    assert _in_session(db, wanted_challenges) == []


def test_only_hashes_are_stored_never_the_code_or_the_link(db, clock):
    challenge, issued = _issued(db, clock)
    with db.connect() as connection:
        dump = " ".join(str(value) for row in connection.execute(text("SELECT * FROM verification_challenges"))
                        for value in row)
    assert issued.code not in dump and issued.link_token not in dump
    assert hashlib.sha256(issued.link_token.encode()).hexdigest() in dump
    assert hashlib.sha256(f"{challenge}:{issued.code}".encode()).hexdigest() in dump


def test_the_right_code_verifies_once_and_spends_the_link_too(db, clock):
    challenge, issued = _issued(db, clock)
    first = _in_session(db, lambda s: check_code(s, challenge, issued.code, clock(), ATTEMPTS))
    assert (first.ok, first.reason, first.request_id) == (True, "verified", "req_1")
    again = _in_session(db, lambda s: check_code(s, challenge, issued.code, clock(), ATTEMPTS))
    link = _in_session(db, lambda s: check_link(s, issued.link_token, clock()))
    assert (again.ok, again.reason) == (False, "used") and (link.ok, link.reason) == (False, "used")


def test_the_link_verifies_once_and_a_replay_is_refused(db, clock):
    challenge, issued = _issued(db, clock)
    assert _in_session(db, lambda s: check_link(s, issued.link_token, clock())).ok
    replay = _in_session(db, lambda s: check_link(s, issued.link_token, clock()))
    code = _in_session(db, lambda s: check_code(s, challenge, issued.code, clock(), ATTEMPTS))
    assert (replay.ok, replay.reason) == (False, "used") and (code.ok, code.reason) == (False, "used")


@pytest.mark.parametrize("check", ["code", "link"])
def test_a_code_or_link_expires_after_the_minutes_it_was_issued_for(db, clock, check):
    challenge, issued = _issued(db, clock)
    clock.advance(minutes=MINUTES)
    result = _in_session(db, lambda s: check_code(s, challenge, issued.code, clock(), ATTEMPTS) if check == "code"
                         else check_link(s, issued.link_token, clock()))
    assert (result.ok, result.reason) == (False, "expired")


def test_a_code_a_second_before_expiry_still_verifies(db, clock):
    challenge, issued = _issued(db, clock)
    clock.advance(minutes=MINUTES, seconds=-1)
    assert _in_session(db, lambda s: check_code(s, challenge, issued.code, clock(), ATTEMPTS)).ok


def test_wrong_codes_exhaust_the_attempts_and_then_the_right_one_is_refused(db, clock):
    challenge, issued = _issued(db, clock)
    reasons = [_in_session(db, lambda s: check_code(s, challenge, _wrong(issued.code), clock(), ATTEMPTS)).reason
               for _ in range(ATTEMPTS)]
    assert reasons == ["wrong", "wrong", "spent"]
    right = _in_session(db, lambda s: check_code(s, challenge, issued.code, clock(), ATTEMPTS))
    link = _in_session(db, lambda s: check_link(s, issued.link_token, clock()))
    assert (right.ok, right.reason) == (False, "spent") and (link.ok, link.reason) == (False, "spent")


def test_a_reissue_kills_the_old_code_and_link_but_keeps_the_count_of_wrong_codes(db, clock):
    challenge, old = _issued(db, clock)
    _in_session(db, lambda s: check_code(s, challenge, _wrong(old.code), clock(), ATTEMPTS))
    new = _in_session(db, lambda s: issue_challenge(s, challenge, clock(), MINUTES))
    assert not _in_session(db, lambda s: check_link(s, old.link_token, clock())).ok
    if old.code != new.code:
        assert _in_session(db, lambda s: check_code(s, challenge, old.code, clock(), ATTEMPTS)).reason == "wrong"
        assert _in_session(db, lambda s: s.get(VerificationChallenge, challenge).failed_attempts) == 2
    assert _in_session(db, lambda s: check_code(s, challenge, new.code, clock(), ATTEMPTS)).ok


def test_a_used_challenge_cannot_be_issued_again(db, clock):
    challenge, issued = _issued(db, clock)
    _in_session(db, lambda s: check_link(s, issued.link_token, clock()))
    with pytest.raises(ChallengeError, match=challenge):
        _in_session(db, lambda s: issue_challenge(s, challenge, clock(), MINUTES))


def test_a_challenge_not_yet_mailed_and_an_unknown_one_verify_nothing(db, clock):
    wanted = _in_session(db, lambda s: want_challenge(s, "req_1", clock()))
    for challenge in (wanted, "chl_unknown"):
        result = _in_session(db, lambda s: check_code(s, challenge, "000000", clock(), ATTEMPTS))
        assert (result.ok, result.reason) == (False, "unknown")
    assert _in_session(db, lambda s: check_link(s, "not-a-token", clock())).reason == "unknown"


def test_a_portal_link_opens_once_for_its_purpose_and_is_stored_hashed(db, clock):
    token = _in_session(db, lambda s: create_link(s, "req_1", "status", clock(), 72))
    assert _in_session(db, lambda s: redeem_link(s, token, "export", clock())) is None      # another purpose
    assert _in_session(db, lambda s: redeem_link(s, token, "status", clock())) == "req_1"
    assert _in_session(db, lambda s: redeem_link(s, token, "status", clock())) is None      # replayed
    stored = _in_session(db, lambda s: s.scalars(select(PortalLink.token_hash)).all())
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_a_portal_link_expires_after_its_hours(db, clock):
    token = _in_session(db, lambda s: create_link(s, "req_1", "export", clock(), 72))
    clock.advance(hours=72)
    assert _in_session(db, lambda s: redeem_link(s, token, "export", clock())) is None
    clock.now -= timedelta(seconds=1)
    assert _in_session(db, lambda s: redeem_link(s, token, "export", clock())) == "req_1"


def test_an_unknown_link_purpose_is_refused(db, clock):
    with pytest.raises(ValueError, match="purpose"):
        _in_session(db, lambda s: create_link(s, "req_1", "download", clock(), 72))
