from booking.models.applications import (
    AiActRisk,
    Application,
    ApplicationDecision,
    ApplicationRequest,
    ApplicationState,
    ApplicationTeamMember,
)
from booking.models.calls import (
    Call,
    CallKind,
    CallPool,
    CallState,
    CallStatus,
    ReviewCriterion,
)
from booking.models.capacity import (
    HARD_MAX_BOOKING_HOURS,
    LIVE_BOOKING_STATES,
    BookingState,
    CalendarFeed,
    CapacityAuditAction,
    CapacityAuditEntry,
    CapacityBooking,
    CapacityHour,
    CapacityPolicy,
)
from booking.models.gpu_types import GpuType
from booking.models.ledger import LedgerCheckpoint, LedgerEntry, LedgerEntryKind
from booking.models.notifications import Notification
from booking.models.projects import (
    Allocation,
    Project,
    ProjectAuditAction,
    ProjectAuditEntry,
    ProjectInvitation,
    ProjectMember,
    ProjectRole,
    ProjectState,
)
from booking.models.queue import QueueOutlook, QueueStanding
from booking.models.reviews import REVIEWERS_GROUP, ReviewAssignment, ReviewScore

__all__ = [
    "REVIEWERS_GROUP",
    "AiActRisk",
    "Allocation",
    "Application",
    "ApplicationDecision",
    "ApplicationRequest",
    "ApplicationState",
    "ApplicationTeamMember",
    "Call",
    "CallKind",
    "CallPool",
    "CallState",
    "CallStatus",
    "GpuType",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerEntryKind",
    "Notification",
    "Project",
    "ProjectAuditAction",
    "ProjectAuditEntry",
    "ProjectInvitation",
    "ProjectMember",
    "ProjectRole",
    "ProjectState",
    "QueueOutlook",
    "QueueStanding",
    "ReviewAssignment",
    "ReviewCriterion",
    "ReviewScore",
]

from booking.models.admission import (
    AdmissionCycle,
    AdmissionReservation,
    FairShareUsage,
    ReconcileCursor,
)
from booking.models.energy import (
    EnergyKind,
    EnergyMethod,
    EnergyMonthTotal,
    EnergyProjectMonthTotal,
    EnergyRecomputation,
    EnergyRecord,
    GpuEnergyFactors,
    SiteEnergyFactors,
)
from booking.models.jobs import (
    ACTIVE_STATES,
    FINAL_STATES,
    JOB_TRANSITIONS,
    ClusterCancel,
    Job,
    JobEvent,
    JobReason,
    JobState,
    job_states_into,
)
from booking.models.simulator import (
    SimulatedClock,
    SimulatedJob,
    SimulatedJobState,
    SimulatedPartition,
    SimulatedReservation,
)

__all__ += [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "JOB_TRANSITIONS",
    "AdmissionCycle",
    "AdmissionReservation",
    "ClusterCancel",
    "FairShareUsage",
    "Job",
    "JobEvent",
    "JobReason",
    "JobState",
    "ReconcileCursor",
    "SimulatedClock",
    "SimulatedJob",
    "SimulatedJobState",
    "SimulatedPartition",
    "SimulatedReservation",
    "job_states_into",
]

__all__ += [
    "HARD_MAX_BOOKING_HOURS",
    "LIVE_BOOKING_STATES",
    "BookingState",
    "CalendarFeed",
    "CapacityAuditAction",
    "CapacityAuditEntry",
    "CapacityBooking",
    "CapacityHour",
    "CapacityPolicy",
]

__all__ += [
    "EnergyKind",
    "EnergyMethod",
    "EnergyMonthTotal",
    "EnergyProjectMonthTotal",
    "EnergyRecomputation",
    "EnergyRecord",
    "GpuEnergyFactors",
    "SiteEnergyFactors",
]
