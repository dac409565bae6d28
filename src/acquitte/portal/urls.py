from django.contrib.auth import views as auth
from django.urls import path, reverse_lazy

from . import account_views, domains_views, services_views, views
from .forms import OutboxPasswordResetForm

app_name = "portal"

urlpatterns = [
    path("", account_views.home, name="home"),
    path(
        "connexion/",
        auth.LoginView.as_view(template_name="portal/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("deconnexion/", auth.LogoutView.as_view(next_page=reverse_lazy("portal:login")), name="logout"),
    path(
        "mot-de-passe/",
        auth.PasswordResetView.as_view(
            template_name="portal/password_reset_form.html",
            email_template_name="portal/password_reset_email.txt",
            subject_template_name="portal/password_reset_subject.txt",
            form_class=OutboxPasswordResetForm,
            success_url=reverse_lazy("portal:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "mot-de-passe/envoye/",
        auth.PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "mot-de-passe/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(
            template_name="portal/password_reset_confirm.html",
            success_url=reverse_lazy("portal:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "mot-de-passe/termine/",
        auth.PasswordResetCompleteView.as_view(template_name="portal/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("factures/", account_views.invoice_list, name="invoices"),
    path("factures/<int:pk>/", account_views.invoice_detail, name="invoice_detail"),
    path("factures/<int:pk>/pdf/", account_views.invoice_pdf, name="invoice_pdf"),
    path("factures/<int:pk>/payer/<str:kind>/", account_views.invoice_pay, name="invoice_pay"),
    path("facturation/", account_views.billing, name="billing"),
    path("facturation/moyens/<int:pk>/<str:action>/", account_views.method_action, name="method_action"),
    path(
        "facturation/moyens/ajout/<str:key>/", account_views.method_setup_return, name="method_setup_return"
    ),
    path(
        "facturation/confirmation/<str:key>/",
        account_views.payment_authenticated,
        name="payment_authenticated",
    ),
    path("conditions/", account_views.first_login, name="first_login"),
    path("conditions/paiement/", account_views.first_login_payment, name="first_login_payment"),
    path("services/", services_views.services, name="services"),
    path("commandes/<int:pk>/", services_views.order_detail, name="order_detail"),
    path("domaines/", domains_views.domains, name="domains"),
    path("domaines/<int:pk>/", domains_views.domain_detail, name="domain_detail"),
    path("i/<str:token>/", views.public_invoice, name="public_invoice"),
    path("i/<str:token>/payer/<str:kind>/", views.public_pay, name="public_pay"),
    path("i/<str:token>/declarer/", views.public_declare, name="public_declare"),
]
