from django.db import models


class RenderedDocument(models.Model):
    """A finalised document's PDF, rendered once and kept; the hash covers every input."""

    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.CASCADE, related_name="rendered")
    sha256 = models.CharField(max_length=64)
    pdf = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "sha256"], name="rendered_once_per_content")
        ]

    def __str__(self) -> str:
        return f"{self.invoice} {self.sha256[:12]}"
