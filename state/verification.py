"""Identity challenges: a one-time code and link mailed to a requester's address, hashed at rest.

    challenge_id = want_challenge(session, request_id, now)            # the portal, on a submission
    issued = issue_challenge(session, challenge_id, now, minutes)      # the request mailer, once it mails it
    result = check_code(session, challenge_id, "123456", now, attempts)   # the portal's code form
    result = check_link(session, issued.link_token, now)               # the portal's emailed link

    verification_challenges   challenge_id (random, in the code form's URL), request_id, state,
                              code_hash, link_hash (SHA-256, hex), failed_attempts, created_at,
                              issued_at, expires_at, used_at

States: `wanted` (waiting for the mailer), `issued` (a code and a link are out), then `used` (one
of them verified the address) or `spent` (VERIFICATION_ATTEMPTS wrong codes). Only the hashes are
stored, so a copy of the database cannot verify anyone; a code's hash is salted with its
challenge's id, so no table of the million six-digit codes fits every row. One challenge verifies
once: the code and the link are the same proof, and using either spends both. A re-issue
replaces both and restarts the clock but not the count of wrong codes.

`CheckResult.ok` is all a page may act on; `reason` (wrong, expired, spent, used, unknown) is for
tests and the service's own metrics, never for the visitor, who is told the same for every
failure so a guesser learns nothing from the answer.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Integer, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import REF, TIME, Base
from database.times import format_time
from state.token_hashes import token_hash

CODE_DIGITS = 6            # typed by a person; VERIFICATION_ATTEMPTS and the portal's rate limit bound guessing
LINK_TOKEN_BYTES = 32      # 256 bits: a link is never guessed, so a wrong one costs no attempt
STATES = ("wanted", "issued", "used", "spent")


class ChallengeError(ValueError):
    """A challenge that cannot be issued (unknown, used or spent); the message names its id only."""


class VerificationChallenge(Base):
    """One emailed proof that a requester holds the address a request gave."""

    __tablename__ = "verification_challenges"
    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(REF, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[str] = mapped_column(TIME)
    issued_at: Mapped[str | None] = mapped_column(TIME)
    expires_at: Mapped[str | None] = mapped_column(TIME)
    used_at: Mapped[str | None] = mapped_column(TIME)


@dataclass(frozen=True)
class IssuedChallenge:
    """The plaintext code and link token, returned once, for the verification mail alone."""

    code: str
    link_token: str


@dataclass(frozen=True)
class CheckResult:
    """Whether a code or link verified its challenge's request; `reason` is for us, never the visitor."""

    ok: bool
    reason: str                  # verified | wrong | expired | spent | used | unknown
    request_id: str | None = None


def want_challenge(session: Session, request_id: str, now: datetime) -> str:
    """Ask for a challenge for the request (the mailer issues and sends it); its id."""
    challenge_id = f"chl_{secrets.token_urlsafe(16)}"
    session.add(VerificationChallenge(challenge_id=challenge_id, request_id=request_id, state="wanted",
                                      failed_attempts=0, created_at=format_time(now)))
    session.flush()
    return challenge_id


def wanted_challenges(session: Session) -> list[tuple[str, str]]:
    """(challenge id, request id) of every challenge waiting to be mailed, oldest first."""
    rows = session.execute(select(VerificationChallenge.challenge_id, VerificationChallenge.request_id)
                           .where(VerificationChallenge.state == "wanted")
                           .order_by(VerificationChallenge.created_at, VerificationChallenge.challenge_id))
    return [(row.challenge_id, row.request_id) for row in rows]


def issue_challenge(session: Session, challenge_id: str, now: datetime, minutes: int) -> IssuedChallenge:
    """A fresh code and link for the challenge, valid `minutes` (VERIFICATION_CODE_MINUTES); only their
    hashes are kept. A challenge still out may be issued again (the mailer's retry): the old ones die."""
    challenge = _locked(session, challenge_id)
    if challenge is None or challenge.state not in ("wanted", "issued"):
        raise ChallengeError(f"challenge {challenge_id} cannot be issued")
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    link_token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    challenge.state, challenge.code_hash, challenge.link_hash = "issued", code_hash(challenge_id, code), token_hash(link_token)
    challenge.issued_at, challenge.expires_at = format_time(now), format_time(now + timedelta(minutes=minutes))
    session.flush()
    return IssuedChallenge(code, link_token)


def check_code(session: Session, challenge_id: str, code: str, now: datetime, attempts: int) -> CheckResult:
    """Whether `code` verifies the challenge: right, in time, not used, not spent. A wrong code counts
    against `attempts` (VERIFICATION_ATTEMPTS); the last one allowed spends the challenge."""
    challenge = _locked(session, challenge_id)
    refusal = _refusal(challenge, now)
    if challenge is None or refusal is not None:
        return CheckResult(False, refusal or "unknown")
    if not hmac.compare_digest(code_hash(challenge_id, code.strip()), challenge.code_hash or ""):
        return _count_wrong(session, challenge_id, attempts)
    return _use(session, challenge, now)


def check_link(session: Session, token: str, now: datetime) -> CheckResult:
    """Whether the emailed link's `token` verifies its challenge: in time, not used, not spent."""
    digest = token_hash(token)
    challenge = session.scalars(select(VerificationChallenge).where(VerificationChallenge.link_hash == digest)
                                .with_for_update()).one_or_none()
    refusal = _refusal(challenge, now)
    if challenge is None or refusal is not None or not hmac.compare_digest(digest, challenge.link_hash or ""):
        return CheckResult(False, refusal or "unknown")
    return _use(session, challenge, now)


def purge_finished_challenges(engine: Engine, now: datetime) -> int:
    """Delete every challenge that can never verify again (used, spent, expired); how many went. The
    ledger's `request-verified` entry is the lasting record of a verification."""
    row = VerificationChallenge
    with engine.begin() as connection:
        return connection.execute(delete(row).where(or_(row.state.in_(("used", "spent")),
                                                        row.expires_at <= format_time(now)))).rowcount


def code_hash(challenge_id: str, code: str) -> str:
    """What is stored for a code: salted with its challenge, so one table of codes fits no two rows."""
    return hashlib.sha256(f"{challenge_id}:{code}".encode()).hexdigest()


def _locked(session: Session, challenge_id: str) -> VerificationChallenge | None:
    return session.scalars(select(VerificationChallenge).where(VerificationChallenge.challenge_id == challenge_id)
                           .with_for_update().execution_options(populate_existing=True)).one_or_none()


def _refusal(challenge: VerificationChallenge | None, now: datetime) -> str | None:
    if challenge is None or challenge.state == "wanted":
        return "unknown"          # nothing was sent yet: no code can be right
    if challenge.state != "issued":
        return challenge.state    # used | spent
    if format_time(now) >= (challenge.expires_at or ""):
        return "expired"
    return None


def _count_wrong(session: Session, challenge_id: str, attempts: int) -> CheckResult:
    # Counted in the database, not in Python, so racing wrong guesses cannot overwrite each other's count.
    row = VerificationChallenge
    session.execute(update(row).where(row.challenge_id == challenge_id, row.state == "issued")
                    .values(failed_attempts=row.failed_attempts + 1).execution_options(synchronize_session=False))
    session.execute(update(row).where(row.challenge_id == challenge_id, row.state == "issued",
                                      row.failed_attempts >= attempts)
                    .values(state="spent").execution_options(synchronize_session=False))
    state = session.scalar(select(row.state).where(row.challenge_id == challenge_id))
    return CheckResult(False, "spent" if state == "spent" else "wrong")


def _use(session: Session, challenge: VerificationChallenge, now: datetime) -> CheckResult:
    # Conditional on the state still being `issued`: on SQLite, where FOR UPDATE locks nothing, two
    # racing right answers both read `issued`, and only the first UPDATE matches the row.
    used = session.execute(update(VerificationChallenge).where(
        VerificationChallenge.challenge_id == challenge.challenge_id, VerificationChallenge.state == "issued")
        .values(state="used", used_at=format_time(now)).execution_options(synchronize_session=False))
    if used.rowcount != 1:
        return CheckResult(False, "used")
    return CheckResult(True, "verified", challenge.request_id)
