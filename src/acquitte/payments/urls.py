from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("webhooks/<slug:provider>/<slug:organisation>/", views.webhook, name="webhook"),
]
