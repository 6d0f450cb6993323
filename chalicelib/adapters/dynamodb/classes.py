"""Classes, memberships, the roster and assignments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.table import DIR_INDEX, Item, Repository, decode_cursor, dump, encode_cursor, load
from chalicelib.domain.models import Assignment, ClassRecord, Membership, iso
from chalicelib.domain.ports import ClassPage
from chalicelib.domain.schema import ASSIGNMENT, CLASS

EDITABLE = ("title", "instructions", "dueAt", "closesAt", "maxSize", "allowedTypes")  # what a teacher changes


def class_from_item(item: Item) -> ClassRecord:
    return CLASS.from_item(item)


def assignment_from_item(item: Item) -> Assignment:
    return ASSIGNMENT.from_item(item)


def _membership_changes(record: ClassRecord, before: ClassRecord | None) -> list[dict[str, Any]]:
    """The member items to put and delete so that they match the class's lists exactly."""
    wanted = {u: "teacher" for u in record.teachers} | {u: "student" for u in record.students}
    had = {} if before is None else {u: "teacher" for u in before.teachers} | {u: "student" for u in before.students}
    requests: list[dict[str, Any]] = []
    for user, role in wanted.items():
        if had.get(user) != role:
            member = {
                "pk": f"MEMBER#{record.school}#{user}",
                "sk": f"CLASS#{record.id}",
                "classId": record.id,
                "role": role,
            }
            requests.append({"PutRequest": {"Item": dump(member)}})
    for user in had.keys() - wanted.keys():
        key = {"pk": f"MEMBER#{record.school}#{user}", "sk": f"CLASS#{record.id}"}
        requests.append({"DeleteRequest": {"Key": dump(key)}})
    return requests


class ClassRepository(Repository):
    """SCHOOL#…/CLASS#…, MEMBER#…/CLASS#… and SCHOOL#…/ASSIGNMENT#…."""

    def membership(self, school: str, user_id: str) -> Membership:
        """The caller's classes, read consistently so a removal counts on the next request."""
        teaching: set[str] = set()
        studying: set[str] = set()
        archived: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": dump({":p": f"MEMBER#{school}#{user_id}"}),
            "ConsistentRead": True,
        }
        while True:
            result = self._call("query", **kwargs)
            for raw in result.get("Items", []):
                item = load(raw)
                (teaching if item["role"] == "teacher" else studying).add(str(item["classId"]))
                if item.get("archived"):
                    archived.add(str(item["classId"]))
            if "LastEvaluatedKey" not in result:
                return Membership(frozenset(teaching), frozenset(studying), frozenset(archived))
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]

    def archive_class(self, record: ClassRecord, year: str, now: datetime, assignments: Sequence[Assignment]) -> None:
        """Close a class's school year: its members' items, then its assignments, then the class item
        last, so a crash midway is finished by closing again (a class item archived means done)."""
        members = [(u, "teacher") for u in record.teachers] + [(u, "student") for u in record.students]
        self._batch_write(
            [
                {
                    "PutRequest": {
                        "Item": dump(
                            {
                                "pk": f"MEMBER#{record.school}#{user}",
                                "sk": f"CLASS#{record.id}",
                                "classId": record.id,
                                "role": role,
                                "archived": True,
                            }
                        )
                    }
                }
                for user, role in members
            ]
        )
        for assignment in assignments:
            self._call(
                "update_item",
                TableName=self._table,
                Key=dump({"pk": f"SCHOOL#{record.school}", "sk": f"ASSIGNMENT#{assignment.id}"}),
                UpdateExpression="SET archivedAt = :now",
                ExpressionAttributeValues=dump({":now": iso(now)}),
            )
        self._call(
            "update_item",
            TableName=self._table,
            Key=dump({"pk": f"SCHOOL#{record.school}", "sk": f"CLASS#{record.id}"}),
            UpdateExpression="SET archivedAt = :now, #yr = :year",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(archivedAt)",
            ExpressionAttributeNames={"#yr": "year"},
            ExpressionAttributeValues=dump({":now": iso(now), ":year": year}),
        )

    def get_class(self, school: str, class_id: str) -> ClassRecord | None:
        item = self._get(f"SCHOOL#{school}", f"CLASS#{class_id}")
        return None if item is None else class_from_item(item)

    def put_class(self, record: ClassRecord) -> None:
        """Create or replace a class; membership items follow the new lists exactly."""
        self.put_roster(record.school, [record])

    def put_roster(self, school: str, classes: Sequence[ClassRecord]) -> int:
        """Create or replace classes in batches; only what changed is written. Answers the writes made."""
        old = {c.id: c for c in self.get_classes(school, [c.id for c in classes])}
        requests: list[dict[str, Any]] = []
        class_items: list[dict[str, Any]] = []
        for record in classes:
            before = old.get(record.id)
            requests.extend(_membership_changes(record, before))
            if before != record:
                item = {**CLASS.to_item(record), "pk": f"SCHOOL#{school}", "sk": f"CLASS#{record.id}"}
                class_items.append({"PutRequest": {"Item": dump(item)}})
        # Memberships first: they decide access; the class items only describe it.
        self._batch_write(requests)
        self._batch_write(class_items)
        return len(requests) + len(class_items)

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage:
        partition = f"SCHOOL#{school}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :c)",
            "ExpressionAttributeValues": dump({":p": partition, ":c": "CLASS#"}),
            "Limit": limit + 1,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {"pk": partition})
        items = [load(raw) for raw in self._call("query", **kwargs).get("Items", [])]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(dump({"pk": items[-1]["pk"], "sk": items[-1]["sk"]}))
        return ClassPage(classes=[class_from_item(i) for i in items], next_cursor=next_cursor)

    def get_classes(self, school: str, class_ids: Iterable[str]) -> list[ClassRecord]:
        keys = [dump({"pk": f"SCHOOL#{school}", "sk": f"CLASS#{c}"}) for c in sorted(set(class_ids))]
        return sorted((class_from_item(item) for item in self._batch_get(keys)), key=lambda c: c.id)

    def put_assignment(self, assignment: Assignment) -> None:
        item = {
            **ASSIGNMENT.to_item(assignment),
            "pk": f"SCHOOL#{assignment.school}",
            "sk": f"ASSIGNMENT#{assignment.id}",
            "gsi1pk": f"ASSIGNMENTS#{assignment.school}#{assignment.class_id}",
            "gsi1sk": f"{iso(assignment.due_at)}#{assignment.id}",
        }
        self._call("put_item", TableName=self._table, Item=dump(item), ConditionExpression="attribute_not_exists(pk)")

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None:
        item = self._get(f"SCHOOL#{school}", f"ASSIGNMENT#{assignment_id}")
        return None if item is None else assignment_from_item(item)

    def update_assignment(self, assignment: Assignment) -> None:
        """Write what a teacher may change (and its place in the class's list by due date) over an
        assignment that exists, is not deleted and not archived (StaleWriteError otherwise): the last
        writer wins, and neither a year's closing nor a deletion is undone."""
        item = ASSIGNMENT.to_item(assignment)
        names = {f"#{key}": key for key in EDITABLE}
        values: dict[str, Any] = {":k": f"{iso(assignment.due_at)}#{assignment.id}"}
        sets, removes = ["gsi1sk = :k"], []
        for key in EDITABLE:
            if item.get(key) is None:
                removes.append(f"#{key}")
            else:
                sets.append(f"#{key} = :{key}")
                values[f":{key}"] = item[key]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self._call(
            "update_item",
            TableName=self._table,
            Key=dump({"pk": f"SCHOOL#{assignment.school}", "sk": f"ASSIGNMENT#{assignment.id}"}),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deletedAt)"
            " AND attribute_not_exists(archivedAt)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=dump(values),
        )

    def delete_assignment(self, school: str, assignment_id: str, now: datetime) -> None:
        """Mark an assignment deleted (the first deletion's time stays) and take it out of its class's
        list; StaleWriteError if there is no such assignment."""
        self._call(
            "update_item",
            TableName=self._table,
            Key=dump({"pk": f"SCHOOL#{school}", "sk": f"ASSIGNMENT#{assignment_id}"}),
            UpdateExpression="SET deletedAt = if_not_exists(deletedAt, :now) REMOVE gsi1pk, gsi1sk",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=dump({":now": iso(now)}),
        )

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]:
        """A class's assignments by due date (a class has tens of them, not thousands)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DIR_INDEX,
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": dump({":p": f"ASSIGNMENTS#{school}#{class_id}"}),
        }
        found: list[Assignment] = []
        while True:
            result = self._call("query", **kwargs)
            found.extend(a for a in map(assignment_from_item, map(load, result.get("Items", []))) if not a.deleted_at)
            if "LastEvaluatedKey" not in result:
                return found
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]
