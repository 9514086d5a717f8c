"""The trust boundary in intake's own code: who may submit and read what, signed platform
records (unsigned, stale, forged, replayed, redelivered), personal data scrubbed out of
the text and sealed, call-backs audited, erasure, evaluation tokens and hostile XML."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intake_fakes import FakeCaseNumberIssuer, FakeIntakeUnitOfWork
from yiwang.common.auth import Actor, Forbidden, Role
from yiwang.common.case import Location, SourceRef
from yiwang.common.clock import ManualClock
from yiwang.common.envelope import Envelope, KafkaRecord, encode
from yiwang.common.events import (
    CaseReceived,
    CaseStateChanged,
    EvaluationInvited,
    ReporterDetails,
    SubmissionRejected,
    SubmitCase,
)
from yiwang.common.personal_data import PersonalDataVault
from yiwang.common.problems import Problem
from yiwang.intake import handlers
from yiwang.intake.adapters.signing import parse_credential, sign_record, signed_submission
from yiwang.intake.config import DEVELOPMENT_PII_KEY
from yiwang.intake.domain import callers
from yiwang.intake.domain.admission import IntakePolicy
from yiwang.intake.domain.batch import Admitted, Refused
from yiwang.intake.domain.callers import Reader
from yiwang.intake.domain.case import open_evaluation
from yiwang.intake.domain.personal_data import NoPhoneOnRecord, PersonalDataErased
from yiwang.intake.domain.submission import CaseSubmission
from yiwang.intake.entrypoints.bounds import in_range, parse_cursor
from yiwang.intake.entrypoints.formats import MalformedXml, parse_xml
from yiwang.intake.handlers.personal_data import CaseUnknown

POLICY = IntakePolicy.of(
    county_code="YQ", county_name="县", bbox=(113.2, 37.6, 113.9, 38.2), radius_m=250,
    window_hours=24,
)  # fmt: skip
VAULT = PersonalDataVault(DEVELOPMENT_PII_KEY)
NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
CREDENTIAL = "k1:a-secret-only-the-platform-and-intake-hold"
TOPIC = "intake.submissions.v1"


def person(*roles: Role, micro_grids: frozenset[str] = frozenset()) -> Actor:
    return Actor(id="u1", name="wang", roles=frozenset(roles), person=True,
                 micro_grids=micro_grids)  # fmt: skip


def body(channel: str, **extra: Any) -> CaseSubmission:
    fields: dict[str, Any] = {
        "channel": channel, "category": "sanitation", "title": "垃圾", "description": "未清运",
        "location": {"lon": 113.58, "lat": 37.86},
    }  # fmt: skip
    fields.update(extra)
    return CaseSubmission.model_validate(fields)


# --- who may submit and read ----------------------------------------------------------


def test_people_submit_for_the_channels_they_serve_only() -> None:
    hotline = {"hotline": {"call_id": "c1", "operator_id": "o1"}}
    callers.check_person_submission(body("hotline", **hotline), person(Role.HOTLINE_OPERATOR))
    callers.check_person_submission(body("petition", petition={"form": "visit"}),
                                     person(Role.HUB_OPERATOR))  # fmt: skip
    with pytest.raises(callers.ChannelNotServed) as refused:
        callers.check_person_submission(body("portal"), person(Role.HOTLINE_OPERATOR))
    assert refused.value.field == "channel"
    with pytest.raises(callers.SystemNotYours):
        callers.check_person_submission(
            body("hotline", **hotline, source={"system": "yq", "external_id": "1"}),
            person(Role.HOTLINE_OPERATOR),
        )


def test_a_grid_worker_reports_only_in_their_own_micro_grids() -> None:
    worker = person(Role.GRID_WORKER, micro_grids=frozenset({"mg-1"}))
    own = body("grid_worker", grid_worker={"worker_id": "gw", "micro_grid_hint": "mg-1"})
    callers.check_person_submission(own, worker)
    other = body("grid_worker", grid_worker={"worker_id": "gw", "micro_grid_hint": "mg-9"})
    with pytest.raises(callers.MicroGridNotYours) as refused:
        callers.check_person_submission(other, worker)
    assert isinstance(refused.value, Forbidden)


def test_a_grid_worker_on_the_roster_reports_as_themselves() -> None:
    worker = replace(person(Role.GRID_WORKER, micro_grids=frozenset({"mg-1"})), grid_worker="gw-1")
    callers.check_person_submission(
        body("grid_worker", grid_worker={"worker_id": "gw-1", "micro_grid_hint": "mg-1"}), worker
    )
    with pytest.raises(callers.WorkerNotYou) as refused:
        callers.check_person_submission(
            body("grid_worker", grid_worker={"worker_id": "gw-2", "micro_grid_hint": "mg-1"}),
            worker,
        )
    assert refused.value.field == "grid_worker.worker_id"


def test_a_platform_submits_as_its_systems_with_its_scopes() -> None:
    theirs = body("platform", source={"system": "yq-other", "external_id": "1"})
    with pytest.raises(callers.SystemNotYours) as refused:
        callers.check_platform_submission(theirs, platform="yq-12345",
                                          systems=frozenset({"yq-12345"}))  # fmt: skip
    assert refused.value.field == "source.system"
    callers.check_platform_submission(theirs, platform="p", systems=frozenset({"yq-other"}))
    with pytest.raises(callers.ScopeMissing, match="lacks the 'read' scope"):
        callers.check_scope(platform="p", scopes=frozenset({"submit"}), scope="read")


def test_readers() -> None:
    assert Reader.person(person(Role.AUDITOR)) == Reader(None, False)
    assert Reader.person(person(Role.HOTLINE_OPERATOR)).evaluations
    platform = Reader.platform(frozenset({"yq-12345"}))
    assert platform.may_read("yq-12345")
    assert not platform.may_read("person:wang")


# --- platforms' signed records --------------------------------------------------------


class Secrets:
    def __init__(self, **by_signer: dict[str, str]) -> None:
        self.by_signer = by_signer

    async def secrets_of(self, signers: Any, *, now: datetime) -> dict[str, dict[str, str]]:
        return {s: self.by_signer.get(s, {}) for s in signers}


SECRETS = Secrets(**{"yq-12345": dict([parse_credential(CREDENTIAL)])})


def command(external_id: str, system: str = "yq-12345", lon: float = 113.58) -> SubmitCase:
    return SubmitCase(
        source=SourceRef(system=system, external_id=external_id), category="sanitation",
        title=f"回电13912345678{external_id}", description="身份证140302198805061234，未清运",
        location=Location(lon=lon, lat=37.86),
        reporter=ReporterDetails(name="张三", phone="13812345678"),
    )  # fmt: skip


class Raw:
    """A consumed record, as aiokafka hands it over."""

    def __init__(self, record: KafkaRecord, offset: int) -> None:
        self.topic, self.partition, self.offset = record.topic, 0, offset
        self.key, self.value, self.headers = record.key, record.value, record.headers


class Intake:
    def __init__(self) -> None:
        self.uow = FakeIntakeUnitOfWork()
        self.numbers = FakeCaseNumberIssuer()
        self.clock = ManualClock(NOW)
        self.offset = 0

    async def consume(self, *records: KafkaRecord, now: datetime = NOW) -> list[Admitted | Refused]:
        raws = []
        for record in records:
            raws.append(Raw(record, self.offset))
            self.offset += 1
        return await self.consume_raw(raws, now=now)

    async def consume_raw(
        self, raws: list[Raw], *, now: datetime = NOW
    ) -> list[Admitted | Refused]:
        from yiwang.common.envelope import decode

        envelopes = [decode(r.value, r.headers) for r in raws]
        requests = await handlers.signed_requests(envelopes, raws, signing=SECRETS, now=now)
        return await handlers.admit_submissions(
            uow=self.uow, requests=requests, policy=POLICY, vault=VAULT, numbers=self.numbers,
            clock=self.clock,
        )  # fmt: skip

    def rejections(self) -> list[tuple[str, str]]:
        return [(e.errors[0].field, e.errors[0].reason)
                for e in self.uow.committed_of(SubmissionRejected)
                if isinstance(e, SubmissionRejected)]  # fmt: skip


def signed(cmd: SubmitCase, *, at: datetime = NOW, credential: str = CREDENTIAL) -> KafkaRecord:
    return signed_submission(cmd, credential=credential, topic=TOPIC, at=at)


async def test_only_records_their_platform_signed_recently_are_admitted() -> None:
    intake = Intake()
    plain: Envelope[Any] = Envelope(payload=command("unsigned"), source="/yq-12345")
    results = await intake.consume(
        signed(command("good")),
        encode(plain, topic=TOPIC),
        signed(command("stale"), at=NOW - timedelta(minutes=6)),
        signed(command("forged"), credential="k1:guessed"),
        signed(command("unknown-key"), credential="k9:whatever"),
        sign_record(encode(Envelope(payload=command("mismatch", "yq-other"), source="/x"),  # type: ignore[arg-type]
                           topic=TOPIC), signer="yq-12345", credential=CREDENTIAL, at=NOW),
    )  # fmt: skip
    assert isinstance(results[0], Admitted)
    reasons = [r.error.reason.split(":")[0] for r in results[1:] if isinstance(r, Refused)]
    assert reasons == ["unsigned", "stale", "bad_signature", "unknown_key", "signer_mismatch"]
    assert {field for field, _ in intake.rejections()} == {"yiwang-signature"}
    [case] = intake.uow.cases.cases.values()
    assert (case.submitted_by, case.source_system) == ("yq-12345", "yq-12345")
    [received] = [e for e in intake.uow.committed_of(CaseStateChanged)
                  if isinstance(e, CaseStateChanged)]  # fmt: skip
    assert received.actor == "platform:yq-12345"


async def test_a_replayed_record_is_refused_and_a_redelivered_one_is_passed_over() -> None:
    intake = Intake()
    record = signed(command("once"))
    [first] = await intake.consume(record)
    assert isinstance(first, Admitted)
    [replay] = await intake.consume(record)  # the same ce_id at another offset
    assert isinstance(replay, Refused)
    assert replay.error.reason.startswith("replayed:")
    [again] = await intake.consume_raw([Raw(record, 0)])  # the first record's offset again
    assert isinstance(again, Refused)
    assert not again.answered
    assert [r.split(":")[0] for _, r in intake.rejections()] == ["replayed"]
    assert len(intake.uow.cases.cases) == 1


# --- personal data --------------------------------------------------------------------


async def test_title_and_description_are_scrubbed_everywhere_and_sealed_as_sent() -> None:
    intake = Intake()
    [admitted] = await intake.consume(signed(command("pii")))
    assert isinstance(admitted, Admitted)
    case = intake.uow.cases.cases[admitted.case_id]
    assert (case.title, case.description) == ("回电[手机号]pii", "身份证[身份证号]，未清运")
    [received] = [e for e in intake.uow.committed_of(CaseReceived) if isinstance(e, CaseReceived)]
    assert (received.case.title, received.case.description) == (case.title, case.description)
    [reporter] = intake.uow.cases.reporters
    context = reporter.reporter_id.bytes
    assert VAULT.open(reporter.title_sealed, context=context) == "回电13912345678pii"
    assert (
        VAULT.open(reporter.description_sealed, context=context)
        == "身份证140302198805061234，未清运"
    )


async def test_a_call_back_unseals_the_phone_once_audited_and_erasure_ends_it() -> None:
    intake = Intake()
    [admitted] = await intake.consume(signed(command("call")))
    assert isinstance(admitted, Admitted)
    number = admitted.case_number
    found = await handlers.call_back(uow=intake.uow, vault=VAULT, ref=number,
                                     actor="person:op", reason="回访", now=NOW)  # fmt: skip
    assert found.phone == "13812345678"
    view, trail = await handlers.accesses(uow=intake.uow, ref=number)
    assert [(a.actor, a.action.value, a.reason) for a in trail] == [
        ("person:op", "unseal_phone", "回访")
    ]
    _, erased = await handlers.erase_case(uow=intake.uow, ref=number, actor="operator:x",
                                          reason="居民申请", now=NOW)  # fmt: skip
    assert erased
    with pytest.raises(PersonalDataErased):
        await handlers.call_back(uow=intake.uow, vault=VAULT, ref=number, actor="person:op",
                                 reason="回访", now=NOW)  # fmt: skip
    with pytest.raises(CaseUnknown):
        await handlers.call_back(uow=intake.uow, vault=VAULT, ref="YQ-0", actor="p", reason="r",
                                 now=NOW)  # fmt: skip
    anonymous = command("anon").model_copy(update={"reporter": ReporterDetails(anonymous=True)})
    [nobody] = await intake.consume(signed(anonymous, credential=CREDENTIAL))
    assert isinstance(nobody, Admitted)
    with pytest.raises(NoPhoneOnRecord):
        await handlers.call_back(uow=intake.uow, vault=VAULT, ref=nobody.case_number,
                                 actor="p", reason="r", now=NOW)  # fmt: skip
    assert view.case_number == number


async def test_evaluation_tokens_are_kept_sealed_and_shown_while_they_hold() -> None:
    intake = Intake()
    [admitted] = await intake.consume(signed(command("eval")))
    assert isinstance(admitted, Admitted)
    invited = EvaluationInvited(case_id=str(admitted.case_id), token="t" * 32,
                                expires_at=NOW + timedelta(days=3))  # fmt: skip
    assert await handlers.record_invitation(uow=intake.uow, envelope=Envelope(invited, "/o"),
                                            vault=VAULT)  # fmt: skip
    [(sealed, _, _)] = intake.uow.personal_data.invitations.values()
    assert b"t" * 32 not in sealed
    platform = Reader.platform(frozenset({"yq-12345"}))
    view = await handlers.get_case(uow=intake.uow, ref=admitted.case_number, reader=platform,
                                   vault=VAULT, now=NOW)  # fmt: skip
    assert view is not None
    assert view.evaluation is not None
    assert view.evaluation.token == "t" * 32
    other = Reader.platform(frozenset({"yq-other"}))
    assert await handlers.get_case(uow=intake.uow, ref=admitted.case_number, reader=other) is None
    auditor = await handlers.get_case(uow=intake.uow, ref=admitted.case_number,
                                      reader=Reader(None, False), vault=VAULT, now=NOW)  # fmt: skip
    assert auditor is not None
    assert auditor.evaluation is None
    assert open_evaluation("resolved", "t", NOW, now=NOW) is None  # expired
    assert open_evaluation("closed", "t", NOW + timedelta(1), now=NOW) is None
    assert open_evaluation("resolved", "t", NOW + timedelta(1), now=NOW) is not None
    stranger = EvaluationInvited(case_id=str(uuid.uuid4()), token="u" * 32, expires_at=NOW)
    assert not await handlers.record_invitation(uow=intake.uow, envelope=Envelope(stranger, "/o"),
                                                vault=VAULT)  # fmt: skip


# --- hostile input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "xml",
    [
        '<!DOCTYPE a [<!ENTITY b "bb"><!ENTITY c "&b;&b;&b;">]><case><title>&c;</title></case>',
        '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><case><title>&x;</title></case>',
        "<!DOCTYPE case [<!ELEMENT case ANY>]><case><title>t</title></case>",
        "<case><title>",
    ],
)
def test_xml_with_a_dtd_or_entities_is_refused(xml: str) -> None:
    with pytest.raises(MalformedXml):
        parse_xml(xml.encode())


def test_moments_and_cursors_stay_within_range() -> None:
    with pytest.raises(ValueError, match="2000-2100"):
        in_range(datetime(1, 1, 1))
    assert in_range(datetime(2026, 1, 1)).tzinfo is not None
    for bad in ("", "not base64!", "MDAwMQ==", "MDAwMS0wMS0wMVQwMDowMDowMHx4"):
        with pytest.raises(Problem) as refused:
            parse_cursor(bad)
        assert refused.value.status == 400
