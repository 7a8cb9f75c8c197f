"""What a suite does with the fixtures: its code under test talks to a vendor face (here
Respondent's messaging API), the test plays the other side through the native API, and asserts
on what Parlor recorded."""

from conftest import ADMIN

# The demo's Respondent credentials, as the code under test would be configured with them.
RESPONDENT = {"x-api-key": "demo-respondent-key", "x-api-secret": "demo-respondent-secret"}
# The demo clinic (tenant 1): provider 4 and patient 52 share conversation 2.
CLINIC = {**ADMIN, "X-Parlor-Tenant": "1"}


def unread(sandbox, user):
    answer = sandbox.get(f"/parlor/v1/unread?as={user}", headers=CLINIC)
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def test_the_code_under_test_lists_conversations(sandbox):
    answer = sandbox.get("/v1/messaging/conversations", headers=RESPONDENT)
    assert answer.status_code == 200, answer.text
    assert sandbox.sent(face="respondent", method="GET", path="/v1/messaging/conversations") == 1


def test_a_reply_raises_the_patients_badge(sandbox):
    before = unread(sandbox, 52)
    sent = sandbox.post(
        "/parlor/v1/conversations/2/messages",
        headers=CLINIC,
        json={"as": 4, "body": "Your lab results are in."},
    )
    assert sent.status_code == 201, sent.text
    assert unread(sandbox, 52) == before + 1


def test_another_sandbox_never_sees_that_reply(sandbox):
    # Whatever ran before (in any order, in parallel), this test starts from the demo data.
    answer = sandbox.get("/parlor/v1/conversations/2/messages", headers=CLINIC)
    assert answer.status_code == 200, answer.text
    bodies = [m["body"] for m in answer.json()["data"]]
    assert "Your lab results are in." not in bodies
    assert sandbox.sent(face="respondent") == 0
