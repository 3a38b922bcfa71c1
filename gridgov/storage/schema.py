"""Every model, imported in one place so that Alembic and the test suite see the whole schema."""

from gridgov.grids.models import County, Resource, Unit  # noqa: F401
from gridgov.people.models import ChiefAssignment, OfficerAssignment, Person  # noqa: F401
from gridgov.storage.db import Base  # noqa: F401
