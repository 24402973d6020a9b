from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("<int:pk>/", lambda request, pk: HttpResponse(""), name="sweep_detail")]
