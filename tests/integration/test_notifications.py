"""The notifications feed over the real stack: each verdict tells the uploader, the class or its teachers."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.publish import SnsPublisher
from chalicelib.domain.notifications import NotificationService
from local.clamav import EICAR
from local.stack import LocalStack
from tests.integration.conftest import OTHER_SCHOOL, Api, make_token

pytestmark = pytest.mark.integration


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def settled(user: Api, grant: dict[str, Any]) -> str:
    deadline = time.monotonic() + 10
    while True:
        status = str(user.get(f"/v1/uploads/{grant['uploadId']}").json()["status"])
        if status != "pending" or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def feed(user: Api, **params: Any) -> list[dict[str, Any]]:
    answer = user.get("/v1/notifications", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(i["type"], i["name"]) for i in items]


@pytest.fixture(scope="module")
def school_day(api_url: str, admin: Api) -> dict[str, Any]:
    """A class's day: submissions on time, late and infected, material, feedback, a refused upload."""
    s = uuid.uuid4().hex[:6]
    ids = {"prof": f"prof-{s}", "alice": f"al-{s}", "bob": f"bo-{s}", "outsider": f"zz-{s}", "class": f"N-{s}"}
    api = {k: Api(api_url, make_token(v, "teacher" if k == "prof" else "student")) for k, v in ids.items()}
    prof, alice, bob = api["prof"], api["alice"], api["bob"]
    body = {"name": "Sciences", "teachers": [ids["prof"]], "students": [ids["alice"], ids["bob"]]}
    assert admin.put(f"/v1/classes/{ids['class']}", body).status_code == 200
    assert admin.put(f"/v1/classes/O-{s}", {"name": "Autre", "teachers": [], "students": [ids["outsider"]]}).ok
    now, path = datetime.now(UTC), f"/v1/classes/{ids['class']}/assignments"
    on_time = prof.post(path, {"title": "TP", "dueAt": stamp(now + timedelta(days=1))}).json()
    late = prof.post(path, {"title": "DM", "dueAt": stamp(now - timedelta(hours=1))}).json()
    steps = [
        (alice, "tp.txt", b"mon TP\n", "text/plain", on_time["space"], {}, "available"),
        (bob, "dm.txt", b"mon DM\n", "text/plain", late["space"], {}, "available"),
        (alice, "virus.txt", EICAR, "text/plain", on_time["space"], {}, "infected"),
        (prof, "cours.txt", b"le cours\n", "text/plain", f"class:{ids['class']}", {}, "available"),
        (prof, "corrige.txt", b"15/20\n", "text/plain", on_time["space"], {"feedbackFor": ids["alice"]}, "available"),
        (alice, "photo.png", b"pas une image\n", "image/png", "me", {}, "rejected"),
    ]
    for user, name, data, content_type, space, extra, status in steps:
        grant = user.upload(name, data, content_type, space=space, **extra)
        assert settled(user, grant) == status, name
        time.sleep(0.01)  # distinct times, so the expected order is the order of the steps
    return {"ids": ids, "api": api}


def test_a_student_hears_of_their_uploads_their_feedback_and_their_class_material(school_day: dict[str, Any]) -> None:
    ids, alice = school_day["ids"], school_day["api"]["alice"]
    items = feed(alice)
    assert kinds(items) == [
        ("upload.rejected", "photo.png"),
        ("feedback.returned", "corrige.txt"),
        ("material.added", "cours.txt"),
        ("upload.infected", "virus.txt"),
        ("upload.available", "tp.txt"),
    ]
    rejected, feedback, material, infected, available = items
    assert rejected["reason"] == "type_mismatch" and rejected["space"] == f"user:{ids['alice']}"
    assert rejected["version"] is None and rejected["late"] is None
    assert feedback["by"] == ids["prof"] and feedback["version"] == 1 and feedback["reason"] is None
    assert material["space"] == f"class:{ids['class']}" and material["by"] == ids["prof"]
    assert infected["reason"] and infected["version"] is None
    assert available["version"] == 1 and available["late"] is None
    assert all(i["at"] <= j["at"] for i, j in zip(items[1:], items, strict=False))
    file = alice.get(f"/v1/files/{available['fileId']}").json()
    assert (file["name"], file["status"]) == ("tp.txt", "available")


def test_a_teacher_hears_of_submissions_late_ones_and_infected_uploads(school_day: dict[str, Any]) -> None:
    ids, prof = school_day["ids"], school_day["api"]["prof"]
    items = feed(prof)
    # one verdict's notifications share their time: their order among themselves is the ids'
    items[1:3] = sorted(items[1:3], key=lambda i: str(i["type"]), reverse=True)
    assert kinds(items) == [
        ("upload.available", "corrige.txt"),
        ("upload.available", "cours.txt"),
        ("material.added", "cours.txt"),
        ("upload.infected", "virus.txt"),
        ("submission.received", "dm.txt"),
        ("submission.received", "tp.txt"),
    ]
    late, on_time = items[4], items[5]
    assert (late["by"], late["late"]) == (ids["bob"], True)
    assert (on_time["by"], on_time["late"]) == (ids["alice"], False)
    assert items[3]["by"] == ids["alice"]


def test_nobody_else_hears_of_it(school_day: dict[str, Any], api_url: str) -> None:
    ids, api = school_day["ids"], school_day["api"]
    assert kinds(feed(api["bob"])) == [("material.added", "cours.txt"), ("upload.available", "dm.txt")]
    assert feed(api["outsider"]) == []
    # the same user id in another school sees nothing of this one
    assert feed(Api(api_url, make_token(ids["prof"], "teacher", school=OTHER_SCHOOL))) == []


def test_pages_walk_the_whole_feed_newest_first(school_day: dict[str, Any]) -> None:
    prof = school_day["api"]["prof"]
    whole = feed(prof)
    walked: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = prof.get("/v1/notifications", params=params).json()
        assert len(page["items"]) == 2  # 6 notifications: three full pages, and no empty fourth
        walked += page["items"]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and walked == whole and len({i["id"] for i in walked}) == len(whole)
    assert prof.get("/v1/notifications", params={"limit": 0}).status_code == 400
    assert prof.get("/v1/notifications", params={"cursor": "not-a-cursor"}).status_code == 400


def test_leaving_a_class_leaves_its_feed(school_day: dict[str, Any], admin: Api) -> None:
    ids, bob = school_day["ids"], school_day["api"]["bob"]
    body = {"name": "Sciences", "teachers": [ids["prof"]], "students": [ids["alice"]]}
    assert admin.put(f"/v1/classes/{ids['class']}", body).status_code == 200
    assert kinds(feed(bob)) == [("upload.available", "dm.txt")]  # their own uploads stay theirs
    assert ("material.added", "cours.txt") in kinds(feed(school_day["api"]["alice"]))


def _outbox_of(stack: LocalStack, partitions: set[str]) -> list[str]:
    """The keys (pk) of the notifications of some feed partitions still waiting to be published."""
    if stack.database_url:  # the PostgreSQL catalog: the rows still in the outbox
        import psycopg

        with psycopg.connect(stack.database_url) as conn:
            rows = conn.execute("SELECT school, audience FROM notifications WHERE outbox_day IS NOT NULL")
            return [pk for school, audience in rows if (pk := f"NOTIF#{school}#{audience}") in partitions]
    db = stack.aws("dynamodb")
    waiting: list[str] = []
    for day in {stamp(datetime.now(UTC) - timedelta(days=1))[:10], stamp(datetime.now(UTC))[:10]}:
        result = db.query(
            TableName=stack.config.table,
            IndexName="due",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues={":p": {"S": f"DUE#notify#{day}"}},
        )
        waiting += [i["pk"]["S"] for i in result["Items"] if i["pk"]["S"] in partitions]
    return waiting


def test_the_scan_handler_drains_the_outbox_and_sns_receives_each_notification(
    school_day: dict[str, Any], stack: LocalStack
) -> None:
    ids, alice = school_day["ids"], school_day["api"]["alice"]
    partition = f"NOTIF#lycee-hugo#user:{ids['alice']}"
    deadline = time.monotonic() + 10
    while _outbox_of(stack, {partition}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _outbox_of(stack, {partition}) == []  # locally the pump's scan batches publish to the log

    # the SNS adapter, against the local stack's SNS, with a queue subscribed to the topic
    sns, sqs = stack.aws("sns"), stack.aws("sqs")
    topic = sns.create_topic(Name=f"cartable-notifications-{ids['class']}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"pushes-{ids['class']}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    catalog = stack.catalog()
    mine, more = catalog.notifications("lycee-hugo", [f"user:{ids['alice']}"], None, 100, datetime.now(UTC))
    assert not more
    assert {n.id for n in mine} == {i["id"] for i in feed(alice) if i["type"] != "material.added"}
    catalog.unclaim(mine)  # back in the outbox, as if never published
    service = NotificationService(catalog, SnsPublisher(sns, topic))
    assert service.publish_pending(datetime.now(UTC)) >= len(mine)
    assert _outbox_of(stack, {partition}) == []
    received: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 10
    while len(received) < len(mine) and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            received[body["id"]] = body
    assert set(received) >= {n.id for n in mine}
    one = received[mine[0].id]
    assert (one["school"], one["audience"], one["type"]) == ("lycee-hugo", f"user:{ids['alice']}", mine[0].type.value)
    assert service.publish_pending(datetime.now(UTC)) == 0  # each is published once


def test_one_topic_per_kind_where_topics_cannot_filter(school_day: dict[str, Any], stack: LocalStack) -> None:
    """Scaleway's SNS-compatible topics have no filter policies: with `{type}` in the topic ARN each
    notification goes to its kind's topic, and a subscriber of one kind receives only that kind."""
    ids, alice = school_day["ids"], school_day["api"]["alice"]
    sns, sqs = stack.aws("sns"), stack.aws("sqs")
    catalog = stack.catalog()
    mine, _ = catalog.notifications("lycee-hugo", [f"user:{ids['alice']}"], None, 100, datetime.now(UTC))
    kinds = {n.type for n in mine}
    assert len(kinds) >= 2, kinds  # an upload's verdict and the teacher's feedback at least
    template = f"cartable-{ids['class']}-{{type}}"
    queues: dict[str, str] = {}
    topic_arn = ""
    for kind in kinds:
        name = template.replace("{type}", kind.value.replace(".", "-"))
        topic_arn = sns.create_topic(Name=name)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"kind-{name}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        queues[kind.value] = queue_url
    arn_template = topic_arn.rsplit(":", 1)[0] + ":" + template
    catalog.unclaim(mine)
    service = NotificationService(catalog, SnsPublisher(sns, arn_template))
    assert service.publish_pending(datetime.now(UTC)) >= len(mine)
    for kind, queue_url in queues.items():
        expected = {n.id for n in mine if n.type.value == kind}
        received: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 10
        while not expected <= set(received) and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
                body = json.loads(message["Body"])
                received[body["id"]] = body
        assert expected <= set(received), kind
        assert {body["type"] for body in received.values()} == {kind}  # that kind only
    assert feed(alice)  # the feed itself is unchanged by the pushes
