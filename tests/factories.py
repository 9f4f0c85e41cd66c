"""factory-boy factories for the accounts domain."""

from datetime import date, timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.models import (
    Membership,
    MembershipRole,
    Organisation,
    OrganisationDomain,
    OrganisationKind,
    User,
    VerificationState,
)


class UserFactory(factory.django.DjangoModelFactory):
    """A user whose e-mail is confirmed (use ``confirmed=False`` for a fresh sign-up)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def confirmed(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.UNIVERSITY
    country = "NO"
    founded_on = date(1990, 1, 1)
    verification_state = VerificationState.VERIFIED
    verification_decided_at = factory.LazyFunction(timezone.now)
    verification_reason = "Checked the registry."

    class Params:
        pending = factory.Trait(
            verification_state=VerificationState.PENDING,
            verification_decided_at=None,
            verification_reason="",
        )

    @factory.post_generation
    def domains(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        for domain in extracted or []:
            OrganisationDomain.objects.create(organisation=self, domain=domain)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = MembershipRole.MEMBER


class GpuTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "booking.GpuType"
        django_get_or_create = ("name",)

    name = "H100"
    memory_gb = 80
    power_watts = 700


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "booking.Project"

    name = factory.Sequence(lambda n: f"Project {n}")
    organisation = factory.SubFactory(OrganisationFactory)


class AllocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "booking.Allocation"

    project = factory.SubFactory(ProjectFactory)
    gpu_type = factory.SubFactory(GpuTypeFactory)
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=335))


class CallFactory(factory.django.DjangoModelFactory):
    """An open call for proposals offering H100 hours to tiers 1-3."""

    class Meta:
        model = "booking.Call"
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"AI Factory call {n}")
    description = "GPU time for European AI research."
    kind = "standard"
    state = "open"
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    allowed_tiers = factory.LazyFunction(lambda: [1, 2, 3])
    max_request_gpu_hours = 10_000

    @factory.post_generation
    def pools(self, create: bool, extracted: dict[str, int] | None, **kwargs: object) -> None:
        from booking.models import CallPool, ReviewCriterion

        for name, hours in (extracted or {"H100": 50_000}).items():
            gpu_type = GpuTypeFactory(name=name)
            CallPool.objects.create(call=self, gpu_type=gpu_type, gpu_hours=hours)
        for position, (criterion, weight) in enumerate(
            [("Excellence", 50), ("Feasibility", 30), ("European impact", 20)]
        ):
            ReviewCriterion.objects.create(
                call=self, name=criterion, weight=weight, position=position
            )
