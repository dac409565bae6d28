from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, report
from acquitte.customers.models import Organisation
from acquitte.payments import selectors as payment_selectors
from acquitte.payments import services as payments
from acquitte.payments.models import ProviderAccount
from acquitte.payments.providers.names import ProviderName
from acquitte.payments.providers.oauth import SIGNUP as OAUTH_SIGNUP

from ..access import staff_required
from ..forms import PROVIDER_FIELDS, OnlinePaymentDefaultForm, ProviderForm

PROVIDERS = [
    ("stripe", "Stripe", gettext_lazy("Cartes bancaires (Visa, Mastercard, Amex)")),
    ("gocardless", "GoCardless", gettext_lazy("Prélèvement bancaire (SEPA, PAD, ACH)")),
    ("paypal", "PayPal", gettext_lazy("Paiement par compte PayPal")),
]
LABELS = {key: name for key, name, _purpose in PROVIDERS}


def _rows(
    organisation: Organisation, forms: dict[str, ProviderForm] | None = None
) -> tuple[ProviderAccount | None, list[dict[str, Any]]]:
    accounts = payment_selectors.provider_accounts(organisation)
    forms = forms or {}
    oauth = payments.oauth_providers()
    rows = [
        {
            "key": key,
            "name": name,
            "purpose": purpose,
            "account": accounts.get(key),
            "masked": payment_selectors.masked_credentials(accounts[key]) if key in accounts else {},
            "form": forms.get(key) or ProviderForm(provider=key),
            "oauth": key in oauth,
            "signup": key in oauth and key in OAUTH_SIGNUP,
            "webhook_url": settings.PUBLIC_BASE_URL.rstrip("/")
            + reverse("payments:webhook", args=[key, organisation.slug]),
        }
        for key, name, purpose in PROVIDERS
    ]
    return accounts.get("sandbox"), rows


@staff_required
def payment_settings(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    return _page(request, organisation)


def _page(
    request: AuthenticatedHttpRequest,
    organisation: Organisation,
    forms: dict[str, ProviderForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    sandbox, rows = _rows(organisation, forms)
    return render(
        request,
        "backoffice/payment_settings.html",
        {
            "sandbox": sandbox,
            "providers": rows,
            "default_form": OnlinePaymentDefaultForm(
                initial={"online_payment_default": organisation.online_payment_default}
            ),
            "can_manage": request.user.can_manage_settings,
        },
        status=status,
    )


@require_POST
@staff_required
def connect(request: AuthenticatedHttpRequest, provider: str, *, organisation: Organisation) -> HttpResponse:
    if provider == ProviderName.SANDBOX:
        try:
            payments.connect_provider(
                organisation=organisation, provider=ProviderName.SANDBOX, credentials={}, actor=request.user
            )
        except BusinessError as exc:
            report(request, exc)
        return redirect("backoffice:payment_settings")
    if provider not in PROVIDER_FIELDS:
        raise Http404
    form = ProviderForm(request.POST, provider=provider)
    if form.is_valid():
        data = dict(form.cleaned_data)
        mode = data.pop("mode", "")
        try:
            account = payments.connect_provider(
                organisation=organisation, provider=provider, credentials=data, mode=mode, actor=request.user
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            messages.success(
                request,
                _("%(provider)s est connecté (%(mode)s).")
                % {"provider": provider.capitalize(), "mode": account.get_mode_display()},
            )
            return redirect("backoffice:payment_settings")
    return _page(request, organisation, forms={provider: form}, status=400)


@require_POST
@staff_required
def oauth_start(
    request: AuthenticatedHttpRequest, provider: str, *, organisation: Organisation
) -> HttpResponse:
    """A POST (CSRF-checked) that sends the owner to the provider's consent page."""
    return_url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "backoffice:provider_oauth_return", args=[provider]
    )
    try:
        url = payments.start_connect(
            organisation=organisation,
            provider=provider,
            actor=request.user,
            return_url=return_url,
            signup=request.POST.get("signup") == "1",
        )
    except BusinessError as exc:
        report(request, exc)
        return redirect("backoffice:payment_settings")
    return redirect(url)


@staff_required
def oauth_return(
    request: AuthenticatedHttpRequest, provider: str, *, organisation: Organisation
) -> HttpResponse:
    """Where the provider sends the owner back, with a code (or PayPal's ids) and our state."""
    params = {key: request.GET.get(key, "") for key in request.GET}
    try:
        account = payments.finish_connect(
            organisation=organisation,
            provider=provider,
            state=params.pop("state", ""),
            params=params,
            actor=request.user,
        )
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(
            request,
            _("%(provider)s est connecté (%(mode)s).")
            % {"provider": LABELS.get(provider, provider), "mode": account.get_mode_display()},
        )
    return redirect("backoffice:payment_settings")


@require_POST
@staff_required
def disconnect(
    request: AuthenticatedHttpRequest, provider: str, *, organisation: Organisation
) -> HttpResponse:
    try:
        revoked = payments.disconnect_provider(
            organisation=organisation, provider=provider, actor=request.user
        )
    except BusinessError as exc:
        report(request, exc)
    else:
        if revoked:
            messages.success(request, _("Prestataire déconnecté."))
        else:
            messages.warning(
                request,
                _(
                    "Prestataire déconnecté, mais %(provider)s n'a pas pu être joint pour retirer "
                    "l'accès de ce site : retirez-le depuis votre tableau de bord %(provider)s."
                )
                % {"provider": LABELS.get(provider, provider)},
            )
    return redirect("backoffice:payment_settings")


@require_POST
@staff_required
def online_default(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    form = OnlinePaymentDefaultForm(request.POST)
    form.is_valid()
    try:
        payments.set_online_payment_default(
            organisation=organisation,
            offered=form.cleaned_data.get("online_payment_default", False),
            actor=request.user,
        )
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(request, _("Réglage enregistré."))
    return redirect("backoffice:payment_settings")
