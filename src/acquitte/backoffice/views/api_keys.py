"""The organisation's API keys: made and revoked by the owner, listed read-only for other staff."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from acquitte.api import selectors, services
from acquitte.api.models import KEY_START, ApiKey
from acquitte.core.actors import describe_actor_label
from acquitte.core.errors import BusinessError
from acquitte.core.http import AuthenticatedHttpRequest, report
from acquitte.customers.models import Organisation

from ..access import owned, staff_required

#: What the example request of a new key calls.
EXAMPLE_PATH = "/api/v1/customers"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Nom"),
        max_length=80,
        help_text=gettext_lazy("Pour vous y retrouver : le programme ou le service qui l'utilise."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scope = forms.ChoiceField(
        label=gettext_lazy("Portée"), choices=ApiKey.Scope.choices, initial=ApiKey.Scope.READ
    )


def _list_page(
    request: AuthenticatedHttpRequest,
    organisation: Organisation,
    form: ApiKeyForm,
    *,
    status: int = 200,
    new_key: ApiKey | None = None,
    token: str = "",
) -> HttpResponse:
    rows = [(key, describe_actor_label(key.created_by)) for key in selectors.api_keys_of(organisation)]
    response = render(
        request,
        "backoffice/api_key_list.html",
        {
            "rows": rows,
            "form": form,
            "key_start": KEY_START,
            "new_key": new_key,
            "token": token,
            "example_url": request.build_absolute_uri(EXAMPLE_PATH),
        },
        status=status,
    )
    if token:
        add_never_cache_headers(response)  # the only page that ever holds the key's text
    return response


@staff_required
def api_key_list(request: AuthenticatedHttpRequest, *, organisation: Organisation) -> HttpResponse:
    if request.method != "POST":
        return _list_page(request, organisation, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, token = services.create_api_key(
                organisation=organisation,
                actor=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
            )
        except BusinessError as exc:
            report(request, exc, form)
        else:
            # Shown on this answer only: never in a URL, a redirect or the session.
            return _list_page(request, organisation, ApiKeyForm(), new_key=key, token=token)
    return _list_page(request, organisation, form, status=400)


@staff_required
def api_key_revoke(request: AuthenticatedHttpRequest, pk: int, *, organisation: Organisation) -> HttpResponse:
    """A confirmation page, then the revocation."""
    key = owned(ApiKey, organisation, pk)
    if request.method != "POST":
        if not request.user.can_manage_settings:
            raise PermissionDenied(_("Seul le propriétaire peut modifier ces réglages."))
        if key.revoked_at is not None:
            messages.info(request, _("Cette clé est déjà révoquée."))
            return redirect("backoffice:api_keys")
        return render(request, "backoffice/api_key_revoke.html", {"key": key, "key_start": KEY_START})
    try:
        services.revoke_api_key(key=key, actor=request.user)
    except BusinessError as exc:
        report(request, exc)
    else:
        messages.success(
            request, _("Clé « %(name)s » révoquée : elle ne donne plus accès à l'API.") % {"name": key.name}
        )
    return redirect("backoffice:api_keys")
