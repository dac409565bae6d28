from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_webhook_event_unique_per_organisation"),
    ]

    operations = [
        migrations.AddField(
            model_name="provideraccount",
            name="connected_by_oauth",
            field=models.BooleanField(default=False, verbose_name="connecté par OAuth"),
        ),
        migrations.AddField(
            model_name="provideraccount",
            name="external_account_id",
            field=models.CharField(
                blank=True, max_length=100, verbose_name="identifiant chez le prestataire"
            ),
        ),
    ]
