"""``tracer dlq``'s pure parts: fields from reasons, summaries, replay planning and its bookkeeping."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest

from tracer.agents import dlq, dlq_replay
from tracer.agents.deadletters import dead_letter
from tracer.agents.dlq import Letter, parse_since, reason_field, render_letter, summarize
from tracer.agents.dlq_replay import Revalidation, apply_map, ledger_key, parse_maps, plan_replay
from tracer.agents.router import _replay_of
from tracer.agents.routing import HEADER_REPLAY_DEPLOYMENT, HEADER_REPLAY_OF, replayed_source
from tracer.online_models.batch import RoutedEvent, Source
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeadLetter, DeploymentSpec, ReasonCode

ROW = {"cust_id": "c-1", "snapshot_date": "2023-06-30", "signup_date": "2023-04-01", "last_login": "2023-06-02",
       "total_spend": 30.0, "plan": "basic", "support_tickets": 6, "feature_usage": 20}  # fmt: skip


def spec(mapping: dict[str, str] | None = None, topics: tuple[str, ...] = ("crm",)) -> DeploymentSpec:
    return DeploymentSpec(
        id="churn", blueprint="customer_churn", input_topics=list(topics), key_field="cust_id",
        column_mapping=mapping or {},
    )  # fmt: skip


def letter(
    offset: int,
    raw: bytes,
    *,
    reason: ReasonCode = ReasonCode.WRONG_TYPE,
    error: str = "column 'plan', row 0: 'basic' is not a number",
    topic: str = "crm",
    deployment: str | None = "churn",
    ts: int = 1_000,
    max_raw_bytes: int = 65_536,
) -> Letter:
    value = dead_letter(reason, error, raw=raw, key=b"c-1", topic=topic, partition=0, offset=offset,
                        deployment=deployment, max_raw_bytes=max_raw_bytes)  # fmt: skip
    parsed = json.loads(value)
    parsed["ts"] = ts
    return Letter(0, offset, DeadLetter.model_validate_json(json.dumps(parsed)))


def test_doctests() -> None:
    assert doctest.testmod(dlq).failed == 0 and doctest.testmod(dlq_replay).failed == 0


def test_fields_come_from_the_errors_the_scorer_writes() -> None:
    wrong = Revalidation(spec({"total_value": "plan"}))
    (problem,) = wrong.check([json.dumps(ROW).encode()])
    assert problem is not None and problem[0] == ReasonCode.WRONG_TYPE
    assert reason_field(problem[1]) == "plan"
    assert reason_field("column \"it's\", row 2: 'x' is not a date") == "it's"
    assert reason_field("customer_churn: row 3 has nothing to score from: no value for any of a, b") is None
    assert reason_field("expected a JSON object, got list") is None
    assert reason_field("label: Input should be a valid boolean (got 'maybe')") == "label"


def test_summary_counts_by_deployment_reason_and_field_with_first_last_and_an_example() -> None:
    letters = [
        letter(1, b'{"plan": "basic"}', ts=3_000),
        letter(2, b'{"plan": "gold"}', ts=1_000),
        letter(3, b"{oops", reason=ReasonCode.NOT_JSON, error="not JSON: EOF", ts=2_000),
        letter(4, b'{"plan": "x"}', deployment="other", ts=5_000),
    ]
    rows = summarize(letters)
    assert [(r.deployment, r.reason, r.field, r.count) for r in rows] == [
        ("churn", ReasonCode.WRONG_TYPE, "plan", 2),
        ("churn", ReasonCode.NOT_JSON, None, 1),
        ("other", ReasonCode.WRONG_TYPE, "plan", 1),
    ]
    first = rows[0]
    assert (first.first_seen, first.last_seen) == (1_000, 3_000)
    assert first.example_source == "crm:0:1" and first.example_raw == '{"plan": "basic"}'
    assert rows[1].example_raw == "{oops"


def test_show_decodes_text_and_says_what_was_truncated() -> None:
    shown = render_letter(letter(7, b'{"plan": "basic"}'), "tracer.dlq")
    assert '"plan": "basic"' in shown and "input: crm:0:7" in shown and "field: plan" in shown
    cut = render_letter(letter(8, b"z" * 100, max_raw_bytes=10), "tracer.dlq")
    assert "100 bytes, first 10 kept" in cut
    binary = render_letter(letter(9, b"\xff\xfe"), "tracer.dlq")
    assert "base64:" in binary


def test_replay_sends_what_passes_the_current_spec_and_counts_the_rest() -> None:
    good = json.dumps(ROW).encode()
    letters = [
        letter(1, good),
        letter(2, b"{oops", reason=ReasonCode.NOT_JSON, error="not JSON"),
        letter(3, good, max_raw_bytes=10),  # kept in part: can't be sent as it was
        letter(4, b'{"deployment": "churn"}', topic="tracer.labels", reason=ReasonCode.UNMATCHED_LABEL),
        letter(5, good, deployment="other"),
    ]
    plan = plan_replay(letters, spec(), set())
    assert [item.source.offset for item, _ in plan.send] == [1]
    assert plan.send[0][1] == good, "sent as the original bytes"
    report = plan.report
    assert (report.letters, report.sent, report.already_replayed) == (4, 1, 0)
    assert report.still_failing == {"not_json": 1}
    assert report.not_replayable == {"truncated": 1, "not_an_input": 1}
    assert report.examples and report.examples[0].startswith("crm:0:2:")

    wrong = plan_replay(letters, spec({"total_value": "plan"}), set())
    assert wrong.report.sent == 0 and wrong.report.still_failing == {"not_json": 1, "wrong_type": 1}
    only = plan_replay(letters, spec(), set(), reason=ReasonCode.NOT_JSON)
    assert (only.report.letters, only.report.sent) == (1, 0)


def test_a_second_replay_sends_nothing_and_one_input_counts_once() -> None:
    good = json.dumps(ROW).encode()
    letters = [
        letter(1, good, ts=1),
        letter(1, good, ts=2),
        letter(2, good, ts=3),
    ]  # 1 was dead-lettered twice
    first = plan_replay(letters, spec(), set())
    assert first.report.letters == 2 and first.report.sent == 2
    ledger = {ledger_key("churn", item.letter) for item in letters}
    assert ledger == {"churn/crm:0:1", "churn/crm:0:2"}
    second = plan_replay(letters, spec(), ledger)
    assert (second.report.sent, second.report.already_replayed) == (0, 2)


def test_map_rewrites_a_renamed_column_for_the_current_spec() -> None:
    renamed = {name: value for name, value in ROW.items() if name != "total_spend"}
    raw = json.dumps({**renamed, "spend_eur": 30.0, "total_spend": "lots"}).encode()  # the producer's bug
    letters = [letter(1, raw)]
    assert plan_replay(letters, spec(), set()).report.sent == 0
    plan = plan_replay(letters, spec(), set(), maps={"total_value": "spend_eur"})
    assert plan.report.sent == 1
    assert json.loads(plan.send[0][1])["total_value"] == 30.0
    assert apply_map({"a": 1}, {"total_value": "a"}, spec({"total_value": "amount"})) == {"amount": 1}
    with pytest.raises(ValueError, match="no input 'nope'"):
        dlq_replay.check_maps(spec(), {"nope": "x"})


def test_parsing_since_and_maps() -> None:
    assert parse_since("90s", now_ms=100_000) == 10_000
    assert parse_since("2024-01-01T00:00:00") == parse_since("2024-01-01T00:00:00+00:00") == 1_704_067_200_000
    with pytest.raises(ValueError, match="neither an ISO time"):
        parse_since("yesterday")
    assert parse_maps(["a=b", " c = d "]) == {"a": "b", "c": "d"}
    with pytest.raises(ValueError, match="INPUT=COLUMN"):
        parse_maps(["a"])


def test_the_router_knows_a_replayed_input_and_its_deployment() -> None:
    headers: list[tuple[str, Any]] = [(HEADER_REPLAY_OF, b"crm:0:7"), (HEADER_REPLAY_DEPLOYMENT, b"churn")]
    assert _replay_of(headers) == ("churn", b"crm:0:7")
    assert _replay_of([("other", b"x")]) is None


def test_a_restored_deployment_reads_with_its_current_mapping() -> None:
    live = LiveDeployment(spec({"total_value": "plan"}))
    event = RoutedEvent(json.dumps(ROW).encode(), b"c-1", Source("crm", 0, 0), 0)
    assert live.score([event], now_ms=0).dead_letters, "the wrong mapping reads text as spend"
    assert live.adopt_column_mapping(spec())
    assert not live.adopt_column_mapping(spec())
    later = RoutedEvent(json.dumps(ROW).encode(), b"c-1", Source("crm", 0, 5), 0)
    result = live.score([later], now_ms=0)
    assert len(result.predictions) == 1 and not result.dead_letters
    replayed = RoutedEvent(json.dumps(ROW).encode(), b"c-1", Source("crm", 0, 0), 0)  # attributed to offset 0
    assert live.score([replayed], now_ms=0).predictions[0].source.offset == 0
    assert live.source_positions["crm:0"] == 6, "a replay's older offset does not move the position back"


@pytest.mark.parametrize(
    "raw", [b"", b"orders", b"orders:0", b"orders:x:1", b"orders:0:-1", b":0:1", b"\xff:0:x"]
)
def test_a_malformed_replay_header_makes_an_ordinary_input_never_a_crash(raw: bytes) -> None:
    assert replayed_source(raw) is None
    assert _replay_of([(HEADER_REPLAY_DEPLOYMENT, b"churn"), (HEADER_REPLAY_OF, raw)]) is None


def test_a_replay_header_names_the_original_coordinates() -> None:
    assert replayed_source(b"crm.customers:2:17") == ("crm.customers", 2, 17)
    assert replayed_source(b"ns:topic:0:5") == ("ns:topic", 0, 5)
