from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("documents/factures/<int:pk>/<str:filename>.pdf", views.staff_pdf, name="staff_pdf"),
    path("documents/factures/<int:pk>/impression/", views.staff_print, name="staff_print"),
    path("i/<str:token>/pdf/", views.public_pdf, name="public_pdf"),
]
