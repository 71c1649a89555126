from tests.conftest import event_body


def test_grant_then_read_state(client_rw, source, purpose):
    response = client_rw.post("/api/v1/consent-events", event_body(), format="json")
    assert response.status_code == 201, response.json()
    state = client_rw.get("/api/v1/subjects/cust-1/consent").json()
    assert state["purposes"][0]["status"] == "given"
