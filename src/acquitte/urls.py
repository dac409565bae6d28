from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Acquitte — back-office")
admin.site.site_title = "Acquitte"
admin.site.index_title = _("Administration")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("acquitte.api.urls")),
    path("", include("acquitte.notifications.urls")),
    path("", include("acquitte.payments.urls")),
    path("", include("acquitte.documents.urls")),
    path("", include("acquitte.portal.urls")),
    path("", include("acquitte.quotes.urls")),
    path("gestion/", include("acquitte.backoffice.urls")),
    path("demo/", include("acquitte.demo.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
