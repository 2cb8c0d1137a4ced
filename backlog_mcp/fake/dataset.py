"""A deterministic, seeded Backlog space for the fake API: two projects (one per formatting rule),
Japanese and English text, custom fields of every type, attachments, parent/child issues and
long comment threads. Same seed and sizes, same data, byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

JSON = dict[str, Any]

# The dataset's "now": dates are laid out around it so overdue issues exist whatever today is.
REFERENCE_NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DEFAULT_API_KEY = "fake-key-hana-0123456789abcdefABCDEF"
OTHER_API_KEY = "fake-key-bob-9876543210fedcbaFEDCBA"

STATUS_COLORS = {1: "#ed8077", 2: "#4488c5", 3: "#5eb5a6", 4: "#b0be3c"}
PRIORITIES = [{"id": 2, "name": "High"}, {"id": 3, "name": "Normal"}, {"id": 4, "name": "Low"}]
RESOLUTIONS = [
    {"id": 0, "name": "Fixed"},
    {"id": 1, "name": "Won't Fix"},
    {"id": 2, "name": "Invalid"},
    {"id": 3, "name": "Duplicate"},
    {"id": 4, "name": "Cannot Reproduce"},
]


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT00:00:00Z")


USERS_SPEC = [
    (1073925001, "hana.sato", "Hana Sato", 2, "en"),
    (1073925002, "kenji", "伊藤 健二", 1, "ja"),
    (1073925003, "taro.sato", "佐藤 太郎", 2, "ja"),
    (1073925004, "yuki.tanaka", "Tanaka Yuki", 2, "ja"),
    (1073925005, "alice", "Alice Martin", 2, "en"),
    (1073925006, "misaki", "田中 美咲", 2, "ja"),
    (1073925007, "ichiro", "鈴木 一郎", 3, "ja"),
    (1073925008, "bob", "Bob Chen", 2, "en"),
]


def make_user(spec: tuple[int, str, str, int, str]) -> JSON:
    uid, login, name, role, lang = spec
    return {
        "id": uid,
        "userId": login,
        "name": name,
        "roleType": role,
        "lang": lang,
        "mailAddress": f"{login}@example.com",
        "nulabAccount": None,
        "keyword": f"{name} {name.upper()}",
        "lastLoginTime": ts(REFERENCE_NOW - timedelta(hours=uid % 50)),
    }


@dataclass
class Project:
    data: JSON
    statuses: list[JSON]
    issue_types: list[JSON]
    categories: list[JSON]
    versions: list[JSON]
    custom_fields: list[JSON]
    member_ids: list[int]
    next_key_id: int = 1


@dataclass
class Space:
    """All fake data, mutable so writes through the API stick for the life of the fake."""

    space: JSON
    users: dict[int, JSON]
    api_keys: dict[str, int]
    projects: dict[int, Project]
    issues: dict[int, JSON] = field(default_factory=dict)
    comments: dict[int, list[JSON]] = field(default_factory=dict)  # issue id -> comments by id
    notifications: dict[int, list[JSON]] = field(default_factory=dict)  # user id -> newest first
    watchings: dict[int, list[JSON]] = field(default_factory=dict)  # user id -> watchings
    wikis: dict[int, JSON] = field(default_factory=dict)  # wiki id -> Wiki (content included)
    repositories: dict[int, JSON] = field(default_factory=dict)  # repository id -> GitRepository
    pull_requests: dict[int, JSON] = field(default_factory=dict)  # pull request id -> PullRequest
    pr_comments: dict[int, list[JSON]] = field(default_factory=dict)  # pull request id -> comments
    documents: dict[str, JSON] = field(default_factory=dict)  # document id -> Document
    document_trees: dict[int, JSON] = field(default_factory=dict)  # project id -> DocumentTree
    activities: list[JSON] = field(default_factory=list)  # newest first
    uploads: dict[int, JSON] = field(default_factory=dict)  # POST /space/attachment, until an issue takes it
    # What "now" is for the fake's writes: the wall clock, or the demo's fixed today moving on from there.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    next_issue_id: int = 2_041_000
    next_comment_id: int = 5_500_000
    next_attachment_id: int = 66_119  # so ORBIT-1 gets 66120 and 66121, as its description says

    def project_by_key(self, key_or_id: str) -> Project | None:
        for project in self.projects.values():
            if key_or_id in (project.data["projectKey"], str(project.data["id"])):
                return project
        return None

    def issue_by_key(self, key_or_id: str) -> JSON | None:
        if key_or_id.isascii() and key_or_id.isdigit():
            return self.issues.get(int(key_or_id))
        for issue in self.issues.values():
            if issue["issueKey"] == key_or_id:
                return issue
        return None


def _project(pid: int, key: str, name: str, rule: str, members: list[int]) -> Project:
    data = {
        "id": pid,
        "projectKey": key,
        "name": name,
        "chartEnabled": True,
        "useResolvedForChart": False,
        "subtaskingEnabled": True,
        "grandchildIssueEnabled": False,
        "projectLeaderCanEditProjectLeader": False,
        "useWiki": True,
        "useDocument": True,
        "useFileSharing": True,
        "useWikiTreeView": True,
        "useOriginalImageSizeAtWiki": False,
        "useSubversion": False,
        "useGit": True,
        "textFormattingRule": rule,
        "archived": False,
        "displayOrder": 2147483646,
        "useDevAttributes": True,
    }
    statuses = [
        {"id": 1, "projectId": pid, "name": "Open", "color": STATUS_COLORS[1], "displayOrder": 1000},
        {"id": 2, "projectId": pid, "name": "In Progress", "color": STATUS_COLORS[2], "displayOrder": 2000},
        {"id": 3, "projectId": pid, "name": "Resolved", "color": STATUS_COLORS[3], "displayOrder": 3000},
    ]
    if key == "ORBIT":
        statuses.append(
            {"id": 214, "projectId": pid, "name": "Waiting for QA", "color": "#868cb7", "displayOrder": 3500}
        )
    statuses.append({"id": 4, "projectId": pid, "name": "Closed", "color": STATUS_COLORS[4], "displayOrder": 4000})
    base = pid * 100
    issue_types = [
        {
            "id": base + 1,
            "projectId": pid,
            "name": "Bug",
            "color": "#990000",
            "displayOrder": 0,
            "templateSummary": None,
            "templateDescription": None,
        },
        {
            "id": base + 2,
            "projectId": pid,
            "name": "Task",
            "color": "#7ea800",
            "displayOrder": 1,
            "templateSummary": None,
            "templateDescription": None,
        },
        {
            "id": base + 3,
            "projectId": pid,
            "name": "Request",
            "color": "#ff9200",
            "displayOrder": 2,
            "templateSummary": None,
            "templateDescription": None,
        },
        {
            "id": base + 4,
            "projectId": pid,
            "name": "その他",
            "color": "#2779ca",
            "displayOrder": 3,
            "templateSummary": None,
            "templateDescription": None,
        },
    ]
    cat_names = (
        ["Android", "iOS", "Backend", "デザイン"] if key == "ORBIT" else ["Frontend", "API", "Infra", "ドキュメント"]
    )
    categories = [
        {"id": base + 30 + i, "projectId": pid, "name": n, "displayOrder": i} for i, n in enumerate(cat_names)
    ]
    versions = []
    for i, vname in enumerate(["2.3.0", "2.4.0", "Sprint 14", "Sprint 15", "スプリント 16"]):
        start = REFERENCE_NOW + timedelta(days=14 * (i - 2))
        versions.append(
            {
                "id": base + 50 + i,
                "projectId": pid,
                "name": vname,
                "description": "",
                "startDate": day(start),
                "releaseDueDate": day(start + timedelta(days=13)),
                "archived": i == 0,
                "displayOrder": i,
            }
        )

    def field(order: int, type_id: int, name: str, items: Sequence[str] = (), **extra: Any) -> JSON:
        definition: JSON = {
            "id": base + 70 + order, "projectId": pid, "typeId": type_id, "name": name, "description": "",
            "required": False, "applicableIssueTypes": [], "displayOrder": order, **extra,
        }  # fmt: skip
        if type_id >= 5:
            definition["allowAddItem"] = False
            definition["items"] = [{"id": n + 1, "name": item, "displayOrder": n} for n, item in enumerate(items)]
        if type_id >= 7:
            definition["allowInput"] = True
        return definition

    custom_fields = [
        field(0, 1, "Device model"),
        field(1, 3, "Crash count", min=0, max=None, initialValue=None, unit="件"),
        field(2, 4, "First seen"),
        field(3, 5, "Severity", ["Critical", "Major", "Minor"], required=key == "ORBIT"),
        field(4, 6, "OS versions", ["Android 14", "Android 15", "iOS 18"]),
        field(5, 7, "影響範囲", ["地図", "Login"]),
        field(6, 8, "Reproducible", ["Always", "Sometimes"]),
        field(7, 2, "調査メモ"),
    ]
    return Project(data, statuses, issue_types, categories, versions, custom_fields, members)


ORBIT_RICH_DESCRIPTION = """\
* 概要 / Overview
地図画面を回転するとアプリがクラッシュする。''Expected'': no crash, '''the map keeps its zoom'''.
** Steps to reproduce
+ Open the map (地図を開く)
+ Rotate the device
++ 横向きにする
++ Back to portrait
- 影響: Android 14, 15
-- Pixel 8 / Galaxy S24
--- only with the compass overlay
- %%Workaround: lock rotation%% no longer works &color(red) { 重要 }
- [ ] add a regression test
- [x] collect logs
See [[Crash dashboard>https://crash.example.com/orbit]] and [[Design spec:https://docs.example.com/spec]],
related ORBIT-2, [[ORBIT-3]] and the wiki page [[Release checklist]].&br;Line after a break.
{code:java}
NullPointerException at MapView.onRotate(MapView.java:212)
  ''this is not bold'' and [[not a link]]
{/code}
|Device|Crashes|Note|h
|~Pixel 8|17|''most'' reports|
|~Galaxy S24|3|manual \\| gated|
#image(screenshot.png)
#thumbnail(66121)
#attach(stacktrace:66120)
{quote}
ユーザーからの報告: 「回転すると落ちる」
{/quote}
> 引用行 (quoted line)
"""

NOVA_RICH_DESCRIPTION = """\
## Overview
Checkout fails with **HTTP 502** when the cart has more than 50 items. 支払い画面でエラーになります。

### Steps
1. Add 51 items to the cart
2. Press *Checkout*
   - on mobile too
3. See the error

- [ ] add a load test
- [x] capture the gateway logs

| Env | Rate | Note |
|---|---|---|
| staging | 100% | always |
| prod | 12% | peak hours |

```python
def checkout(cart):
    return gateway.post(cart)  # **not bold**
```

Related: NOVA-2, see <https://status.example.com>.<br>Next line after an HTML break.
<details><summary>Raw log</summary>502 Bad Gateway</details>

> お客様からの問い合わせ: 「決済できない」
"""

ORBIT_TEXTS = [
    "ログを確認しました。''MapView.onRotate'' で null になっています。",
    "I can reproduce it on a Pixel 8 with Android 15.",
    "{code}\nadb logcat | grep MapView\n{/code}\nこれで再現ログが取れます。",
    "- 原因候補: 回転時の再生成\n- もう一つ: コンパスのリスナー解除漏れ",
    "Fix is in review: [[PR #42>https://git.example.com/orbit/pull/42]]",
    "QA で確認お願いします。&br;ステージングに反映済みです。",
    "%%Not a blocker%% Actually it ''is'' a blocker for 2.3.0.",
    "|端末|結果|h\n|Pixel 8|OK|\n|Galaxy|NG|",
    "Thanks, looks good on my side. 問題ありません。",
    "* Root cause\nThe fragment is recreated before the map is ready.",
]
NOVA_TEXTS = [
    "Checked the gateway logs: the request body exceeds **1 MB**.",
    "ステージングで再現しました。`cart_items > 50` のときだけです。",
    "```sql\nSELECT count(*) FROM cart_items WHERE cart_id = 42;\n```",
    "- cause: body size limit\n- fix: raise `client_max_body_size`",
    "PR is up: [#118](https://git.example.com/nova/pull/118)",
    "Deployed to staging. 確認お願いします。",
    "~~Not urgent~~ Marked as urgent by sales.",
    "| env | result |\n|---|---|\n| staging | OK |",
    "LGTM 👍 本番反映も問題なし。",
    "## Follow-up\nWe should add an alert for 5xx spikes.",
]

SUMMARIES_EN = [
    "Crash when rotating the map screen",
    "Login button unresponsive on slow networks",
    "Push notifications arrive twice",
    "Settings page layout broken in dark mode",
    "Export to CSV drops Japanese characters",
    "Search returns stale results",
    "Add pagination to the activity feed",
    "Upgrade the payment SDK",
    "Improve onboarding copy",
    "Memory leak in the image cache",
]
SUMMARIES_JA = [
    "地図画面でクラッシュする",
    "ログイン後に白い画面が表示される",
    "通知設定が保存されない",
    "検索結果の並び順が不正",
    "請求書PDFの文字化け",
    "オンボーディング画面の文言修正",
    "画像アップロードが遅い",
    "ダークモードの配色調整",
    "CSV出力に列を追加",
    "利用規約ページの更新",
]


class _Builder:
    def __init__(self, space: Space, rng: random.Random) -> None:
        self.space = space
        self.rng = rng

    def user(self, uid: int | None) -> JSON | None:
        return dict(self.space.users[uid]) if uid is not None else None

    def add_issue(
        self,
        project: Project,
        *,
        summary: str,
        description: str,
        type_index: int,
        status_id: int,
        priority_id: int,
        assignee: int | None,
        creator: int,
        created: datetime,
        updated: datetime,
        start: datetime | None = None,
        due: datetime | None = None,
        parent_id: int | None = None,
        categories: Sequence[int] = (),
        milestones: Sequence[int] = (),
        versions: Sequence[int] = (),
        custom: dict[int, Any] | None = None,
        attachments: Sequence[tuple[str, int]] = (),
        shared_files: Sequence[tuple[str, str, int]] = (),
        estimated: float | None = None,
        actual: float | None = None,
        resolution_id: int | None = None,
        stars: int = 0,
    ) -> JSON:
        sp = self.space
        sp.next_issue_id += 1
        key_id = project.next_key_id
        project.next_key_id += 1
        status = next(s for s in project.statuses if s["id"] == status_id)
        issue: JSON = {
            "id": sp.next_issue_id,
            "projectId": project.data["id"],
            "issueKey": f"{project.data['projectKey']}-{key_id}",
            "keyId": key_id,
            "issueType": {k: v for k, v in project.issue_types[type_index].items() if not k.startswith("template")},
            "summary": summary,
            "description": description,
            "resolution": next((dict(r) for r in RESOLUTIONS if r["id"] == resolution_id), None),
            "priority": dict(next(p for p in PRIORITIES if p["id"] == priority_id)),
            "status": dict(status),
            "assignee": self.user(assignee),
            "category": [dict(c) for c in project.categories if c["id"] in categories],
            "versions": [dict(v) for v in project.versions if v["id"] in versions],
            "milestone": [dict(v) for v in project.versions if v["id"] in milestones],
            "startDate": day(start) if start else None,
            "dueDate": day(due) if due else None,
            "estimatedHours": estimated,
            "actualHours": actual,
            "parentIssueId": parent_id,
            "createdUser": self.user(creator),
            "created": ts(created),
            "updatedUser": self.user(creator),
            "updated": ts(updated),
            "customFields": custom_values(project, custom or {}),
            "attachments": [],
            "sharedFiles": [],
            "stars": [
                {
                    "id": 9000 + i,
                    "comment": None,
                    "url": "",
                    "title": summary,
                    "presenter": self.user(USERS_SPEC[i % len(USERS_SPEC)][0]),
                    "created": ts(updated),
                }
                for i in range(stars)
            ],
        }
        for name, size in attachments:
            sp.next_attachment_id += 1
            issue["attachments"].append(
                {
                    "id": sp.next_attachment_id,
                    "name": name,
                    "size": size,
                    "createdUser": self.user(creator),
                    "created": ts(created),
                }
            )
        for i, (folder, name, size) in enumerate(shared_files):
            issue["sharedFiles"].append(
                {
                    "id": 90000 + sp.next_issue_id * 10 + i,
                    "projectId": project.data["id"],
                    "type": "file",
                    "dir": folder,
                    "name": name,
                    "size": size,
                    "createdUser": self.user(creator),
                    "created": ts(created - timedelta(days=3)),
                    "updatedUser": None,
                    "updated": None,
                }
            )
        sp.issues[issue["id"]] = issue
        sp.comments[issue["id"]] = []
        return issue

    def add_comment(
        self, issue: JSON, author: int, when: datetime, content: str, changes: list[JSON] | None = None
    ) -> JSON:
        sp = self.space
        sp.next_comment_id += 1
        comment = {
            "id": sp.next_comment_id,
            "projectId": issue["projectId"],
            "issueId": issue["id"],
            "content": content,
            "changeLog": changes or [],
            "createdUser": self.user(author),
            "created": ts(when),
            "updated": ts(when),
            "stars": [],
            "notifications": [],
        }
        sp.comments[issue["id"]].append(comment)
        return comment


def change(field_name: str, old: str | None, new: str | None, **extra: Any) -> JSON:
    return {
        "field": field_name,
        "newValue": new,
        "originalValue": old,
        "attachmentInfo": extra.get("attachment"),
        "attributeInfo": extra.get("attribute"),
        "notificationInfo": None,
    }


def custom_values(project: Project, values: dict[int, Any]) -> list[JSON]:
    """Issue-side custom field values in Backlog's per-type shapes (index of definition -> raw)."""
    out: list[JSON] = []
    for index, definition in enumerate(project.custom_fields):
        raw = values.get(index)
        entry: JSON = {
            "id": definition["id"],
            "fieldTypeId": definition["typeId"],
            "name": definition["name"],
        }
        items = {item["name"]: item for item in definition.get("items", [])}
        type_id = definition["typeId"]
        if type_id in (1, 2, 3):
            entry["value"] = raw
        elif type_id == 4:
            entry["value"] = f"{raw}T00:00:00Z" if raw else None
        elif type_id == 5:
            entry["value"] = dict(items[raw]) if raw else None
        elif type_id in (6, 7):
            names, other = raw if isinstance(raw, tuple) else (raw or [], None)
            entry["value"] = [dict(items[n]) for n in names]
            if type_id == 7:
                entry["otherValue"] = other
        elif type_id == 8:
            name, other = raw if isinstance(raw, tuple) else (raw, None)
            entry["value"] = dict(items[name]) if name else None
            entry["otherValue"] = other
        out.append(entry)
    return out


def build_base(
    seed: int = 7,
    issues_per_project: int = 220,
    long_thread_comments: int = 120,
    scale_project_issues: int = 0,
) -> Space:
    """Issues, comments, wikis, notifications and watchings (`sample.build_space` adds the rest).

    `scale_project_issues` > 0 adds project SCALE with that many issues.
    """
    rng = random.Random(seed)
    users = {spec[0]: make_user(spec) for spec in USERS_SPEC}
    all_ids = list(users)
    space = Space(
        space={
            "spaceKey": "acme",
            "name": "Acme 株式会社",
            "ownerId": all_ids[1],
            "lang": "ja",
            "timezone": "Asia/Tokyo",
            "reportSendTime": "08:00:00",
            "textFormattingRule": "markdown",
            "created": "2024-04-01T00:00:00Z",
            "updated": "2026-10-01T00:00:00Z",
        },
        users=users,
        api_keys={DEFAULT_API_KEY: all_ids[0], OTHER_API_KEY: all_ids[7]},
        projects={},
    )
    orbit = _project(104, "ORBIT", "Orbit Mobile App", "backlog", all_ids[:7])
    nova = _project(105, "NOVA", "Nova Web Platform", "markdown", all_ids)
    space.projects = {104: orbit, 105: nova}
    b = _Builder(space, rng)
    _rich_issue(b, orbit, ORBIT_RICH_DESCRIPTION, ORBIT_TEXTS, ja_summary="地図画面を回転するとクラッシュする")
    _rich_issue(b, nova, NOVA_RICH_DESCRIPTION, NOVA_TEXTS, ja_summary=None)
    for project, texts in ((orbit, ORBIT_TEXTS), (nova, NOVA_TEXTS)):
        long_issue = _bulk_issue(b, project, 0)
        long_issue["summary"] = "長いスレッド: release coordination"
        _thread(b, project, long_issue, texts, long_thread_comments)
        if project is orbit and len(b.space.comments[long_issue["id"]]) > 40:
            # One term in an old comment (not the summary or description), a wiki page, a document and a
            # pull request: what `search_backlog` finds in one call.
            said = b.space.comments[long_issue["id"]][40]
            said["content"] += "\n\nThe tile cache fills up after a rotation; clearing it avoids the crash."
        for n in range(1, issues_per_project - project.next_key_id + 1):
            _bulk_issue(b, project, n)
    if scale_project_issues:
        scale = _project(106, "SCALE", "Scale Test", "markdown", all_ids)
        space.projects[106] = scale
        for n in range(scale_project_issues):
            _bulk_issue(b, scale, n)
    _wikis(space, [orbit, nova])
    _notifications(space, all_ids[0])
    _watchings(space, all_ids[0])
    # Last, so the other projects' data does not depend on it: an archived project with open issues.
    old = _project(103, "OLD", "Old Intranet", "markdown", all_ids[:4])
    old.data["archived"] = True
    space.projects[103] = old
    for n in range(8):
        issue = _bulk_issue(b, old, n)
        if n % 2 == 0:  # open and Hana's: left out of "my issues" only because the project is archived
            issue["assignee"], issue["status"] = dict(users[all_ids[0]]), dict(old.statuses[0])
    return space


def _notifications(space: Space, user_id: int) -> None:
    """Hana's inbox: 24 notifications from events of the sample data, the 7 newest unread.

    Each is what Backlog would have sent for something that happened: a comment by someone else
    (reason 2; 4 when it only changed fields), an issue assigned to her by its creator (1), an issue
    added in her projects (3); from who did it, at the time they did it.
    """
    mine = {p.data["id"] for p in space.projects.values() if user_id in p.member_ids}
    issues = sorted((i for i in space.issues.values() if i["projectId"] in mine), key=_id)
    Event = tuple[str, int, JSON, JSON | None, JSON]  # when, reason, issue, comment, sender
    commented: list[Event] = [
        (c["created"], 4 if not c["content"] and c["changeLog"] else 2, issue, c, c["createdUser"])
        for issue in issues
        for c in space.comments.get(issue["id"], [])
        if c["createdUser"]["id"] != user_id
    ]
    assigned: list[Event] = [
        (i["created"], 1, i, None, i["createdUser"])
        for i in issues
        if (i["assignee"] or {}).get("id") == user_id and i["createdUser"]["id"] != user_id
    ]
    added: list[Event] = [
        (i["created"], 3, i, None, i["createdUser"])
        for i in issues
        if (i["assignee"] or {}).get("id") != user_id and i["createdUser"]["id"] != user_id
    ]
    newest = sorted(commented, key=_first, reverse=True)[:14]
    newest += sorted(assigned, key=_first, reverse=True)[:5] + sorted(added, key=_first, reverse=True)[:5]
    newest.sort(key=lambda event: (event[0], event[2]["id"]), reverse=True)
    inbox: list[JSON] = []
    for n, (when, reason, issue, comment, sender) in enumerate(newest):
        project = space.projects[issue["projectId"]]
        inbox.append(
            {
                "id": 900_024 - n,
                "alreadyRead": n >= 7,
                "reason": reason,
                "resourceAlreadyRead": n >= 5,
                "project": project.data,
                "issue": {k: v for k, v in issue.items() if k != "customFields"},
                "comment": comment,
                "pullRequest": None,
                "pullRequestComment": None,
                "sender": sender,
                "created": when,
            }
        )
    space.notifications[user_id] = inbox


def _first(event: tuple[Any, ...]) -> Any:
    return event[0]


WIKI_PAGES = (
    ("Home", ("guide",)),
    ("Deployment", ("ops", "release")),
    ("Deployment/Rollback", ("ops",)),
    ("Release/Checklist", ("release",)),
    ("Release/2.4.0 notes", ("release",)),
    ("Onboarding", ("guide",)),
    ("Onboarding/開発環境のセットアップ", ("guide",)),
)


def _file(aid: int, name: str, size: int, user: JSON, when: datetime) -> JSON:
    return {"id": aid, "name": name, "size": size, "createdUser": user, "created": ts(when)}


WIKI_FILES = {"Deployment": (("architecture.png", 24_576), ("runbook.pdf", 51_200))}


def _wiki_content(name: str, rule: str) -> str:
    notes = "- Offline maps keep a tile cache of 200 MB\n" if name == "Release/2.4.0 notes" else ""
    if rule == "backlog":
        return (
            f"* {name}\n{name} の手順です。\n** Steps\n{notes}- Build with ''make release''\n"
            "- Deploy: [[Deployment/Rollback]]\n"
            "{code:sh}\n./deploy.sh --env staging\n{/code}\n|Env|Owner|h\n|staging|kenji|"
        )
    return (
        f"# {name}\n{name} の手順です。\n## Steps\n{notes}- Build with **make release**\n"
        "- See [Rollback](Deployment/Rollback)\n\n"
        "```sh\n./deploy.sh --env staging\n```\n\n| Env | Owner |\n|---|---|\n| staging | kenji |"
    )


def _wikis(space: Space, projects: list[Project]) -> None:
    """Seven pages a project, nested by "/" in their names, with tags; page names match across projects."""
    next_id = 3_300_000
    for project in projects:
        tags = {
            name: {"id": 10 * project.data["id"] + n, "name": name}
            for n, name in enumerate(("guide", "ops", "release"))
        }
        for n, (name, tag_names) in enumerate(WIKI_PAGES):
            next_id += 1
            author = space.users[project.member_ids[n % len(project.member_ids)]]
            space.wikis[next_id] = {
                "id": next_id,
                "projectId": project.data["id"],
                "name": name,
                "content": _wiki_content(name, project.data["textFormattingRule"]),
                "tags": [tags[t] for t in tag_names],
                "attachments": [
                    {
                        "id": 68_000 + next_id % 1000 * 10 + a,
                        "name": file_name,
                        "size": size,
                        "createdUser": author,
                        "created": ts(REFERENCE_NOW - timedelta(days=150 - n)),
                    }
                    for a, (file_name, size) in enumerate(WIKI_FILES.get(name, ()))
                ],
                "sharedFiles": [],
                "stars": [],
                "createdUser": author,
                "created": ts(REFERENCE_NOW - timedelta(days=200 - n)),
                "updatedUser": author,
                "updated": ts(REFERENCE_NOW - timedelta(days=10 * n + 1)),
            }


def _watchings(space: Space, user_id: int) -> None:
    """Hana watches 12 issues; the 5 that changed since she last looked are unread."""
    pool = sorted((i for i in space.issues.values() if user_id in _members(space, i)), key=_id)
    watched = []
    for n in range(12):
        issue = pool[(n * 53 + 11) % len(pool)]
        watched.append(
            {
                "id": 7_700 + n,
                "resourceAlreadyRead": n % 12 >= 5,
                "note": "" if n % 3 else "follow up before the release",
                "type": "issue",
                "issue": {k: v for k, v in issue.items() if k != "customFields"},
                "lastContentUpdated": issue["updated"],
                "created": ts(REFERENCE_NOW - timedelta(days=30 + n)),
                "updated": issue["updated"],
            }
        )
    space.watchings[user_id] = watched


def _members(space: Space, issue: JSON) -> list[int]:
    return space.projects[issue["projectId"]].member_ids


def _id(item: JSON) -> int:
    return int(item["id"])


def _rich_issue(b: _Builder, project: Project, description: str, texts: list[str], ja_summary: str | None) -> None:
    """Issue 1 of a project: every field set, a parent of issues 2 and 3, and 30 comments."""
    ids = project.member_ids
    created = REFERENCE_NOW - timedelta(days=20, hours=3)
    v = project.versions
    c = project.categories
    issue = b.add_issue(
        project,
        summary=ja_summary or "Checkout fails with 502 for large carts",
        description=description,
        type_index=0,
        status_id=2,
        priority_id=2,
        assignee=ids[0],
        creator=ids[1],
        created=created,
        updated=REFERENCE_NOW - timedelta(hours=5),
        start=REFERENCE_NOW - timedelta(days=18),
        due=REFERENCE_NOW - timedelta(days=2),
        categories=[c[0]["id"], c[2]["id"]],
        milestones=[v[2]["id"]],
        versions=[v[1]["id"]],
        custom={
            0: "Pixel 8",
            1: 17,
            2: "2026-10-28",
            3: "Major",
            4: ["Android 14", "Android 15"],
            5: (["地図"], "Compass overlay"),
            6: ("Always", None),
            7: "回転直後に onRotate が2回呼ばれる。\nSecond call sees a null map.",
        },
        attachments=[("stacktrace.txt", 4821), ("screenshot.png", 182_044)],
        shared_files=[("/qa/", "rotation-test-plan.xlsx", 20480)],
        estimated=6,
        actual=2.5,
        stars=3,
    )
    for n, summary in enumerate(["回転時の状態保存を修正", "Add a rotation regression test"]):
        b.add_issue(
            project,
            summary=summary,
            description="",
            type_index=1,
            status_id=1 + n * 3,
            priority_id=3,
            assignee=ids[2 + n],
            creator=ids[1],
            created=created + timedelta(hours=2 + n),
            updated=created + timedelta(days=3 + n),
            parent_id=issue["id"],
        )
    _thread(b, project, issue, texts, 30, start=created + timedelta(hours=1), rich=True)


def _chain(final: Any, count: int, before: Callable[[Any, int], Any]) -> list[Any]:
    """`count + 1` values ending at `final`, each from the next by `before(value, index)`: a field's history."""
    values = [final]
    for i in range(count, 0, -1):
        values.insert(0, before(values[0], i))
    return values


def _thread(
    b: _Builder,
    project: Project,
    issue: JSON,
    texts: list[str],
    count: int,
    start: datetime | None = None,
    rich: bool = False,
) -> None:
    """`count` comments whose change rows form each field's history, ending at the issue's current values."""
    ids = project.member_ids
    names = [b.space.users[uid]["name"] for uid in ids]
    when = start or datetime.fromisoformat(issue["created"].replace("Z", "+00:00")) + timedelta(hours=1)
    kinds = [n % 6 if rich else n % 4 for n in range(count)]
    changes_of = {kind: kinds.count(kind) for kind in range(6)}
    statuses = [s["name"] for s in project.statuses]
    status = _chain(
        issue["status"]["name"], changes_of[1], lambda v, _i: statuses[(statuses.index(v) - 1) % len(statuses)]
    )
    people = _chain(
        issue["assignee"]["name"] if issue["assignee"] else None,
        changes_of[2],
        lambda v, i: next(n for k, n in enumerate(names * 2) if k >= i % len(names) and n != v),
    )
    due_day = date.fromisoformat((issue.get("dueDate") or "2026-11-20")[:10])
    dues = _chain(due_day, changes_of[3], lambda v, i: v - timedelta(days=1 + i % 3))
    crash = next((f for f in issue["customFields"] if f["name"] == "Crash count"), None)
    crashes = _chain(int((crash or {}).get("value") or 0), changes_of[3], lambda v, _i: max(0, v - 2))
    categories = ", ".join(c["name"] for c in issue["category"]) or None
    first_category = project.categories[0]["name"]
    category = _chain(categories, changes_of[4], lambda v, _i: first_category if v != first_category else categories)
    milestones = ", ".join(m["name"] for m in issue["milestone"]) or None
    milestone = _chain(milestones, changes_of[5], lambda v, _i: None if v else project.versions[2]["name"])
    other_priority = "Normal" if issue["priority"]["name"] != "Normal" else "High"
    now_priority = issue["priority"]["name"]
    priorities = _chain(
        now_priority, changes_of[5], lambda v, _i: other_priority if v == now_priority else now_priority
    )
    seen = dict.fromkeys(range(6), 0)
    for n in range(count):
        author = ids[n % len(ids)]
        when += timedelta(hours=5 + (n * 7) % 11)
        changes: list[JSON] = []
        content = texts[n % len(texts)]
        kind = kinds[n]
        seen[kind] += 1
        i = seen[kind]
        if kind == 1:
            changes.append(change("status", status[i - 1], status[i]))
        elif kind == 2:
            changes.append(change("assigner", people[i - 1], people[i]))
            content = "" if n % 4 == 2 else content
        elif kind == 3 and rich:
            changes.append(change("limitDate", dues[i - 1].isoformat(), dues[i].isoformat()))
            attribute = {"id": project.custom_fields[1]["id"], "typeId": 3}
            changes.append(change("Crash count", str(crashes[i - 1]), str(crashes[i]), attribute=attribute))
            content = ""
        elif kind == 4 and rich:
            changes.append(change("component", category[i - 1], category[i]))
            changes.append(
                change("attachment", None, f"log-{n}.txt", attachment={"id": 67000 + n, "name": f"log-{n}.txt"})
            )
        elif kind == 5 and rich:
            changes.append(change("milestone", milestone[i - 1], milestone[i]))
            changes.append(change("priority", priorities[i - 1], priorities[i]))
            changes.append(change("description", "old text", "new text"))
        b.add_comment(issue, author, when, content, changes)
    # The issue was last updated by its last comment (every update in Backlog leaves one): the two agree.
    last = b.space.comments[issue["id"]][-1]
    if last["created"] < issue["updated"]:
        last["created"] = last["updated"] = issue["updated"]
        last["createdUser"] = issue["updatedUser"]
    else:
        issue["updated"], issue["updatedUser"] = last["created"], last["createdUser"]


def _bulk_issue(b: _Builder, project: Project, n: int) -> JSON:
    rng = b.rng
    ids = project.member_ids
    ja = rng.random() < 0.5
    summary = rng.choice(SUMMARIES_JA if ja else SUMMARIES_EN)
    created = REFERENCE_NOW - timedelta(days=160) + timedelta(hours=n * 13 % 3500, minutes=rng.randrange(60))
    updated = min(created + timedelta(hours=rng.randrange(1, 1200)), REFERENCE_NOW - timedelta(minutes=n % 97))
    roll = rng.random()
    status_id = 1 if roll < 0.3 else 2 if roll < 0.55 else 3 if roll < 0.7 else 4
    if project.data["projectKey"] == "ORBIT" and 0.68 < roll < 0.72:
        status_id = 214
    assignee = None if rng.random() < 0.1 else (ids[0] if rng.random() < 0.2 else rng.choice(ids))
    due = created + timedelta(days=rng.randrange(5, 90)) if rng.random() < 0.7 else None
    rule = project.data["textFormattingRule"]
    description = (
        f"* 背景\n{summary}。\n- step one\n- step two\n''確認'' お願いします。"
        if rule == "backlog"
        else f"## 背景\n{summary}.\n- step one\n- step two\n\n**確認** お願いします。"
    )
    return b.add_issue(
        project,
        summary=f"{summary} #{n}",
        description=description if rng.random() < 0.8 else "",
        type_index=rng.randrange(4),
        status_id=status_id,
        priority_id=rng.choice([2, 3, 3, 3, 4]),
        assignee=assignee,
        creator=rng.choice(ids),
        created=created,
        updated=updated,
        start=created + timedelta(days=1) if due and rng.random() < 0.5 else None,
        due=due,
        categories=[project.categories[rng.randrange(4)]["id"]] if rng.random() < 0.5 else [],
        milestones=[project.versions[rng.randrange(1, 5)]["id"]] if rng.random() < 0.4 else [],
        custom={3: rng.choice(["Critical", "Major", "Minor"])} if rng.random() < 0.3 else None,
        resolution_id=0 if status_id == 4 else None,
    )
