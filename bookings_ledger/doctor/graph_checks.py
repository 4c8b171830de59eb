"""Graph: a token from the service's credential, each permission the service needs (by calling
Graph, connector/probes.py), and the booking businesses the app can see against BOOKING_BUSINESSES."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .context import Findings
from .report import Line, fail, ok, skipped, warn

if TYPE_CHECKING:
    from config.settings import Settings
    from connector import GraphConnector
    from connector.probes import PermissionProbe, ProbeOutcome

GRANT = ("grant the application permission {permission} and give admin consent, or assign the Exchange RBAC "
         "for Applications role \"Application {permission}\" scoped to these mailboxes (docs/setup-tenant.md)")
OUTSIDE_SCOPE = ("Graph said \"Access to OData is disabled\": the mailbox is outside the app's Exchange RBAC for "
                 "Applications scope (or an application access policy), or REST access is blocked for the whole "
                 "organisation; add it to the management scope (Test-ServicePrincipalAuthorization shows InScope) "
                 "or lift the block (docs/setup-tenant.md)")


def check(findings: Findings) -> Iterator[Line]:
    from config import SettingsError
    from connector.credentials import resolve_kind
    from connector.probes import TokenProblem, fetch_token, probing_connector

    settings = findings.settings
    if settings is None:
        yield skipped("Graph", "settings")
        return
    kind = resolve_kind(settings)
    try:
        graph = probing_connector(settings)
    except (SettingsError, TokenProblem) as exc:
        yield fail("credentials", str(exc), "set the Graph credential settings (README, docs/setup-tenant.md)")
        yield skipped("Graph permissions", "credentials")
        return
    with graph:
        try:
            token = fetch_token(graph, kind)
        except TokenProblem as exc:
            yield fail("credentials", str(exc), "check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the secret or "
                                                "certificate registered on the app (docs/setup-tenant.md)")
            yield skipped("Graph permissions", "credentials")
            return
        roles = "not a readable JWT" if token.roles is None else (", ".join(token.roles) or "none")
        yield ok("credentials", f"got a token ({kind} credential); roles in it: {roles} "
                                "(Exchange RBAC grants never appear there, so each permission is probed below)")
        yield from _permissions_and_businesses(graph, settings)


def _permissions_and_businesses(graph: GraphConnector, settings: Settings) -> Iterator[Line]:
    from connector import AuthenticationFailed, GraphError, Unavailable
    from connector.probes import PERMISSION_PROBES

    try:
        visible = [business.id for business in graph.bookings.businesses()]
    except (AuthenticationFailed, Unavailable) as exc:  # nothing else can be probed: one line, not eight
        yield fail("Graph answers", f"{settings.GRAPH_BASE_URL}: {exc}",
                   "check GRAPH_BASE_URL, the network path to Graph (proxy, firewall) and the app's credential")
        yield skipped("Graph permissions", "Graph answering")
        return
    except GraphError:
        visible = None  # the Bookings.Read.All probe below says why
    configured = settings.booking_businesses
    mailboxes = configured or visible or []
    targets = {"tenant": ["tenant"], "business": mailboxes,
               "privacy": [settings.PRIVACY_MAILBOX] if settings.PRIVACY_MAILBOX else []}
    for probe in PERMISSION_PROBES:
        yield _permission_line(graph, probe, targets[probe.target])
    yield _businesses_line(configured, visible)


def _permission_line(graph: GraphConnector, probe: PermissionProbe, where: list[str]) -> Line:
    from connector.probes import run_probe

    name = f"permission {probe.permission}"
    if not where and probe.target == "privacy":
        return warn(name, "not probed: PRIVACY_MAILBOX is not set",
                    "set PRIVACY_MAILBOX to the mailbox the privacy notice names (requests arrive and answers leave there)")
    if not where:
        return skipped(name, "a booking business")
    outcomes = [run_probe(graph, probe, target) for target in where]
    return _verdict(name, probe, outcomes)


def _verdict(name: str, probe: PermissionProbe, outcomes: list[ProbeOutcome]) -> Line:
    def on(verdict: str) -> list[ProbeOutcome]:
        return [outcome for outcome in outcomes if outcome.verdict == verdict]

    def places(found: list[ProbeOutcome]) -> str:
        return ", ".join(f"{o.where} ({o.detail})" if o.detail else o.where for o in found)

    if missing := on("missing"):
        return fail(name, f"MISSING on {places(missing)}: the service needs it to {probe.why}",
                    GRANT.format(permission=probe.permission))
    if outside := on("outside_scope"):
        return fail(name, f"mailbox not reachable: {places(outside)}", OUTSIDE_SCOPE)
    if failed := on("failed"):
        return fail(name, f"could not be probed ({probe.route}) on {places(failed)}",
                    "check that Graph (GRAPH_BASE_URL) is reachable from here and accepts the token, then run it again")
    where = "the tenant" if outcomes[0].where == "tenant" else ", ".join(o.where for o in outcomes)
    return ok(name, f"granted on {where} ({probe.route})")


def _businesses_line(configured: list[str], visible: list[str] | None) -> Line:
    check = "booking businesses"
    if visible is None:
        return skipped(check, "Bookings.Read.All (see above)")
    seen = {business.lower() for business in visible}
    shown = ", ".join(visible) or "none"
    if not configured:
        return fail(check, f"BOOKING_BUSINESSES is empty; the app sees: {shown}",
                    "set BOOKING_BUSINESSES to the businesses to keep records of (their ids are their "
                    "scheduling mailboxes' SMTP addresses)")
    hidden = [business for business in configured if business.lower() not in seen]
    if hidden:
        return fail(check, f"configured but not visible to the app: {', '.join(hidden)} (it sees: {shown})",
                    "check each address in BOOKING_BUSINESSES (a business id is its scheduling mailbox's SMTP "
                    "address) and that the app holds Bookings.Read.All")
    return ok(check, f"{len(configured)} configured, all visible; mailboxes: {', '.join(configured)}")
