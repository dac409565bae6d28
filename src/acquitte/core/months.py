"""Calendar months as the dashboard counts them: each named by its first day."""

import datetime


def month_starts(last: datetime.date, count: int) -> list[datetime.date]:
    """The first days of the ``count`` months that end with ``last``'s month, oldest first."""
    index = last.year * 12 + last.month - 1
    return [datetime.date((i // 12), i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]
