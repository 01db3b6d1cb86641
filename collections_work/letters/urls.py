"""Letters routes: the print batches staff download and mark mailed."""
from django.urls import path

from collections_work.letters import views

urlpatterns = [
    path("letters/", views.print_batch_list, name="print_batch_list"),
    path("letters/batch-now/", views.print_batch_now, name="print_batch_now"),
    path("letters/<int:pk>/pdf/", views.print_batch_file, name="print_batch_file"),
    path("letters/<int:pk>/mailed/", views.print_batch_mailed, name="print_batch_mailed"),
]
