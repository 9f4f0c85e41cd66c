"""Base classes shared by the API modules."""

from typing import Any, cast

from django.db.models import Model, QuerySet
from rest_framework.request import Request

from accounts.models import User


def user_of(request: Request) -> User:
    """The signed-in user: every API view requires authentication unless it says otherwise."""
    return cast(User, request.user)


class UserScopedMixin:
    """A view whose rows are scoped to the signed-in user by ``scoped_queryset(user)``.

    During OpenAPI schema generation there is no user: the view then reports an empty queryset
    of ``model`` so drf-spectacular can still learn the model and its path parameters.
    """

    model: type[Model]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.model._default_manager.none()
        return self.scoped_queryset(user_of(self.request))  # type: ignore[attr-defined]

    def scoped_queryset(self, user: User) -> QuerySet[Any]:
        raise NotImplementedError
