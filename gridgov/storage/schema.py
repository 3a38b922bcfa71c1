"""Every model, imported in one place so that Alembic and the test suite see the whole schema."""

from gridgov.audit.models import AuditRecord  # noqa: F401
from gridgov.findings.models import (  # noqa: F401
    DeadlineRule,
    Finding,
    FindingCategory,
    FindingEvent,
    FindingPhoto,
    RoutingRule,
)
from gridgov.grids.models import County, Resource, Unit, UnitCode, UnitVersion  # noqa: F401
from gridgov.notifications.models import Notification  # noqa: F401
from gridgov.patrols.models import (  # noqa: F401
    ChecklistItem,
    Patrol,
    PatrolCheck,
    PatrolRule,
    TrackBatch,
    TrackFix,
)
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Person, RoleGrant, User  # noqa: F401
from gridgov.planning.models import ChangeSet  # noqa: F401
from gridgov.storage.db import Base  # noqa: F401
