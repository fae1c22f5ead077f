from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)
    born = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200, db_index=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    isbn = models.CharField(max_length=13, unique=True)
    pages = models.PositiveIntegerField(default=0)
    published = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["published", "title"], name="library_book_pub_title")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pages__lt=100000), name="library_book_pages_sane"
            )
        ]

    def __str__(self) -> str:
        return self.title
