"""The checkpoints and their keys, and when the ledger was last verified in full."""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .context import Findings
from .report import Line, fail, ok, skipped, warn

if TYPE_CHECKING:
    from config.settings import Settings

VERIFY_EVERY = timedelta(days=7)
VERIFY = "bookings-ledger verify"


def check(findings: Findings) -> Iterator[Line]:
    settings = findings.settings
    if settings is None:
        yield skipped("checkpoints", "settings")
        return
    yield _directory_line(settings)
    verifier_key, line = _verifier_key(settings)
    yield line
    if findings.engine is None:
        yield skipped("latest checkpoint", findings.database_problem)
        yield skipped("last verify", findings.database_problem)
        return
    yield _latest_checkpoint_line(findings, settings, verifier_key)
    yield _last_verify_line(findings)


def _directory_line(settings: Settings) -> Line:
    directory = settings.CHECKPOINT_DIR
    check = "checkpoint directory"
    if not directory.exists():
        return warn(check, f"{directory} does not exist yet (the first checkpoint creates it)",
                    f"mkdir -m 700 -p {directory}, on storage the database's admin cannot rewrite")
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        return fail(check, f"{directory} is not a writable directory", f"make {directory} a directory this user can write")
    return ok(check, f"{directory} exists and is writable")


def _verifier_key(settings: Settings) -> tuple[str | None, Line]:
    from config import SettingsError
    from ledger.checkpoint_store import CheckpointSigner, verifier_key_from_settings

    check = "checkpoint verifier key"
    try:
        verifier_key = verifier_key_from_settings(settings)
    except SettingsError as exc:
        return None, fail(check, str(exc), "set CHECKPOINT_VERIFIER_KEY to what `bookings-ledger keys generate` printed")
    try:
        signing_key = settings.secret("CHECKPOINT_SIGNING_KEY")
    except SettingsError:
        return verifier_key, warn(check, "set; not compared: CHECKPOINT_SIGNING_KEY could not be read",
                                  "see the key vault lines above")
    if signing_key is None:
        return verifier_key, ok(check, "set (this process does not sign checkpoints)")
    expected = CheckpointSigner.from_settings(settings).verifier_key
    if not hmac.compare_digest(expected.encode(), verifier_key.encode()):
        return None, fail(check, "CHECKPOINT_VERIFIER_KEY does not match CHECKPOINT_SIGNING_KEY (and CHECKPOINT_ORIGIN)",
                          f"set CHECKPOINT_VERIFIER_KEY={expected} (the public key of this signing key)")
    return verifier_key, ok(check, "set, and matches CHECKPOINT_SIGNING_KEY")


def _latest_checkpoint_line(findings: Findings, settings: Settings, verifier_key: str | None) -> Line:
    from database.engine import read_only
    from ledger.checkpoint_store import CheckpointMismatch, check_note, stored_checkpoints

    check = "latest checkpoint"
    with read_only(findings.engine) as connection:
        checkpoints = stored_checkpoints(connection)
    if not checkpoints:
        return warn(check, "none yet", "the scheduler signs one every hour; `bookings-ledger checkpoint export FILE` signs one now")
    latest = checkpoints[-1]
    if verifier_key is None:
        return skipped(check, "a valid CHECKPOINT_VERIFIER_KEY")
    try:
        check_note(latest.note, verifier_key, origin=settings.CHECKPOINT_ORIGIN)
    except CheckpointMismatch as exc:
        return fail(check, f"checkpoint {latest.id} (size {latest.size}) does not verify: {exc}",
                    f"run `{VERIFY}`; if the key was changed, restore the key the checkpoints were signed with")
    return ok(check, f"checkpoint {latest.id} of {latest.size} entries verifies with CHECKPOINT_VERIFIER_KEY")


def _last_verify_line(findings: Findings) -> Line:
    from sqlalchemy import select

    from database.engine import read_only
    from database.times import parse_time
    from ledger.models import VerifyState

    check = "last verify"
    with read_only(findings.engine) as connection:
        stamp = connection.execute(select(VerifyState.verified_at).where(VerifyState.id == 1)).scalar()
    if stamp is None:
        return warn(check, "the ledger was never verified", f"run `{VERIFY}` (and weekly, e.g. from cron)")
    age = datetime.now(timezone.utc) - parse_time(stamp)
    if age > VERIFY_EVERY:
        return warn(check, f"last verified {age.days} days ago ({stamp})", f"run `{VERIFY}` (weekly at least)")
    return ok(check, f"verified {stamp}")
