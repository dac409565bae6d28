from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from acquitte.core.charts import bar_chart
from acquitte.core.http import AuthenticatedHttpRequest, paginate
from acquitte.core.money import ZERO
from acquitte.customers.models import Organisation
from acquitte.invoicing.selectors import (
    MonthFigure,
    issued_per_month,
    largest_overdue,
    receivables_by_age,
    staff_invoices,
)
from acquitte.notifications import selectors as notes
from acquitte.notifications import services as notify
from acquitte.payments.selectors import received_per_month
from acquitte.quotes.models import Quote
from acquitte.quotes.selectors import quotes_for_organisation
from acquitte.subscriptions.selectors import monthly_recurring_revenue

from ..access import staff_required

#: How each age band of what is owed reads.
AGE_LABELS = {
    "not_due": pgettext_lazy("age", "Pas échu"),
    "1-30": pgettext_lazy("age", "1–30 j"),
    "31-60": pgettext_lazy("age", "31–60 j"),
    "61-90": pgettext_lazy("age", "61–90 j"),
    "90+": pgettext_lazy("age", "+ de 90 j"),
}


@dataclass(frozen=True)
class Chart:
    """A chart and the rows of the table under it: (label, amount, count)."""

    image: str
    rows: list[tuple[str, Decimal, int]]


def _chart(rows: list[tuple[str, Decimal, int]], labels: list[str] | None = None) -> Chart:
    """Bars labelled in whole units of the currency, which the caption names; ``labels`` are the
    bars' own when the table's are too long for them."""

    def money(value: float) -> str:
        return number_format(round(value), decimal_pos=0, force_grouping=True)

    return Chart(
        image=bar_chart(
            labels=labels or [label for label, _amount, _count in rows],
            values=[amount for _label, amount, _count in rows],
            value_formatter=money,
        ),
        rows=rows,
    )


def _months(figures: list[MonthFigure]) -> Chart:
    """Months by their short name on the bars, with the year in the table under them."""
    return _chart(
        [(date_format(m.month, "YEAR_MONTH_FORMAT"), m.amount, m.count) for m in figures],
        labels=[date_format(m.month, "M") for m in figures],
    )


@staff_required
def home(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    today = timezone.localdate()
    ages = receivables_by_age(organisation, today=today)
    received = received_per_month(organisation, today=today)
    issued = issued_per_month(organisation, today=today)
    return render(
        request,
        "backoffice/home.html",
        {
            "open_quotes": quotes_for_organisation(organisation).filter(
                status__in=[Quote.Status.SENT, Quote.Status.VIEWED]
            )[:5],
            "drafts": quotes_for_organisation(organisation, status=Quote.Status.DRAFT)[:5],
            "overdue": staff_invoices(organisation, status="overdue", sort="due_date")[:5],
            "notifications": notes.notifications(organisation=organisation)[:5],
            "owed": sum((band.amount for band in ages), ZERO),
            "ages": _chart([(str(AGE_LABELS[b.key]), b.amount, b.count) for b in ages]),
            "received": _months(received),
            "issued": _months(issued),
            "largest_overdue": largest_overdue(organisation, today=today),
            "mrr": monthly_recurring_revenue(organisation),
            "currency": organisation.currency,
        },
    )


@staff_required
def notification_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    page = paginate(request, notes.notifications(organisation=organisation))
    return render(request, "backoffice/notifications.html", {"page": page})


@require_POST
@staff_required
def notifications_read(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    count = notify.mark_read(organisation=organisation, actor=request.user)
    messages.success(request, _("%(n)s notification(s) marquée(s) comme lue(s).") % {"n": count})
    return redirect("backoffice:notifications")
