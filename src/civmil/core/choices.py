"""Choice sets of the kernel: components, roles, releasability levels."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Component(models.TextChoices):
    """The mission component an organisation belongs to. Fixed by the organisation."""

    MILITARY = "military", _("Military")
    POLICE = "police", _("Police")
    CIVILIAN = "civilian", _("Mission civilian section")
    HUMANITARIAN = "humanitarian", _("UN agency or NGO")
    HOST_NATION = "host_nation", _("Host government")
    COMMUNITY = "community", _("Community group")


class OrganisationKind(models.TextChoices):
    MISSION_HQ = "mission_hq", _("Mission headquarters")
    MILITARY_UNIT = "military_unit", _("Military unit or headquarters")
    POLICE_UNIT = "police_unit", _("Police unit")
    MISSION_SECTION = "mission_section", _("Mission section or office")
    UN_AGENCY = "un_agency", _("UN agency, fund or programme")
    INTERNATIONAL_NGO = "ingo", _("International NGO")
    NATIONAL_NGO = "nngo", _("National NGO")
    RED_CROSS = "red_cross", _("Red Cross / Red Crescent")
    GOVERNMENT = "government", _("Host government body")
    SECURITY_FORCES = "security_forces", _("Host-nation security forces")
    COMMUNITY_GROUP = "community_group", _("Community group")
    OTHER = "other", _("Other")


class Role(models.TextChoices):
    LEADERSHIP = "leadership", _("Mission leadership")
    MILITARY_STAFF = "military_staff", _("Military staff")
    MILITARY_LIAISON = "military_liaison", _("Military liaison officer")
    POLICE = "police", _("Police")
    CIVILIAN_STAFF = "civilian_staff", _("Civilian section staff")
    CMCOORD = "cmcoord", _("Humanitarian coordination officer (CMCoord)")
    NGO_STAFF = "ngo_staff", _("NGO or agency staff")
    HOST_NATION_LIAISON = "host_nation_liaison", _("Host-nation liaison")
    COMMUNITY_LIAISON = "community_liaison", _("Community liaison")
    OVERSIGHT = "oversight", _("Oversight")
    TRAINER = "trainer", _("Trainer")
    ADMINISTRATOR = "administrator", _("Administrator")


#: Granting one of these roles takes a second administrator's approval.
PRIVILEGED_ROLES = frozenset({Role.ADMINISTRATOR, Role.LEADERSHIP, Role.OVERSIGHT})


class Level(models.TextChoices):
    """Releasability levels, from the widest audience to the narrowest."""

    PUBLIC = "public", _("Public")
    MISSION = "mission", _("Mission")
    HUMANITARIAN = "humanitarian", _("Humanitarian")
    MILITARY = "military", _("Military")
    RESTRICTED = "restricted", _("Restricted")
    OVERSIGHT = "oversight", _("Oversight")


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PENDING = "pending", _("Awaiting a second administrator's approval")
    REFUSED = "refused", _("Refused")
    ENDED = "ended", _("Ended")


class SpaceKind(models.TextChoices):
    LIVE = "live", _("Live mission")
    EXERCISE = "exercise", _("Exercise")
