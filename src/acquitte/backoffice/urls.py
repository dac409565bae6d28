from django.urls import path

from .views import builder, catalogue, customers, home, invoices, outbox, quotes, security, settings

app_name = "backoffice"

urlpatterns = [
    path("", home.home, name="home"),
    path("<str:doc>/<int:pk>/lignes/", builder.builder, name="builder"),
    path("<str:doc>/<int:pk>/lignes/ajouter/", builder.builder_add, name="builder_add"),
    path("<str:doc>/<int:pk>/lignes/produit/", builder.builder_new_product, name="builder_new_product"),
    path("<str:doc>/<int:pk>/lignes/<int:line_pk>/", builder.builder_line, name="builder_line"),
    path("<str:doc>/<int:pk>/lignes/<int:line_pk>/retirer/", builder.builder_remove, name="builder_remove"),
    path("notifications/", home.notification_list, name="notifications"),
    path("notifications/lues/", home.notifications_read, name="notifications_read"),
    path("clients/", customers.customer_list, name="customers"),
    path("clients/nouveau/", customers.customer_edit, name="customer_new"),
    path("clients/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("clients/<int:pk>/modifier/", customers.customer_edit, name="customer_edit"),
    path("clients/<int:pk>/ajouter/<str:what>/", customers.customer_add, name="customer_add"),
    path(
        "clients/<int:pk>/adresses/<int:address_pk>/defaut/",
        customers.address_default,
        name="address_default",
    ),
    path(
        "clients/<int:pk>/<str:what>/<int:part_pk>/", customers.customer_part_edit, name="customer_part_edit"
    ),
    path(
        "clients/<int:pk>/<str:what>/<int:part_pk>/supprimer/",
        customers.customer_part_remove,
        name="customer_part_remove",
    ),
    path("catalogue/", catalogue.product_list, name="products"),
    path("catalogue/nouveau/", catalogue.product_edit, name="product_new"),
    path("catalogue/<int:pk>/", catalogue.product_edit, name="product_edit"),
    path("soumissions/", quotes.quote_list, name="quotes"),
    path("soumissions/nouvelle/", quotes.quote_new, name="quote_new"),
    path("soumissions/<int:pk>/", quotes.quote_detail, name="quote_detail"),
    path("soumissions/<int:pk>/revision/", quotes.quote_review, name="quote_review"),
    path("soumissions/<int:pk>/pdf/", quotes.quote_pdf, name="quote_pdf"),
    path("soumissions/<int:pk>/<str:action>/", quotes.quote_action, name="quote_action"),
    path("factures/", invoices.invoice_list, name="invoices"),
    path("factures/nouvelle/", invoices.invoice_new, name="invoice_new"),
    path("factures/<int:pk>/", invoices.invoice_detail, name="invoice_detail"),
    path("factures/<int:pk>/pdf/", invoices.invoice_pdf, name="invoice_pdf"),
    path("factures/<int:pk>/paiement/", invoices.invoice_record_payment, name="invoice_record_payment"),
    path("factures/<int:pk>/<str:action>/", invoices.invoice_action, name="invoice_action"),
    path("reglages/paiement/", settings.payment_settings, name="payment_settings"),
    path("reglages/paiement/defaut/", settings.online_default, name="online_default"),
    path("reglages/paiement/<str:provider>/connecter/", settings.connect, name="provider_connect"),
    path("reglages/paiement/<str:provider>/deconnecter/", settings.disconnect, name="provider_disconnect"),
    path("paiements/<int:pk>/rembourser/", invoices.payment_refund, name="payment_refund"),
    path("securite/connexions/", security.lockouts, name="lockouts"),
    path("securite/connexions/<int:pk>/debloquer/", security.unlock, name="unlock"),
    path("messages/", outbox.outbox, name="outbox"),
    path("messages/<int:pk>/", outbox.message_detail, name="message"),
    path("messages/<int:pk>/renvoyer/", outbox.message_retry, name="message_retry"),
]
