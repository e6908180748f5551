"""Request and response bodies (the OpenAPI contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dvclab.catalog import Level, OnlineLevel
from dvclab.portal.models import ResultDelivery

NATIONAL_ID = r"^[0-9]{12}$"  # CCCD: 12 digits
RECEIPT_CODE = r"^HS[A-Z2-7]{16}$"
IDEMPOTENCY_KEY = r"^[A-Za-z0-9_\-]{8,64}$"

# The database keeps naive UTC; answers carry the zone so they are RFC 3339 date-times.
Timestamp = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcedureSummary(BaseModel):
    code: str
    name: str
    group: str
    level: Level
    agency: str
    online_level: OnlineLevel
    deadline_days: int
    fee_vnd: int


class ProcedureDetail(ProcedureSummary):
    requires_originals: bool


class CatalogPage(BaseModel):
    items: list[ProcedureSummary]
    page: int
    page_size: int
    total: int


class LoginRequest(Strict):
    national_id: str = Field(pattern=NATIONAL_ID, description="12-digit citizen identity number (CCCD)")
    password: str = Field(min_length=1, max_length=128)


class PhoneVerificationRequest(Strict):
    phone: str = Field(pattern=r"^0[0-9]{9}$", description="Vietnamese mobile number, 10 digits (09xxxxxxxx)")


class PhoneVerificationSent(BaseModel):
    verification_id: int
    phone: str
    expires_in: int


class PhoneCode(Strict):
    code: str = Field(pattern=r"^[0-9]{6}$", description="the 6-digit code received by SMS")


class PhoneVerified(BaseModel):
    phone: str
    verified: bool


class LoginResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


class DossierCreate(Strict):
    procedure_code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9\-]+$")
    delivery: ResultDelivery = ResultDelivery.ELECTRONIC
    note: str = Field(default="", max_length=1000)
    citizen: str | None = Field(
        default=None,
        pattern=NATIONAL_ID,
        description="whose dossier it is: an officer filing at the counter names the citizen (assisted "
        "filing); a citizen may name only themself",
    )


class FileInfo(BaseModel):
    id: int
    filename: str
    media_type: str
    size: int
    sha256: str
    created_at: Timestamp


class PaymentInfo(BaseModel):
    id: int
    dossier_id: int
    amount_vnd: int
    currency: str
    status: str
    gateway_ref: str
    checkout_url: str
    created_at: Timestamp
    paid_at: Timestamp | None


class StatusChange(BaseModel):
    status: str
    at: Timestamp


class DossierSummary(BaseModel):
    id: int
    procedure_code: str
    status: str
    receipt_code: str | None
    fee_vnd: int
    paid: bool
    file_count: int
    created_at: Timestamp
    submitted_at: Timestamp | None
    due_at: Timestamp | None
    overdue: bool
    channel: Literal["online", "assisted"] = Field(
        description="online: filed by the citizen; assisted: filed by an officer on their behalf"
    )


class DossierDetail(DossierSummary):
    owner_id: int
    delivery: str
    note: str
    officer_note: str
    received_at: Timestamp | None
    decided_at: Timestamp | None
    returned_at: Timestamp | None
    result_channel: str | None
    files: list[FileInfo]
    payment: PaymentInfo | None
    history: list[StatusChange]


class DossierPage(BaseModel):
    items: list[DossierSummary]
    page: int
    page_size: int
    total: int


class SubmitResponse(BaseModel):
    id: int
    status: str
    receipt_code: str
    submitted_at: Timestamp


class RatingRequest(Strict):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


class RatingResponse(BaseModel):
    dossier_id: int
    score: int
    comment: str


class TrackResponse(BaseModel):
    receipt_code: str
    procedure_code: str
    status: str
    submitted_at: Timestamp | None
    due_at: Timestamp | None
    overdue: bool


class Statistics(BaseModel):
    procedures: int
    procedures_full_online: int
    dossiers: int
    by_status: dict[str, int]
    decided: int
    decided_on_time: int
    on_time_rate: float | None
    overdue_open: int
    fee_dossiers: int
    paid_online: int
    filed_online: int = Field(description="dossiers past draft filed by their citizen online")
    filed_assisted: int = Field(description="dossiers past draft filed by an officer on the citizen's behalf")
    ratings: int
    rating_average: float | None
    generated_at: Timestamp


class SupplementRequest(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class DecisionRequest(Strict):
    outcome: Literal["approved", "rejected"]
    note: str = Field(default="", max_length=1000)


class ResultRequest(Strict):
    channel: ResultDelivery


class SyncItem(BaseModel):
    cursor: int
    receipt_code: str | None
    procedure_code: str
    status: str
    at: Timestamp


class SyncFeed(BaseModel):
    items: list[SyncItem]
    next_cursor: int


class CallbackAck(BaseModel):
    event_id: str
    applied: bool
    payment_status: str


class Health(BaseModel):
    status: str
