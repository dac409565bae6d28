"""Shapes shared by the API's resources: money as decimal strings, pages with their cursor,
the problem document."""

from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

#: An amount as it travels: a decimal string, never a float ("1234.50").
MoneyIn = Annotated[str, Field(pattern=r"^-?\d{1,12}(\.\d{1,2})?$", examples=["1234.50"])]
#: A quantity: up to four decimals ("0.5", "12").
QuantityIn = Annotated[str, Field(pattern=r"^\d{1,10}(\.\d{1,4})?$", examples=["1", "0.5"])]
#: Free text of a form field: no NUL byte (PostgreSQL refuses them, people never mean them).
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


class FieldError(Schema):
    field: str
    message: str
    type: str = ""


class Problem(Schema):
    """RFC 9457: ``type`` is stable per error, ``title`` in the caller's language."""

    type: str = Field(examples=["urn:acquitte:problem:invalid_input"])
    title: str
    status: int
    code: str
    detail: str = ""
    errors: list[FieldError] = []


#: The problems every operation may answer, for the OpenAPI document.
PROBLEMS: dict[int, Any] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
    429: Problem,
}
