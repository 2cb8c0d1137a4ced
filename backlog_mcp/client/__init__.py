"""The one async Backlog client: a transport core and one small module of endpoints per area.

Every HTTP call goes through `Transport._request` (`transport.py`): authentication, the cache,
retries, rate limits (`rates.py`), masking and shape checks (`wire.py`). `access.py` adds the
space's metadata and the project allow-list every area builds on; each area (issues, watchings,
notifications, wiki, documents, git, activity, attachments) is a thin list of endpoint methods
that names, for each write, the cached paths it makes stale.
"""

from __future__ import annotations

from backlog_mcp.client.access import Scoped, is_id, issue_paths, project_of
from backlog_mcp.client.activity import ActivityEndpoints
from backlog_mcp.client.attachments import AttachmentEndpoints
from backlog_mcp.client.documents import DocumentEndpoints
from backlog_mcp.client.git import GitEndpoints
from backlog_mcp.client.issues import IssueEndpoints
from backlog_mcp.client.milestones import MilestoneEndpoints
from backlog_mcp.client.notifications import NotificationEndpoints
from backlog_mcp.client.rates import rate_bucket
from backlog_mcp.client.tracking import collect_stale, collect_writes
from backlog_mcp.client.transport import Transport
from backlog_mcp.client.watchings import WatchingEndpoints
from backlog_mcp.client.wiki import WikiEndpoints
from backlog_mcp.client.wire import (
    Download,
    JSONObject,
    Page,
    Params,
    ParamValue,
    RetryPolicy,
    Secret,
    encode_params,
    fits,
    reset_time,
    segment,
)

__all__ = [
    "BacklogClient",
    "Download",
    "JSONObject",
    "Page",
    "ParamValue",
    "Params",
    "RetryPolicy",
    "Scoped",
    "Secret",
    "Transport",
    "collect_stale",
    "collect_writes",
    "encode_params",
    "fits",
    "is_id",
    "issue_paths",
    "project_of",
    "rate_bucket",
    "reset_time",
    "segment",
]


class BacklogClient(
    IssueEndpoints,
    MilestoneEndpoints,
    WatchingEndpoints,
    NotificationEndpoints,
    WikiEndpoints,
    DocumentEndpoints,
    GitEndpoints,
    ActivityEndpoints,
    AttachmentEndpoints,
):
    """Async access to one Backlog space with one API key: every area's endpoints over one transport."""
