from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("i/<str:token>/", views.public_invoice, name="public_invoice"),
    path("i/<str:token>/payer/<str:kind>/", views.public_pay, name="public_pay"),
    path("i/<str:token>/declarer/", views.public_declare, name="public_declare"),
]
