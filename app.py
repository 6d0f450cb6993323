"""Cartable's functions: HTTP routes and the scan event handler. Thin: each calls one service."""

from __future__ import annotations

import logging
import os
from typing import Any

from chalice.app import Chalice, Rate, Response

from chalicelib import invocation, webapp, wiring
from chalicelib.domain.models import Principal
from chalicelib.domain.ratelimit import RateCharge
from chalicelib.http import CSV_BODY_LIMIT, Views, current_request, json_body, no_content, redirect

# app.log is the `cartable` logger: its lines, and those of every `cartable.*` module, are JSON from the
# first invocation on (Powertools, chalicelib/adapters/telemetry.py), not Chalice's plain text.
app = Chalice(app_name="cartable", configure_logs=False)
app.log.setLevel(logging.INFO)  # CARTABLE_LOG_LEVEL from the first invocation on
app.register_middleware(invocation.observe, "all")
views = Views(
    app,
    authenticate=lambda header: invocation.identify(wiring.token_verifier().verify(header)),
    on_denied=lambda principal, target, status, reason: wiring.audit_service().denied(
        principal, target, status, reason
    ),
    idempotency=wiring.idempotency,
    rate_limit=wiring.rate_limit,
)

# Read by the decorator below at deploy time; the queue itself is declared in the infrastructure.
UPLOADS_QUEUE = os.environ.get("CARTABLE_UPLOADS_QUEUE", "cartable-uploads")
JOBS_QUEUE = os.environ.get("CARTABLE_JOBS_QUEUE", "cartable-jobs")


def _query(name: str) -> str | None:
    params = current_request(app).query_params
    return None if params is None else params.get(name)


@views.route("/v1/health", methods=["GET"], public=True)
def health() -> dict[str, Any]:
    return {"status": "ok"}


@views.route("/v1/classes", methods=["GET"])
def list_classes(principal: Principal) -> dict[str, Any]:
    return wiring.roster_service().list_classes(principal, _query("limit"), _query("cursor"))


@views.route("/v1/classes/{class_id}", methods=["PUT"])
def put_class(principal: Principal, class_id: str) -> dict[str, Any]:
    body = json_body(current_request(app).raw_body)
    return wiring.roster_service().put_class(principal, class_id, body)


@views.route("/v1/roster/import", methods=["POST"], max_body=CSV_BODY_LIMIT)
def import_roster(principal: Principal) -> dict[str, Any]:
    return wiring.roster_service().import_roster(principal, _raw_body())


@views.route("/v1/shares", methods=["POST"], status=201)
def create_share(principal: Principal) -> dict[str, Any]:
    return wiring.sharing_service().create(principal, json_body(current_request(app).raw_body))


@views.route("/v1/shares/received", methods=["GET"])
def shares_received(principal: Principal) -> dict[str, Any]:
    return wiring.sharing_service().received(principal, _query("limit"), _query("cursor"))


@views.route("/v1/shares/given", methods=["GET"])
def shares_given(principal: Principal) -> dict[str, Any]:
    return wiring.sharing_service().given(principal, _query("limit"), _query("cursor"))


@views.route("/v1/shares/{share_id}", methods=["DELETE"], status=204)
def revoke_share(principal: Principal, share_id: str) -> Response:
    wiring.sharing_service().revoke(principal, share_id)
    return no_content()


@views.route("/v1/audit", methods=["GET"])
def audit_trail(principal: Principal) -> dict[str, Any]:
    return wiring.audit_service().list(principal, _query("user"), _query("limit"), _query("cursor"))


@views.route("/v1/me/export", methods=["GET"])
def export_mine(principal: Principal) -> Response:
    return redirect(wiring.export_service().export(principal))


@views.route("/v1/me/export", methods=["POST"], status=202)
def export_mine_later(principal: Principal) -> dict[str, Any]:
    return wiring.job_service().start(principal, "export", principal.user_id)


@views.route("/v1/users/{user_id}/export", methods=["POST"], status=202)
def export_user_later(principal: Principal, user_id: str) -> dict[str, Any]:
    return wiring.job_service().start(principal, "export", user_id)


@views.route("/v1/jobs/{job_id}", methods=["GET"])
def get_job(principal: Principal, job_id: str) -> dict[str, Any]:
    return wiring.job_service().get(principal, job_id)


@views.route("/v1/jobs/{job_id}/content", methods=["GET"])
def job_content(principal: Principal, job_id: str) -> Response:
    return redirect(wiring.job_service().content(principal, job_id))


@views.route("/v1/users/{user_id}/export", methods=["GET"])
def export_user(principal: Principal, user_id: str) -> Response:
    return redirect(wiring.export_service().export(principal, user_id))


@views.route("/v1/years/close", methods=["POST"], status=202)
def close_year(principal: Principal) -> dict[str, Any]:
    year = wiring.year_service().year_of(json_body(current_request(app).raw_body))
    return wiring.job_service().start(principal, "year-close", year)


@views.route("/v1/retention", methods=["GET"])
def retention(principal: Principal) -> dict[str, Any]:
    return wiring.year_service().retention_report(principal, _query("asOf"), _query("limit"), _query("cursor"))


@views.route("/v1/uploads", methods=["POST"], status=201, counts_itself=True)
def grant_upload(principal: Principal, rate: RateCharge | None = None) -> dict[str, Any]:
    # One write: the caller's count of POSTs goes into the grant's own transaction.
    body = json_body(current_request(app).raw_body)
    return wiring.file_service().grant_upload(principal, body, rate)


@views.route("/v1/uploads/batch", methods=["POST"])
def grant_uploads(principal: Principal) -> dict[str, Any]:
    body = json_body(current_request(app).raw_body)
    return wiring.file_service().grant_batch(principal, body)


@views.route("/v1/uploads/{upload_id}", methods=["GET"])
def get_upload(principal: Principal, upload_id: str) -> dict[str, Any]:
    return wiring.file_service().get_upload(principal, upload_id)


@views.route("/v1/uploads/{upload_id}", methods=["DELETE"], status=204)
def cancel_upload(principal: Principal, upload_id: str) -> Response:
    wiring.file_service().cancel_upload(principal, upload_id)
    return no_content()


@views.route("/v1/uploads/{upload_id}/complete", methods=["POST"])
def complete_upload(principal: Principal, upload_id: str) -> dict[str, Any]:
    body = json_body(current_request(app).raw_body)
    return wiring.file_service().complete_upload(principal, upload_id, body)


@views.route("/v1/files/{file_id}", methods=["GET"])
def get_file(principal: Principal, file_id: str) -> dict[str, Any]:
    return wiring.file_service().get_file(principal, file_id)


@views.route("/v1/files/{file_id}", methods=["PATCH"])
def move_file(principal: Principal, file_id: str) -> dict[str, Any]:
    return wiring.file_service().move(principal, file_id, json_body(current_request(app).raw_body))


@views.route("/v1/files/{file_id}", methods=["DELETE"])
def delete_file(principal: Principal, file_id: str) -> Response:
    wiring.trash_service().delete(principal, file_id)
    return no_content()


@views.route("/v1/spaces/{space}/trash", methods=["GET"])
def list_trash(principal: Principal, space: str) -> dict[str, Any]:
    return wiring.trash_service().list_trash(principal, space, _query("limit"), _query("cursor"))


@views.route("/v1/files/{file_id}/restore", methods=["POST"])
def restore_file(principal: Principal, file_id: str) -> dict[str, Any]:
    return wiring.trash_service().restore(principal, file_id)


@views.route("/v1/files/{file_id}/content", methods=["GET"])
def file_content(principal: Principal, file_id: str) -> Any:
    return redirect(wiring.file_service().download_url(principal, file_id, _query("version")))


@views.route("/v1/files/{file_id}/versions", methods=["GET"])
def file_versions(principal: Principal, file_id: str) -> dict[str, Any]:
    return wiring.file_service().versions(principal, file_id)


@views.route("/v1/classes/{class_id}/assignments", methods=["POST"], status=201)
def create_assignment(principal: Principal, class_id: str) -> dict[str, Any]:
    return wiring.assignment_service().create(principal, class_id, json_body(current_request(app).raw_body))


@views.route("/v1/classes/{class_id}/assignments", methods=["GET"])
def list_assignments(principal: Principal, class_id: str) -> dict[str, Any]:
    return wiring.assignment_service().list_for_class(principal, class_id)


@views.route("/v1/assignments/{assignment_id}", methods=["GET"])
def get_assignment(principal: Principal, assignment_id: str) -> dict[str, Any]:
    return wiring.assignment_service().get(principal, assignment_id)


@views.route("/v1/assignments/{assignment_id}", methods=["PATCH"])
def update_assignment(principal: Principal, assignment_id: str) -> dict[str, Any]:
    body = json_body(current_request(app).raw_body)
    return wiring.assignment_service().update(principal, assignment_id, body)


@views.route("/v1/assignments/{assignment_id}", methods=["DELETE"])
def delete_assignment(principal: Principal, assignment_id: str) -> Response:
    wiring.assignment_service().delete(principal, assignment_id)
    return no_content()


@views.route("/v1/assignments/{assignment_id}/submissions", methods=["GET"])
def submissions(principal: Principal, assignment_id: str) -> dict[str, Any]:
    return wiring.assignment_service().submissions(principal, assignment_id, _query("limit"), _query("cursor"))


@views.route("/v1/assignments/{assignment_id}/receipt", methods=["GET"])
def submission_receipt(principal: Principal, assignment_id: str) -> dict[str, Any]:
    return wiring.receipt_service().receipt(principal, assignment_id, _query("student"))


@views.route("/v1/receipts/verify", methods=["POST"])
def verify_receipt(principal: Principal) -> dict[str, Any]:
    return wiring.receipt_service().verify(principal, json_body(current_request(app).raw_body))


@views.route("/v1/notifications", methods=["GET"])
def notifications(principal: Principal) -> dict[str, Any]:
    return wiring.notification_service().feed(principal, _query("limit"), _query("cursor"))


@views.route("/v1/assignments/{assignment_id}/archive", methods=["POST"], status=202)
def submissions_archive_later(principal: Principal, assignment_id: str) -> dict[str, Any]:
    return wiring.job_service().start(principal, "archive", assignment_id)


@views.route("/v1/assignments/{assignment_id}/archive", methods=["GET"])
def submissions_archive(principal: Principal, assignment_id: str) -> Response:
    return redirect(wiring.assignment_service().archive(principal, assignment_id))


@views.route("/v1/spaces/{space}", methods=["GET"])
def get_space(principal: Principal, space: str) -> dict[str, Any]:
    return wiring.space_service().describe(principal, _unquote(space))


@views.route("/v1/spaces/{space}/files", methods=["GET"])
def list_files(principal: Principal, space: str) -> dict[str, Any]:
    return wiring.file_service().list_folder(
        principal, _unquote(space), _query("path"), _query("limit"), _query("cursor")
    )


@views.route("/v1/spaces/{space}/changes", methods=["GET"])
def space_changes(principal: Principal, space: str) -> dict[str, Any]:
    return wiring.sync_service().changes(principal, _unquote(space), _query("cursor"), _query("limit"))


@views.route("/v1/spaces/{space}/changes/poll", methods=["GET"])
def poll_changes(principal: Principal, space: str) -> dict[str, Any]:
    return wiring.sync_service().poll(principal, _unquote(space), _query("cursor"), _query("timeout"))


# The web client and the demo sign-in: stage local only, 404 elsewhere (see chalicelib/webapp.py).
@views.route("/", methods=["GET"], public=True)
def web_page() -> Response:
    return webapp.web_client().page()


@views.route("/static/{name}", methods=["GET"], public=True)
def web_static(name: str) -> Response:
    return webapp.web_client().static(name)


@views.route("/v1/local/users", methods=["GET"], public=True)
def local_users() -> dict[str, Any]:
    return webapp.web_client().demo_users()


@views.route("/v1/local/token", methods=["POST"], public=True)
def local_token() -> dict[str, Any]:
    return webapp.web_client().demo_token(json_body(current_request(app).raw_body))


def _raw_body() -> bytes:
    body = current_request(app).raw_body
    return body.encode() if isinstance(body, str) else body or b""


def _unquote(segment: str) -> str:
    # API Gateway passes `user%3Aabc` as it came; space ids never hold a literal `%`.
    from urllib.parse import unquote

    return unquote(segment)


@app.schedule(Rate(1, unit=Rate.HOURS))
def sweep_trash(event: Any) -> dict[str, int]:
    """The hourly sweep (also by hand: `python -m local.sweep`): purge what has been in the trash for
    30 days; end grants that expired unused; announce again objects left unscanned in incoming/; push
    the notifications still waiting."""
    from chalicelib.domain.models import utcnow

    report = wiring.sweeper().run(utcnow()).as_json()
    report["notificationsPublished"] = _publish_notifications()
    return report


def _publish_notifications() -> int:
    """Drain the notifications outbox; a failure leaves them there for the next drain, never fails the caller."""
    from chalicelib.domain.models import utcnow

    try:
        return wiring.notification_service().publish_pending(utcnow())
    except Exception:
        app.log.exception("notifications not published; the next drain retries")
        return 0


@app.schedule(Rate(1, unit=Rate.HOURS))
def rescan_files(event: Any) -> dict[str, Any]:
    """Read every served object again when the antivirus's signatures changed (also by hand:
    `python -m local.rescan`); what is found infected is quarantined, its shares end, people are told.
    Resumes where the last run stopped; stops short of Lambda's 15 minutes."""
    return wiring.rescan_service().run(budget_seconds=780).as_json()


@app.on_sqs_message(queue=JOBS_QUEUE, batch_size=1)
def run_jobs(event: Any) -> dict[str, list[dict[str, str]]]:
    """A ZIP asked for with POST (an archive of submissions, an export): built here, off the request,
    as its requester (see chalicelib/domain/jobs.py). A job failing for a part is retried by the queue."""
    from chalicelib.domain.jobs import job_id_of
    from chalicelib.domain.scanning import message_id
    from chalicelib.errors import BadRequestError

    failed: list[str] = []
    for record in event:
        try:
            wiring.job_service().run(job_id_of(record.body))
        except BadRequestError:
            app.log.warning("a message that is not a job was dropped")
        except Exception:
            failed.append(message_id(record))
            app.log.exception("job failed; the message will be retried")
    return {"batchItemFailures": [{"itemIdentifier": item} for item in failed]}


@app.on_sqs_message(queue=UPLOADS_QUEUE, batch_size=5)
def scan_uploads(event: Any) -> dict[str, list[dict[str, str]]]:
    """S3 ObjectCreated → SQS → here: scan each arrived object. A message that fails is reported
    alone (SQS partial batch response), so the others of its batch are not run again; one that
    keeps failing reaches the dead-letter queue, its file still pending, never available."""
    from chalicelib.domain.scanning import message_id

    service = wiring.scan_service()
    failed: list[str] = []
    for record in event:
        try:
            service.handle_message(record)
        except Exception:  # the scan logged why, with the upload's ids
            failed.append(message_id(record))
            app.log.warning("message %s failed; it will be retried", message_id(record))
    _publish_notifications()  # the verdicts' notifications, written with them, pushed once committed
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
