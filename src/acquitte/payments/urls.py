from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    # Before the organisation's own route, which would read "platform" as a provider.
    path("webhooks/platform/<slug:provider>/", views.platform_webhook, name="platform_webhook"),
    path("webhooks/<slug:provider>/<slug:organisation>/", views.webhook, name="webhook"),
    path("payer/retour/<str:ticket>/", views.hosted_return, name="hosted_return"),
    path("sandbox/card/<str:session>/", views.sandbox_card, name="sandbox_card"),
    path("sandbox/paypal/<str:session>/", views.sandbox_paypal, name="sandbox_paypal"),
    path("sandbox/debit/<str:session>/", views.sandbox_debit, name="sandbox_debit"),
    path("sandbox/enregistrer/<str:reference>/", views.sandbox_setup, name="sandbox_setup"),
]
