from django.urls import path

from . import views

app_name = "quotes"

urlpatterns = [
    path("q/<str:token>/", views.public_quote, name="public"),
    path("q/<str:token>/approuver/", views.public_approve, name="public_approve"),
    path("q/<str:token>/refuser/", views.public_decline, name="public_decline"),
    path("q/<str:token>/pdf/", views.public_pdf, name="public_pdf"),
]
