from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("webhooks-recus/", views.received_webhooks, name="received_webhooks"),
    path("webhooks/<slug:organisation>/", views.receive, name="webhook_receiver"),
]
