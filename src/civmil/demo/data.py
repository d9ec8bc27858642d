"""The cast of the demo mission: organisations, people and the demo logins. Plain data.

Every name is invented. Mail addresses use the reserved ``.example`` top-level domain, so no
demo address can reach a real mailbox, and a real deployment never holds one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from civmil.core.choices import Component as C
from civmil.core.choices import Level as L
from civmil.core.choices import OrganisationKind as K
from civmil.core.choices import Role as R

MISSION_NAME = "United Nations Integrated Stabilization Mission in Karvenia"
MISSION_ACRONYM = "UNISMK"
#: UTC+02:00 all year (the sign of the Etc/ zones is inverted by POSIX convention).
MISSION_TIME_ZONE = "Etc/GMT-2"
MAP_ZOOM = 7
#: The well-known development password of every demo login.
PASSWORD = "civmil-demo"  # noqa: S105 - published on purpose; production refuses to start with it
MAIL_DOMAIN = "unismk.example"
#: Marks demo addresses; no real deployment has mail in the reserved .example domain.
DEMO_MAIL_SUFFIX = ".example"


@dataclass(frozen=True)
class Org:
    key: str
    name: str
    acronym: str
    component: str
    kind: str
    parent: str | None
    description: str
    domain: str = MAIL_DOMAIN


ORGANISATIONS: tuple[Org, ...] = (
    # --- Mission civilian component and leadership ------------------------------------------
    Org("hq", "UNISMK Mission Headquarters", "UNISMK HQ", C.CIVILIAN, K.MISSION_HQ, None,
        "Headquarters of the integrated mission in Lusenna."),
    Org("osrsg", "Office of the Special Representative of the Secretary-General", "OSRSG", C.CIVILIAN,
        K.MISSION_SECTION, "hq", "Mission leadership: the Special Representative, the deputies and the Chief of "
        "Staff."),
    Org("cas", "Civil Affairs Section", "CAS", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Local governance, community engagement and conflict management at district level."),
    Org("hrd", "Human Rights Division", "HRD", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Monitoring, investigation and public reporting on human rights."),
    Org("pocu", "Protection of Civilians Unit", "POCU", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Protection of civilians strategy, early warning and threat assessment."),
    Org("pad", "Political Affairs Division", "PAD", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Political analysis, good offices and support to the peace agreement."),
    Org("cdt", "Conduct and Discipline Team", "CDT", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Prevention, enforcement and remedial action on misconduct by mission personnel."),
    Org("iau", "Investigations and Audit Unit", "IAU", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Independent investigations and compliance audits of mission conduct."),
    Org("imtc", "Integrated Mission Training Centre", "IMTC", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Induction, cross-component training and scenario-based exercises."),
    Org("fts", "Field Technology Section", "FTS", C.CIVILIAN, K.MISSION_SECTION, "hq",
        "Mission information systems and user accounts."),
    # --- Military component ------------------------------------------------------------------
    Org("fhq", "UNISMK Force Headquarters", "Force HQ", C.MILITARY, K.MILITARY_UNIT, "hq",
        "Headquarters of the military component."),
    Org("u9", "Force CIMIC Branch (U9)", "U9", C.MILITARY, K.MILITARY_UNIT, "fhq",
        "Civil-military cooperation staff of the Force Headquarters."),
    Org("shq_n", "Sector North Headquarters", "SHQ North", C.MILITARY, K.MILITARY_UNIT, "fhq",
        "Headquarters of Sector North (Orvalle province)."),
    Org("shq_c", "Sector Centre Headquarters", "SHQ Centre", C.MILITARY, K.MILITARY_UNIT, "fhq",
        "Headquarters of Sector Centre (Tamsadi province)."),
    Org("shq_e", "Sector East Headquarters", "SHQ East", C.MILITARY, K.MILITARY_UNIT, "fhq",
        "Headquarters of Sector East (Kereth province)."),
    Org("bn_a", "Infantry Battalion Alpha", "INFBATT-A", C.MILITARY, K.MILITARY_UNIT, "shq_n",
        "Infantry battalion deployed in Sector North."),
    Org("bn_b", "Infantry Battalion Bravo", "INFBATT-B", C.MILITARY, K.MILITARY_UNIT, "shq_c",
        "Infantry battalion deployed in Sector Centre."),
    Org("bn_c", "Infantry Battalion Charlie", "INFBATT-C", C.MILITARY, K.MILITARY_UNIT, "shq_e",
        "Infantry battalion deployed in Sector East."),
    Org("eng", "Force Engineer Company", "FENGCOY", C.MILITARY, K.MILITARY_UNIT, "fhq",
        "Road and bridge repair, airfield maintenance, camp construction."),
    Org("avn", "Military Utility Helicopter Unit", "MUHU", C.MILITARY, K.MILITARY_UNIT, "fhq",
        "Utility helicopters for troop movement and casualty evacuation."),
    # --- Police component ----------------------------------------------------------------------
    Org("unpol", "UNISMK Police Component", "UNPOL", C.POLICE, K.POLICE_UNIT, "hq",
        "Individual police officers advising and mentoring the national police."),
    Org("fpu1", "Formed Police Unit 1", "FPU-1", C.POLICE, K.POLICE_UNIT, "unpol",
        "Formed police unit based in Lusenna."),
    Org("fpu2", "Formed Police Unit 2", "FPU-2", C.POLICE, K.POLICE_UNIT, "unpol",
        "Formed police unit based in Iskarn."),
    # --- Humanitarian community ------------------------------------------------------------------
    Org("ochr", "Office for the Coordination of Humanitarian Response", "OCHR", C.HUMANITARIAN, K.UN_AGENCY, None,
        "Coordination of the humanitarian response and of humanitarian civil-military coordination.",
        "ochr.example"),
    Org("wfa", "World Food Agency", "WFA", C.HUMANITARIAN, K.UN_AGENCY, None,
        "Food assistance and the logistics cluster.", "wfa.example"),
    Org("crf", "Children's Rights Fund", "CRF", C.HUMANITARIAN, K.UN_AGENCY, None,
        "Child protection, education and water, sanitation and hygiene.", "crf.example"),
    Org("rda", "Refugee and Displacement Agency", "RDA", C.HUMANITARIAN, K.UN_AGENCY, None,
        "Protection and shelter of refugees and internally displaced people.", "rda.example"),
    Org("gha", "Global Health Agency", "GHA", C.HUMANITARIAN, K.UN_AGENCY, None,
        "Health cluster lead; disease surveillance and outbreak response.", "gha.example"),
    Org("fmr", "Frontline Medical Relief", "FMR", C.HUMANITARIAN, K.INTERNATIONAL_NGO, None,
        "Emergency medical care and mobile clinics.", "fmr.example"),
    Org("cwa", "Clearwater WASH Alliance", "CWA", C.HUMANITARIAN, K.INTERNATIONAL_NGO, None,
        "Water trucking, borehole repair and sanitation in displacement sites.", "cwa.example"),
    Org("orr", "Open Roads Relief", "ORR", C.HUMANITARIAN, K.INTERNATIONAL_NGO, None,
        "Distribution of shelter and household items in hard-to-reach areas.", "orr.example"),
    Org("kwdn", "Karvenian Women's Development Network", "KWDN", C.HUMANITARIAN, K.NATIONAL_NGO, None,
        "Psychosocial support, women's protection and livelihoods.", "kwdn.example"),
    Org("traa", "Tamsadi Rural Aid Association", "TRAA", C.HUMANITARIAN, K.NATIONAL_NGO, None,
        "Seeds, tools and cash for work in rural Tamsadi.", "traa.example"),
    Org("krcs", "Karvenian Red Cross Society", "KRCS", C.HUMANITARIAN, K.RED_CROSS, None,
        "National society: first aid, tracing of family members, dead-body management.", "krcs.example"),
    # --- Host nation --------------------------------------------------------------------------------
    Org("mid", "Ministry of the Interior and Decentralisation", "MID", C.HOST_NATION, K.GOVERNMENT, None,
        "Territorial administration and the governorates.", "gov-kv.example"),
    Org("msaha", "Ministry of Social Affairs and Humanitarian Action", "MSAHA", C.HOST_NATION, K.GOVERNMENT, None,
        "Government counterpart of the humanitarian response.", "gov-kv.example"),
    Org("gov_orv", "Orvalle Governorate Office", "GOV-ORV", C.HOST_NATION, K.GOVERNMENT, "mid",
        "Administration of Orvalle province.", "gov-kv.example"),
    Org("gov_tam", "Tamsadi Governorate Office", "GOV-TAM", C.HOST_NATION, K.GOVERNMENT, "mid",
        "Administration of Tamsadi province.", "gov-kv.example"),
    Org("gov_ker", "Kereth Governorate Office", "GOV-KER", C.HOST_NATION, K.GOVERNMENT, "mid",
        "Administration of Kereth province.", "gov-kv.example"),
    Org("knp", "Karvenian National Police Liaison Office", "KNP-LO", C.HOST_NATION, K.SECURITY_FORCES, "mid",
        "Liaison between the national police and the mission.", "police-kv.example"),
    # --- Communities --------------------------------------------------------------------------------
    Org("cpc_vin", "Vintra Community Protection Committee", "CPC Vintra", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Elected committee that raises protection concerns of Vintra's neighbourhoods.", "vintra.example"),
    Org("cpc_isk", "Iskarn Community Protection Committee", "CPC Iskarn", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Committee of the Iskarn displacement site and host villages.", "iskarn.example"),
    Org("cpc_dov", "Dovrin Community Protection Committee", "CPC Dovrin", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Committee of the Dovrin displacement site.", "dovrin.example"),
    Org("hwa", "Halmoor Women's Association", "HWA", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Women's association of Halmoor district.", "halmoor.example"),
    Org("twpg", "Tolvena Women's Peace Group", "TWPG", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Women mediators in land and water disputes.", "tolvena.example"),
    Org("lya", "Lusenna Youth Association", "LYA", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Youth sports, civic education and a community radio programme.", "lusenna.example"),
    Org("gyp", "Grenmoor Youth for Peace", "GYP", C.COMMUNITY, K.COMMUNITY_GROUP, None,
        "Young people's dialogue between herders and farmers.", "grenmoor.example"),
)
ORG_BY_KEY = {o.key: o for o in ORGANISATIONS}

HQ_NAME = ORG_BY_KEY["hq"].name


@dataclass(frozen=True)
class Job:
    org: str
    role: str
    position: str
    #: Days before the load date the membership started.
    since_days: int = 120


@dataclass(frozen=True)
class PersonSpec:
    key: str
    full_name: str
    title: str
    owner: str
    level: str
    jobs: tuple[Job, ...]
    login: str = ""
    languages: str = "English, French"
    call_sign: str = ""

    def email(self) -> str:
        parts = self.full_name.split()
        local = f"{parts[0]}.{parts[-1]}".lower()
        local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
        return f"{local}@{ORG_BY_KEY[self.owner].domain}"


def _p(key: str, name: str, title: str, owner: str, level: str, role: str, position: str,
       *, login: str = "", languages: str = "English, French", call_sign: str = "", since: int = 120) -> PersonSpec:
    return PersonSpec(key, name, title, owner, level, (Job(owner, role, position, since),), login, languages,
                      call_sign)


PEOPLE: tuple[PersonSpec, ...] = (
    # Leadership (privileged: requested by one administrator, approved by the second)
    _p("srsg", "Helena Vasquez-Orlov", "", "osrsg", L.MISSION, R.LEADERSHIP,
       "Special Representative of the Secretary-General", login="srsg", since=400),
    PersonSpec("dsrsg", "Tomasz Achterberg", "", "osrsg", L.MISSION, (
        Job("osrsg", R.LEADERSHIP, "Deputy Special Representative (Resident and Humanitarian Coordinator)", 300),
        Job("ochr", R.CMCOORD, "Humanitarian Coordinator", 300),
    ), login="dsrsg", languages="English, French, Spanish"),
    _p("cos", "Amara Delacroix-Mbeki", "", "osrsg", L.MISSION, R.LEADERSHIP, "Chief of Staff", since=250),
    _p("fc", "Rafael Quintero", "Lt Gen", "fhq", L.MILITARY, R.LEADERSHIP, "Force Commander",
       call_sign="SUNRAY FORCE", since=330),
    _p("polcom", "Ingrid Saltvik", "", "unpol", L.MISSION, R.LEADERSHIP, "Police Commissioner", since=280),
    # Administrators (created at the console)
    _p("admin", "Priya Ramaswamy", "", "fts", L.MISSION, R.ADMINISTRATOR, "Administrator", login="admin"),
    _p("admin2", "Jonas Whitfield", "", "fts", L.MISSION, R.ADMINISTRATOR, "Administrator", login="admin2"),
    # Civilian sections
    _p("civstaff", "Lucia Bertolami", "", "cas", L.MISSION, R.CIVILIAN_STAFF, "Civil Affairs Officer, Orvalle",
       login="civstaff"),
    _p("cas_chief", "Kwame Osei-Darko", "", "cas", L.MISSION, R.CIVILIAN_STAFF, "Chief of Civil Affairs"),
    _p("cas_tam", "Mirela Kostadinova", "", "cas", L.MISSION, R.CIVILIAN_STAFF, "Civil Affairs Officer, Tamsadi"),
    _p("cas_cla", "Ilyan Tessaro", "", "cas", L.RESTRICTED, R.COMMUNITY_LIAISON, "Community Liaison Assistant",
       languages="Karvenian, French"),
    _p("hrd_chief", "Sabine Oyelaran", "", "hrd", L.MISSION, R.CIVILIAN_STAFF, "Director of Human Rights"),
    _p("hrd_off", "Daniel Hoffmeyer", "", "hrd", L.HUMANITARIAN, R.CIVILIAN_STAFF, "Human Rights Officer"),
    _p("poc", "Yasmin El-Haddad", "", "pocu", L.MISSION, R.CIVILIAN_STAFF, "Senior Protection of Civilians Adviser"),
    _p("poc_off", "Aurelio Santangelo", "", "pocu", L.HUMANITARIAN, R.CIVILIAN_STAFF, "Early Warning Officer"),
    _p("pad", "Nadia Korvalainen", "", "pad", L.RESTRICTED, R.CIVILIAN_STAFF, "Senior Political Affairs Officer"),
    _p("pad_off", "Samuel Adeyemi-Clarke", "", "pad", L.MISSION, R.CIVILIAN_STAFF, "Political Affairs Officer"),
    _p("oversight", "Marguerite Lindqvist", "", "cdt", L.MISSION, R.OVERSIGHT, "Chief, Conduct and Discipline",
       login="oversight"),
    _p("cdt_off", "Rohan Mehta-Fairley", "", "cdt", L.MISSION, R.OVERSIGHT, "Conduct and Discipline Officer"),
    _p("iau", "Elena Mavridou", "", "iau", L.MISSION, R.OVERSIGHT, "Chief Investigator"),
    _p("trainer", "Gareth Ndlovu-Evans", "", "imtc", L.MISSION, R.TRAINER, "Chief Training Officer",
       login="trainer"),
    _p("trainer2", "Chiara Rossetti", "", "imtc", L.MISSION, R.TRAINER, "Exercise Planner"),
    # Military
    _p("milstaff", "Stefan Brandvold", "Lt Col", "u9", L.MISSION, R.MILITARY_STAFF, "Chief U9 CIMIC",
       login="milstaff", call_sign="CIMIC ACTUAL"),
    _p("u9_so", "Fatou Diallo-Renner", "Maj", "u9", L.MISSION, R.MILITARY_STAFF, "CIMIC Staff Officer"),
    _p("u9_lo", "Hiroshi Tanabe", "Capt", "u9", L.MILITARY, R.MILITARY_LIAISON,
       "Liaison Officer to the humanitarian community", call_sign="CIMIC 2"),
    _p("fhq_cos", "Pieter van Druten", "Col", "fhq", L.MILITARY, R.MILITARY_STAFF, "Force Chief of Staff"),
    _p("shqn", "Ana Carolina Duarte", "Col", "shq_n", L.MILITARY, R.MILITARY_STAFF, "Sector North Commander",
       call_sign="NORTH 6"),
    _p("shqn_g9", "Matteo Ferrante", "Maj", "shq_n", L.MISSION, R.MILITARY_STAFF, "Sector North CIMIC Officer"),
    _p("shqc", "Olumide Bankole", "Col", "shq_c", L.MILITARY, R.MILITARY_STAFF, "Sector Centre Commander",
       call_sign="CENTRE 6"),
    _p("shqe", "Karin Sjöholm", "Col", "shq_e", L.MILITARY, R.MILITARY_STAFF, "Sector East Commander",
       call_sign="EAST 6"),
    _p("milliaison", "Arjun Malhotra", "Capt", "bn_a", L.MISSION, R.MILITARY_LIAISON, "Battalion Liaison Officer",
       login="milliaison", call_sign="ALPHA LO"),
    _p("bna_co", "Emeka Nwachukwu", "Lt Col", "bn_a", L.MILITARY, R.MILITARY_STAFF, "Commanding Officer",
       call_sign="ALPHA 6"),
    _p("bna_cla", "Sera Varnik", "", "bn_a", L.RESTRICTED, R.COMMUNITY_LIAISON, "Community Liaison Assistant",
       languages="Karvenian, English"),
    _p("bnb_lo", "Luis Ocampo-Reyes", "Capt", "bn_b", L.MISSION, R.MILITARY_LIAISON, "Battalion Liaison Officer",
       call_sign="BRAVO LO"),
    _p("bnc_lo", "Thandiwe Mokoena", "Capt", "bn_c", L.MISSION, R.MILITARY_LIAISON, "Battalion Liaison Officer",
       call_sign="CHARLIE LO"),
    _p("eng_oc", "Bjorn Halvorsen", "Maj", "eng", L.MISSION, R.MILITARY_STAFF, "Officer Commanding",
       call_sign="SAPPER 6"),
    _p("avn_ops", "Giulia Marchetti", "Maj", "avn", L.MILITARY, R.MILITARY_STAFF, "Air Operations Officer",
       call_sign="ROTOR OPS"),
    # Police
    _p("police", "Camille Fournier-Abiola", "", "unpol", L.MISSION, R.POLICE,
       "Community-Oriented Policing Adviser", login="police"),
    _p("unpol_ops", "Viktor Lindahl", "", "unpol", L.MILITARY, R.POLICE, "UNPOL Operations Officer"),
    _p("fpu1_cdr", "Rashid Al-Mansouri", "", "fpu1", L.MILITARY, R.POLICE, "FPU-1 Commander"),
    _p("fpu2_cdr", "Moses Kiprotich", "", "fpu2", L.MILITARY, R.POLICE, "FPU-2 Commander"),
    # Humanitarian
    _p("cmcoord", "Sofia Lindgren-Akande", "", "ochr", L.MISSION, R.CMCOORD, "Civil-Military Coordination Officer",
       login="cmcoord"),
    _p("ochr_head", "Benedikt Aurand", "", "ochr", L.HUMANITARIAN, R.CMCOORD, "Head of Office"),
    _p("ochr_access", "Zainab Mwangi", "", "ochr", L.HUMANITARIAN, R.CMCOORD, "Humanitarian Access Officer"),
    _p("wfa", "Olivier Chaumont", "", "wfa", L.MISSION, R.NGO_STAFF, "Logistics Cluster Coordinator"),
    _p("wfa_cm", "Leila Farahani", "", "wfa", L.HUMANITARIAN, R.CMCOORD, "Agency Civil-Military Focal Point"),
    _p("crf", "Ngozi Eze-Lambert", "", "crf", L.HUMANITARIAN, R.NGO_STAFF, "Child Protection Specialist"),
    _p("rda", "Henrik Solberg", "", "rda", L.HUMANITARIAN, R.NGO_STAFF, "Protection Officer"),
    _p("gha", "Mei-Lin Castellanos", "", "gha", L.MISSION, R.NGO_STAFF, "Health Cluster Coordinator"),
    _p("ngostaff", "Alejandro Weiss", "", "fmr", L.HUMANITARIAN, R.NGO_STAFF, "Field Coordinator", login="ngostaff"),
    _p("fmr_sec", "Abena Owusu-Hart", "", "fmr", L.HUMANITARIAN, R.NGO_STAFF, "Security Manager"),
    _p("cwa", "Declan Murtagh", "", "cwa", L.HUMANITARIAN, R.NGO_STAFF, "WASH Programme Manager"),
    _p("orr", "Farida Nasseri", "", "orr", L.HUMANITARIAN, R.NGO_STAFF, "Area Coordinator"),
    _p("kwdn", "Tiena Morvaux", "", "kwdn", L.HUMANITARIAN, R.NGO_STAFF, "Executive Director",
       languages="Karvenian, French"),
    _p("traa", "Joss Abrenne", "", "traa", L.HUMANITARIAN, R.NGO_STAFF, "Programme Officer",
       languages="Karvenian, French"),
    _p("krcs", "Orla Venkman-Issa", "", "krcs", L.MISSION, R.NGO_STAFF, "Head of Emergency Operations",
       languages="Karvenian, French, English"),
    # Host nation (contact details PUBLIC (official lines) or RESTRICTED)
    _p("hostliaison", "Bastien Orrevel", "", "gov_orv", L.PUBLIC, R.HOST_NATION_LIAISON,
       "Governorate Liaison Officer to the Mission", login="hostliaison", languages="Karvenian, French"),
    _p("gov_orv_gov", "Marek Senval", "", "gov_orv", L.PUBLIC, R.HOST_NATION_LIAISON, "Governor of Orvalle",
       languages="Karvenian, French"),
    _p("gov_tam", "Ysolde Karrin", "", "gov_tam", L.PUBLIC, R.HOST_NATION_LIAISON, "Secretary-General of Tamsadi",
       languages="Karvenian, French"),
    _p("gov_ker", "Aldo Vessenne", "", "gov_ker", L.RESTRICTED, R.HOST_NATION_LIAISON, "Deputy Governor of Kereth",
       languages="Karvenian, French"),
    _p("mid", "Renata Ostervo", "", "mid", L.PUBLIC, R.HOST_NATION_LIAISON, "Director of Territorial Administration",
       languages="Karvenian, French"),
    _p("msaha", "Davin Korrel", "", "msaha", L.PUBLIC, R.HOST_NATION_LIAISON, "Director of Humanitarian Action",
       languages="Karvenian, French"),
    _p("knp", "Lise Marrand", "Cmdt", "knp", L.RESTRICTED, R.HOST_NATION_LIAISON, "National Police Liaison Officer",
       languages="Karvenian, French"),
    # Communities (community liaisons: some contact details RESTRICTED)
    _p("community", "Amina Trevalle", "", "cpc_vin", L.RESTRICTED, R.COMMUNITY_LIAISON,
       "Chair, Vintra Community Protection Committee", login="community", languages="Karvenian"),
    _p("cpc_vin2", "Joren Halvic", "", "cpc_vin", L.RESTRICTED, R.COMMUNITY_LIAISON, "Committee member",
       languages="Karvenian"),
    _p("cpc_isk", "Selin Oravec", "", "cpc_isk", L.RESTRICTED, R.COMMUNITY_LIAISON, "Chair",
       languages="Karvenian, French"),
    _p("cpc_dov", "Pavo Lindrassi", "", "cpc_dov", L.PUBLIC, R.COMMUNITY_LIAISON, "Chair", languages="Karvenian"),
    _p("hwa", "Maren Tessaly", "", "hwa", L.PUBLIC, R.COMMUNITY_LIAISON, "President", languages="Karvenian"),
    _p("twpg", "Elodie Vancrest", "", "twpg", L.RESTRICTED, R.COMMUNITY_LIAISON, "Coordinator",
       languages="Karvenian, French"),
    _p("lya", "Kofi Renard-Amsel", "", "lya", L.PUBLIC, R.COMMUNITY_LIAISON, "Youth Leader",
       languages="Karvenian, English"),
    _p("gyp", "Idris Varn", "", "gyp", L.RESTRICTED, R.COMMUNITY_LIAISON, "Dialogue Facilitator",
       languages="Karvenian"),
)
PERSON_BY_KEY = {p.key: p for p in PEOPLE}
#: Usernames of the demo logins, in the order they are listed.
LOGINS: tuple[str, ...] = (
    "admin", "admin2", "srsg", "dsrsg", "milstaff", "milliaison", "police", "civstaff", "cmcoord", "ngostaff",
    "hostliaison", "community", "oversight", "trainer",
)
