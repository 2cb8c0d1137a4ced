"""The fake Backlog is faithful to backlog-api.md where the server relies on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, build_space

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(fake: FakeBacklog) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake)
    async with httpx.AsyncClient(transport=transport, base_url="https://acme.backlog.com/api/v2") as client:
        yield client


def key(**params: Any) -> dict[str, Any]:
    return {"apiKey": DEFAULT_API_KEY, **params}


async def test_auth_errors_use_the_envelope(http: httpx.AsyncClient) -> None:
    for params in ({}, {"apiKey": "wrong"}):
        response = await http.get("/space", params=params)
        assert response.status_code == 401
        assert response.json() == {"errors": [{"message": "Authentication failure.", "code": 11, "moreInfo": ""}]}
    bearer = await http.get("/space", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
    assert bearer.status_code == 200


async def test_not_found_and_bad_request_codes(http: httpx.AsyncClient) -> None:
    missing = await http.get("/issues/ORBIT-99999", params=key())
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (404, 6)
    for params in (
        {"count": 0},
        {"count": 101},
        {"hasDueDate": "true"},
        {"sort": "nope"},
        {"createdSince": "2026/1/1"},
    ):
        bad = await http.get("/issues", params=key(**params))
        assert (bad.status_code, bad.json()["errors"][0]["code"]) == (400, 7), params


async def test_rate_limit_headers_and_429() -> None:
    fake = FakeBacklog(build_space(issues_per_project=10, long_thread_comments=1), limits={"search": 3})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="https://x/api/v2") as http:
        remaining = []
        for _ in range(3):
            response = await http.get("/issues", params=key())
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert int(response.headers["X-RateLimit-Reset"]) > 0
        assert remaining == [2, 1, 0]
        limited = await http.get("/issues", params=key())
        assert limited.status_code == 429 and limited.json()["errors"][0]["code"] == 13
        assert (await http.get("/space", params=key())).status_code == 200  # another bucket
        buckets = (await http.get("/rateLimit", params=key())).json()["rateLimit"]
        assert buckets["search"]["remaining"] == 0 and buckets["read"]["limit"] == 600


async def test_paging_and_filters(http: httpx.AsyncClient, fake: FakeBacklog) -> None:
    params = key(**{"projectId[]": 104, "statusId[]": [1, 2], "count": 100, "sort": "created", "order": "asc"})
    first = (await http.get("/issues", params=params)).json()
    count = (await http.get("/issues/count", params=params)).json()["count"]
    expected = [i for i in fake.space.issues.values() if i["projectId"] == 104 and i["status"]["id"] in (1, 2)]
    assert count == len(expected)
    assert [i["created"] for i in first] == sorted(i["created"] for i in first)
    second = (await http.get("/issues", params={**params, "offset": 100})).json()
    assert {i["id"] for i in first}.isdisjoint({i["id"] for i in second})
    indexed = (
        await http.get("/issues", params=key(**{"statusId[0]": 1, "statusId[1]": 2, "projectId[0]": 104}))
    ).json()
    assert all(i["status"]["id"] in (1, 2) for i in indexed)


async def test_comments_order_and_id_bounds(http: httpx.AsyncClient) -> None:
    newest = (await http.get("/issues/ORBIT-4/comments", params=key(count=5))).json()
    ids = [c["id"] for c in newest]
    assert ids == sorted(ids, reverse=True)
    older = (await http.get("/issues/ORBIT-4/comments", params=key(count=5, maxId=ids[-1] - 1))).json()
    assert max(c["id"] for c in older) < min(ids)
    asc = (await http.get("/issues/ORBIT-4/comments", params=key(order="asc", minId=ids[0], count=5))).json()
    assert [c["id"] for c in asc] == [ids[0]]


async def test_form_encoded_writes(http: httpx.AsyncClient, fake: FakeBacklog) -> None:
    created = await http.post(
        "/issues",
        params=key(),
        data={"projectId": "105", "summary": "新しい課題", "issueTypeId": "10501", "priorityId": "3"},
    )
    assert created.status_code == 201
    new_key = created.json()["issueKey"]
    assert created.headers["location"] == f"https://acme.backlog.com/view/{new_key}"
    updated = await http.patch(
        f"/issues/{new_key}",
        params=key(),
        data={"statusId": "2", "assigneeId": "1073925005", "dueDate": "2026-12-01", "comment": "starting"},
    )
    assert updated.status_code == 200
    assert updated.json()["status"]["name"] == "In Progress"
    comments = (await http.get(f"/issues/{new_key}/comments", params=key())).json()
    assert comments[0]["content"] == "starting"
    assert [(c["field"], c["originalValue"], c["newValue"]) for c in comments[0]["changeLog"]] == [
        ("status", "Open", "In Progress"),
        ("assigner", None, "Alice Martin"),
        ("limitDate", None, "2026-12-01"),
    ]
    posted = await http.post(f"/issues/{new_key}/comments", params=key(), data={"content": "done"})
    assert posted.status_code == 201
    assert posted.headers["location"].endswith(f"/view/{new_key}#comment-{posted.json()['id']}")
    rejected = await http.patch(f"/issues/{new_key}", params=key(), data={"statusId": "999"})
    assert rejected.status_code == 400


async def test_downloads_are_real_files_with_their_type_and_name(http: httpx.AsyncClient) -> None:
    png = await http.get("/issues/ORBIT-1/attachments/66121", params=key())
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"] == "attachment; filename*=UTF-8''screenshot.png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) == 182_044
    log = await http.get("/issues/ORBIT-1/attachments/66120", params=key())
    assert log.headers["content-type"] == "text/plain" and len(log.content) == 4821
    log.content.decode("utf-8")  # whole characters, exactly the declared size
    pdf = await http.get("/wikis/3300002/attachments/68021", params=key())
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    gone = await http.get("/issues/ORBIT-1/attachments/1", params=key())
    assert (gone.status_code, gone.json()["errors"][0]["code"]) == (404, 6)


async def test_documents_need_an_offset_and_keep_to_member_projects(http: httpx.AsyncClient) -> None:
    no_offset = await http.get("/documents", params=key())
    assert no_offset.status_code == 400 and no_offset.json()["errors"][0]["message"] == "offset is required."
    listed = await http.get("/documents", params=key(offset=0, count=100))
    assert {d["projectId"] for d in listed.json()} == {104, 105} and len(listed.json()) == 14
    assert all(len(d["id"]) == 32 and "plain" in d and "json" in d for d in listed.json())
    tree = (await http.get("/documents/tree", params=key(projectIdOrKey="ORBIT"))).json()
    assert tree["activeTree"]["id"] == "Active" and tree["trashTree"]["children"][0]["name"] == "Old draft"


async def test_pull_requests_filter_and_count_alike(http: httpx.AsyncClient) -> None:
    base = "/projects/ORBIT/git/repositories/orbit-android/pullRequests"
    merged = (await http.get(base, params=key(**{"statusId[]": 3}))).json()
    count = (await http.get(f"{base}/count", params=key(**{"statusId[]": 3}))).json()
    assert merged and all(p["status"] == {"id": 3, "name": "Merged"} for p in merged)
    assert count == {"count": len(merged)}
    by_number = (await http.get(f"{base}/{merged[0]['number']}", params=key())).json()
    assert by_number["mergeCommit"] and by_number["mergeAt"]


async def test_activities_are_newest_first_in_snake_case_and_typed(http: httpx.AsyncClient) -> None:
    page = (await http.get("/projects/ORBIT/activities", params=key(count=100))).json()
    assert [a["id"] for a in page] == sorted((a["id"] for a in page), reverse=True)
    assert all(a["project"]["projectKey"] == "ORBIT" and a["notifications"] == [] for a in page)
    comment = next(a for a in page if a["type"] == 2 and a["content"]["changes"])
    assert {"key_id", "summary", "comment", "changes"} <= set(comment["content"])
    assert set(comment["content"]["changes"][0]) == {"field", "new_value", "old_value", "type"}
    only = (await http.get("/space/activities", params=key(**{"activityTypeId[]": 12}))).json()
    assert only and {a["type"] for a in only} == {12}
    wrong = await http.get("/space/activities", params=key(**{"activityTypeId[]": 99}))
    assert wrong.status_code == 400
