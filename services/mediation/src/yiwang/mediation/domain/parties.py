"""Parties to a dispute. Personal data is sealed; only masked values leave the store."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from yiwang.common.case import ReporterRef
from yiwang.common.personal_data import mask_id_number, mask_name, mask_phone


class PartyRole(StrEnum):
    APPLICANT = "applicant"  # 申请人
    RESPONDENT = "respondent"  # 被申请人


@dataclass(frozen=True, slots=True)
class PartyDetails:
    """Personal data as a mediator enters it; it exists only on its way to the vault."""

    name: str | None = None
    phone: str | None = None
    id_number: str | None = None


@dataclass
class Party:
    party_id: str
    mediation_id: str
    role: PartyRole
    name_masked: str | None = None
    phone_masked: str | None = None
    id_number_masked: str | None = None
    reporter_id: str | None = None  # intake's reference, for a reporter who is a party
    # AES-GCM sealed values (nonce + ciphertext), bound to party_id.
    name_sealed: bytes | None = None
    phone_sealed: bytes | None = None
    id_number_sealed: bytes | None = None


class UnknownParty(LookupError):
    def __init__(self, mediation_id: str, party_id: str) -> None:
        self.mediation_id = mediation_id
        self.party_id = party_id
        super().__init__(f"mediation {mediation_id} has no party '{party_id}'")


def check_found_party(party: Party | None, *, mediation_id: str, party_id: str) -> Party:
    if party is None:
        raise UnknownParty(mediation_id, party_id)
    return party


def mask(party: Party, details: PartyDetails) -> None:
    """Set the masked values from what was entered (only the fields given change)."""
    if details.name is not None:
        party.name_masked = mask_name(details.name)
    if details.phone is not None:
        party.phone_masked = mask_phone(details.phone)
    if details.id_number is not None:
        party.id_number_masked = mask_id_number(details.id_number)


def from_reporter(reporter: ReporterRef, *, party_id: str, mediation_id: str) -> Party:
    """A named reporter is the applicant; intake keeps the reporter's personal data."""
    return Party(
        party_id=party_id,
        mediation_id=mediation_id,
        role=PartyRole.APPLICANT,
        name_masked=reporter.name_masked,
        phone_masked=reporter.phone_masked,
        reporter_id=reporter.reporter_id,
    )
