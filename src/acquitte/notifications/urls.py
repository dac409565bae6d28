from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("webhooks/sms/twilio/", views.sms_status, name="sms_status"),
]
