from booking.models.gpu_types import GpuType
from booking.models.ledger import LedgerEntry, LedgerEntryKind
from booking.models.projects import Allocation, Project, ProjectMember, ProjectRole, ProjectState

__all__ = [
    "Allocation",
    "GpuType",
    "LedgerEntry",
    "LedgerEntryKind",
    "Project",
    "ProjectMember",
    "ProjectRole",
    "ProjectState",
]
