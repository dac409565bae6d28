"""``field__any_of=[…]``: a long list of ids as one parameter.

``__in`` sends one placeholder per value and PostgreSQL plans the list as written; a chunk of a
billing run asks for a few thousand subscriptions at once. On PostgreSQL this lookup sends a single
array (``= ANY(%s)``), whose length the planner reads; elsewhere it is ``__in``.
"""

from typing import TYPE_CHECKING, Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In

if TYPE_CHECKING:
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: BaseDatabaseWrapper) -> "_AsSqlType":
        field = self.lhs.output_field
        array: Any = [field.get_db_prep_value(v, connection) for v in value]  # one parameter: the list
        return "%s", (array,)

    def as_postgresql(self, compiler: "SQLCompiler", connection: BaseDatabaseWrapper) -> "_AsSqlType":
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)

    def as_sql(self, compiler: "SQLCompiler", connection: BaseDatabaseWrapper) -> "_AsSqlType":
        return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
