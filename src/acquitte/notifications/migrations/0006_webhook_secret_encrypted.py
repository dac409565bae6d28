from django.db import migrations, models

from acquitte.core.crypto import encrypt_text


def encrypt_secrets(apps, schema_editor):
    """Secrets written in clear before this migration are encrypted in place."""
    endpoints = apps.get_model("notifications", "WebhookEndpoint")
    for endpoint in endpoints.objects.filter(secret_encrypted__startswith="whsec_"):
        endpoint.secret_encrypted = encrypt_text(endpoint.secret_encrypted)
        endpoint.save(update_fields=["secret_encrypted"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0005_webhook_attempt_headers")]

    operations = [
        migrations.RenameField("webhookendpoint", "secret", "secret_encrypted"),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret_encrypted",
            field=models.CharField(editable=False, max_length=255),
        ),
        migrations.RunPython(encrypt_secrets, migrations.RunPython.noop),
    ]
