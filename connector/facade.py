"""The connector as the rest of the service uses it: open once per process, call from any thread.

    with GraphConnector(base_url=..., credential=...) as graph:      # or connector_from_settings()
        for appointment in graph.bookings.calendar_view(business, start, end): ...
        graph.subscriptions.renew(sub_id, expiration)
        for message in graph.mail.messages_since(privacy_mailbox, since): ...
    GraphConnector(..., observe=lambda method, route, status: ...)  # every call, ids masked as {id}

Opening starts the loop thread, imports msgraph there and builds the one client; closing
closes the HTTP pool, the loop and the credential. Build it in `worker`, `scheduler` or `demo`,
never in the web process: webhooks need no Graph.
"""
from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from .bookings import Bookings
from .credentials import TokenCredential, credential_from_settings
from .limits import MailboxLimiter
from .mail import Mail
from .mailbox import Mailbox
from .retry import RetryPolicy
from .runner import LoopRunner
from .session import GraphSession
from .subscriptions import Subscriptions

if TYPE_CHECKING:
    from config.settings import Settings

    from .client import GraphClient
    from .http import CallObserver, GraphHttp


class GraphConnector:
    """One Graph client on its own event loop, with Bookings, Mailbox, Mail and Subscriptions APIs."""

    def __init__(
        self,
        *,
        base_url: str,
        credential: TokenCredential,
        policy: RetryPolicy | None = None,
        per_mailbox: int = 4,
        timeout: float = 60.0,
        observe: CallObserver | None = None,
    ) -> None:
        self.credential = credential
        self._observe = observe
        self.limiter = MailboxLimiter(per_mailbox)
        self._runner = LoopRunner()
        try:
            self._client, http = self._runner.call(self._open(base_url, policy or RetryPolicy(), timeout))
        except BaseException:
            self._runner.close()
            raise
        self.session = GraphSession(self._runner, http)
        self.bookings = Bookings(self.session)
        self.mailbox = Mailbox(self.session)
        self.mail = Mail(self.session)
        self.subscriptions = Subscriptions(self.session)

    async def _open(self, base_url: str, policy: RetryPolicy, timeout: float) -> tuple[GraphClient, GraphHttp]:
        # Imported here, on the loop thread, so `import connector` never loads msgraph.
        from .client import build_graph_client
        from .http import GraphHttp

        client = build_graph_client(base_url, self.credential, timeout=timeout)
        return client, GraphHttp(client, policy=policy, limiter=self.limiter, observe=self._observe)

    @property
    def closed(self) -> bool:
        return self._runner.closed

    def close(self) -> None:
        """Close the connection pool, stop the loop thread and close the credential; idempotent."""
        if self.closed:
            return
        try:
            self._runner.close(final=self._client.aclose())
        finally:
            self.credential.close()

    def __enter__(self) -> GraphConnector:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def connector_from_settings(settings: Settings, *, policy: RetryPolicy | None = None,
                            observe: CallObserver | None = None) -> GraphConnector:
    """A connector for GRAPH_BASE_URL with the credential GRAPH_CREDENTIAL selects; `observe` is
    told (method, route template, status) of every Graph call, for metrics."""
    return GraphConnector(base_url=settings.GRAPH_BASE_URL, credential=credential_from_settings(settings), policy=policy,
                          observe=observe)
