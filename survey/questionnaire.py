"""The questionnaire, defined once: every question's id, type, labels, help, choices and bounds.

The form, the validation model, the database schema, the exports and the codebook are all
derived from ``FIELDS`` below, so a question is added or changed in exactly one place.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

from survey import i18n
from survey.i18n import DEFAULT_LOCALE as DEFAULT_LOCALE  # the same objects as the catalogue's
from survey.i18n import LOCALES as LOCALES

QUESTIONNAIRE_VERSION = 2
TIME_ZONE = "Europe/Paris"
EARLIEST_DATE = date(2000, 1, 1)
NARRATIVE_MAX_CHARS = 5000
REFERENCE_DIR = Path(str(resources.files("survey") / "reference"))  # package data: survives a wheel


@dataclass(frozen=True)
class Text:
    """A piece of text in every supported language."""

    fr: str
    en: str

    def __call__(self, locale: str) -> str:
        return self.en if locale == "en" else self.fr


@dataclass(frozen=True)
class Choice:
    value: str
    label: Text


@dataclass(frozen=True)
class Section:
    id: str
    title: Text
    intro: Text


@dataclass(frozen=True)
class Question:
    """One question of the survey.

    ``kind`` is one of: choice, bool, int, float, date, text, email, consent, flag
    (a checkbox stored as true/false), option (one answer of a multiple choice: the options
    sharing a ``group`` are its answers, each a boolean column; when none of them is ticked
    the question was not answered and every one is NULL, not false). ``shown_if`` names
    another question and the values for which this one applies (a tuple, or
    :class:`AtLeast`); a question that does not apply is never asked nor stored.
    ``stored_in`` is "responses" or "contacts" (e-mails live apart from responses).
    ``derived_from`` names the question the form asks instead of this one (since
    ``since_version`` of that one): this column is then computed from it
    (:data:`survey.validation.DERIVED`), kept for files and earlier versions.
    """

    id: str
    section: str
    kind: str
    label: Text
    help: Text | None = None
    required: bool = False
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    shown_if: tuple[str, tuple[object, ...]] | None = None
    stored_in: str = "responses"
    since_version: int = 1
    group: str | None = None
    derived_from: str | None = None

    @property
    def asked(self) -> bool:
        """Whether the form asks it (a derived column is computed, not asked)."""
        return self.derived_from is None

    @property
    def sql_type(self) -> str:
        return {
            "choice": "VARCHAR",
            "bool": "BOOLEAN",
            "flag": "BOOLEAN",
            "option": "BOOLEAN",
            "consent": "BOOLEAN",
            "int": "INTEGER",
            "float": "DOUBLE",
            "date": "DATE",
            "text": "VARCHAR",
            "email": "VARCHAR",
        }[self.kind]

    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    def choice_label(self, value: object, locale: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label(locale)
        return str(value)

    def applies(self, answers: dict) -> bool:
        """Whether this question applies given the other answers (recursively)."""
        if self.shown_if is None:
            return True
        parent_id, values = self.shown_if
        parent = QUESTIONS[parent_id]
        return parent.applies(answers) and answers.get(parent_id) in values


@dataclass(frozen=True)
class AtLeast:
    """The values of a count from ``minimum`` on, for ``shown_if``: ``3 in AtLeast(1)``.

    The form tests what is typed so far ("2", "1,0"), files and models numbers; text that is
    not a number is in no range (the question it guards stays hidden until it is one).

    >>> 2 in AtLeast(1), "1,0" in AtLeast(1), "0" in AtLeast(1), "deux" in AtLeast(1)
    (True, True, False, False)
    """

    minimum: int

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or value is None:
            return False
        if isinstance(value, str):
            text = "".join(value.split()).replace(",", ".")
            try:
                value = float(text)
            except ValueError:
                return False
        try:
            return float(value) >= self.minimum  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False


def _c(value: str, fr: str, en: str) -> Choice:
    return Choice(value, Text(fr, en))


SECTIONS: tuple[Section, ...] = (
    Section(
        "company",
        Text("L'entreprise", "The company"),
        Text(
            "Une réponse = une expérience avec une entreprise.",
            "One response = one experience with one company.",
        ),
    ),
    Section(
        "problem",
        Text("Le problème", "The problem"),
        Text("Que s'est-il passé, et quand ?", "What happened, and when?"),
    ),
    Section(
        "contacts",
        Text("Vos démarches", "What it took"),
        Text(
            "Une estimation suffit. Laissez vide si vous ne savez pas.",
            "An estimate is fine. Leave blank if you don't know.",
        ),
    ),
    Section(
        "workarounds",
        Text("Dépannage et remboursement", "Workaround and refund"),
        Text(
            "Matériel de remplacement, remboursement, geste commercial.",
            "Replacement equipment, refund, goodwill gesture.",
        ),
    ),
    Section(
        "assessment",
        Text("Votre avis", "Your view"),
        Text("Presque fini.", "Almost done."),
    ),
)

YES_NO = (_c("yes", "Oui", "Yes"), _c("no", "Non", "No"))


@cache
def companies() -> tuple[dict, ...]:
    """The reference list of companies (survey/reference/companies.csv)."""
    with open(REFERENCE_DIR / "companies.csv", encoding="utf-8", newline="") as f:
        return tuple(dict(row) for row in csv.DictReader(f))


@cache
def departments() -> tuple[dict, ...]:
    """The 101 French départements (survey/reference/departments.csv)."""
    with open(REFERENCE_DIR / "departments.csv", encoding="utf-8", newline="") as f:
        return tuple(dict(row) for row in csv.DictReader(f))


def _company_choices() -> tuple[Choice, ...]:
    listed = tuple(Choice(row["id"], Text(row["name"], row["name"])) for row in companies())
    return listed + (_c("other", "Autre entreprise", "Other company"),)


def _department_choices() -> tuple[Choice, ...]:
    return tuple(
        Choice(
            row["code"], Text(f"{row['code']} – {row['name']}", f"{row['code']} – {row['name']}")
        )
        for row in departments()
    )


def _count(qid, section, fr, en, *, maximum=500, help=None, shown_if=None, group=None):
    return Question(
        qid,
        section,
        "int",
        Text(fr, en),
        help=help,
        minimum=0,
        maximum=maximum,
        shown_if=shown_if,
        group=group,
    )


def _yes_no(qid, section, fr, en, *, help=None, shown_if=None, since_version=1, derived_from=None):
    return Question(
        qid,
        section,
        "bool",
        Text(fr, en),
        help=help,
        shown_if=shown_if,
        since_version=since_version,
        derived_from=derived_from,
    )


def _option(qid, section, group, fr, en, *, shown_if):
    """One answer of a multiple choice (questionnaire version 2)."""
    return Question(
        qid, section, "option", Text(fr, en), shown_if=shown_if, group=group, since_version=2
    )


_REFUND_ASKED = ("refund_requested", (True,))
_LOANER_OBTAINED = ("loaner_obtained", (True,))
_REFUND_DECIDED = ("refund_outcome", ("full", "partial"))
_SUBSCRIPTION = ("service", ("fixed_internet", "mobile", "landline", "tv"))
_NO_SERVICE = ("problem", ("outage", "degraded"))
_WASTED = ("wasted_trips", AtLeast(1))
CONTACT_GROUP = Text(
    "Combien de fois avez-vous contacté l'entreprise…",
    "How many times did you contact the company…",
)
ESCALATION_GROUP = Text(
    "Avez-vous fait appel à un recours extérieur ?", "Did you turn to an outside body?"
)
SERVICES_GROUP = Text(
    "Que comprend votre abonnement ? (plusieurs réponses possibles)",
    "What does your subscription include? (tick all that apply)",
)
WASTED_REASONS_GROUP = Text(
    "Pourquoi ces déplacements n'ont-ils servi à rien ? (plusieurs réponses possibles)",
    "Why did those trips achieve nothing? (tick all that apply)",
)
# The stem shown above the questions that share a ``group``.
GROUPS: dict[str, Text] = {
    "contacts": CONTACT_GROUP,
    "escalations": ESCALATION_GROUP,
    "services": SERVICES_GROUP,
    "wasted_reasons": WASTED_REASONS_GROUP,
}
# The multiple choices: a group of ``option`` questions, answered when one is ticked.
MULTIPLE_CHOICES = ("services", "wasted_reasons")

FIELDS: tuple[Question, ...] = (
    # --- company and context ---------------------------------------------------------------
    Question(
        "company",
        "company",
        "choice",
        Text("Entreprise concernée", "Company concerned"),
        required=True,
        choices=_company_choices(),
        help=Text(
            "Choisissez « Autre entreprise » si elle n'est pas dans la liste.",
            "Choose “Other company” if it is not listed.",
        ),
    ),
    Question(
        "company_other",
        "company",
        "text",
        Text("Nom de l'entreprise", "Company name"),
        max_length=120,
        shown_if=("company", ("other",)),
    ),
    Question(
        "service",
        "company",
        "choice",
        Text("Service concerné", "Service concerned"),
        choices=(
            _c("fixed_internet", "Box internet (fibre, ADSL)", "Home internet box (fibre, DSL)"),
            _c("mobile", "Téléphone mobile", "Mobile phone"),
            _c("landline", "Téléphone fixe", "Landline"),
            _c("tv", "Télévision", "TV"),
            _c("online_order", "Commande en ligne / livraison", "Online order / delivery"),
            _c("other", "Autre", "Other"),
        ),
    ),
    _option(
        "services_internet",
        "company",
        "services",
        "Box internet (fibre, ADSL)",
        "Home internet box (fibre, DSL)",
        shown_if=_SUBSCRIPTION,
    ),
    _option(
        "services_landline",
        "company",
        "services",
        "Téléphone fixe",
        "Landline",
        shown_if=_SUBSCRIPTION,
    ),
    _option("services_tv", "company", "services", "Télévision", "TV", shown_if=_SUBSCRIPTION),
    _option(
        "services_mobile",
        "company",
        "services",
        "Forfait mobile",
        "Mobile plan",
        shown_if=_SUBSCRIPTION,
    ),
    _option("services_other", "company", "services", "Autre", "Other", shown_if=_SUBSCRIPTION),
    Question(
        "department",
        "company",
        "choice",
        Text("Votre département", "Your département"),
        help=Text(
            "Facultatif. Nous ne demandons ni adresse ni code postal.",
            "Optional. We never ask for an address or a postcode.",
        ),
        choices=_department_choices(),
    ),
    Question(
        "household",
        "company",
        "choice",
        Text("Votre situation", "Your situation"),
        choices=(
            _c("retired", "Retraité(e)", "Retired"),
            _c("employed", "En activité", "Working"),
            _c("student", "Étudiant(e)", "Student"),
            _c("other", "Autre", "Other"),
        ),
    ),
    _yes_no(
        "school_children",
        "company",
        "Enfants scolarisés à la maison ?",
        "School-age children at home?",
    ),
    _yes_no("teleworks", "company", "Télétravaillez-vous ?", "Do you work from home?"),
    # --- the problem -----------------------------------------------------------------------
    Question(
        "problem",
        "problem",
        "choice",
        Text("Type de problème", "Kind of problem"),
        required=True,
        choices=(
            _c("outage", "Plus de service (panne)", "No service (outage)"),
            _c("degraded", "Service dégradé (lent, coupures)", "Degraded service (slow, drops)"),
            _c("installation", "Installation ou mise en service", "Installation or activation"),
            _c("billing", "Erreur de facturation", "Billing error"),
            _c("delivery", "Livraison (retard, perte, casse)", "Delivery (late, lost, damaged)"),
            _c("defective", "Produit défectueux", "Defective product"),
            _c("cancellation", "Résiliation ou contrat", "Cancellation or contract"),
            _c("other", "Autre", "Other"),
        ),
    ),
    Question(
        "started_on",
        "problem",
        "date",
        Text("Date de début du problème", "Date the problem started"),
        required=True,
        help=Text("Une date approximative suffit.", "An approximate date is fine."),
    ),
    Question(
        "status",
        "problem",
        "choice",
        Text("Où en est-il aujourd'hui ?", "Where does it stand today?"),
        required=True,
        choices=(
            _c("resolved", "Résolu", "Resolved"),
            _c("ongoing", "Toujours en cours", "Still ongoing"),
            _c(
                "unresolved",
                "Terminé sans solution (abandon, changement d'opérateur)",
                "Ended without a fix (gave up, switched)",
            ),
        ),
    ),
    Question(
        "ended_on",
        "problem",
        "date",
        Text("Date de fin", "Date it ended"),
        help=Text(
            "Le jour où le problème a été résolu ou où vous avez abandonné.",
            "The day it was fixed or you gave up.",
        ),
        shown_if=("status", ("resolved", "unresolved")),
    ),
    Question(
        "status_known_on",
        "problem",
        "date",
        Text("Où en est-on, à quelle date ?", "As of which date is that so?"),
        help=Text(
            "Pour un problème ancien : le dernier jour où vous avez su qu'il n'était pas "
            "résolu. Laissez vide si c'est aujourd'hui.",
            "For an old problem: the last day you knew it was still not fixed. Leave blank "
            "if that is today.",
        ),
        shown_if=("status", ("ongoing",)),
        since_version=2,
    ),
    _yes_no(
        "neighbourhood_cut",
        "problem",
        "Tout le quartier était-il coupé (vos voisins aussi) ?",
        "Was the whole neighbourhood cut off (your neighbours too)?",
        shown_if=_NO_SERVICE,
        since_version=2,
    ),
    _yes_no(
        "blamed_third_party",
        "problem",
        "L'entreprise a-t-elle rejeté la faute sur une autre entreprise dont elle dépend ?",
        "Did the company blame another company it depends on?",
        help=Text(
            "Par exemple « c'est l'opérateur du réseau, pas nous ».",
            "For example “it's the network operator, not us”.",
        ),
    ),
    _count(
        "false_resolved_count",
        "problem",
        "Combien de fois le problème a-t-il été déclaré « résolu » alors qu'il ne l'était pas ?",
        "How many times was it declared “resolved” when it was not?",
        maximum=100,
    ),
    Question(
        "false_resolved_first_on",
        "problem",
        "date",
        Text(
            "Date du (premier) message « résolu » qui ne l'était pas",
            "Date of the (first) false “resolved” message",
        ),
        help=Text(
            "Une date approximative suffit : regardez l'e-mail ou le SMS reçu.",
            "An approximate date is fine: look at the e-mail or text message.",
        ),
        shown_if=("false_resolved_count", AtLeast(1)),
        since_version=2,
    ),
    Question(
        "false_resolved_last_on",
        "problem",
        "date",
        Text("Date du dernier message « résolu »", "Date of the last false “resolved” message"),
        shown_if=("false_resolved_count", AtLeast(2)),
        since_version=2,
    ),
    # --- contacts and effort -----------------------------------------------------------------
    _count("contacts_phone", "contacts", "par téléphone", "by phone", group="contacts"),
    _count(
        "contacts_chat",
        "contacts",
        "par chat ou assistant virtuel",
        "by chat or virtual assistant",
        group="contacts",
    ),
    _count(
        "contacts_email",
        "contacts",
        "par e-mail ou formulaire web",
        "by e-mail or web form",
        group="contacts",
    ),
    _count("contacts_shop", "contacts", "en boutique", "in a shop", group="contacts"),
    _count(
        "contacts_social",
        "contacts",
        "sur les réseaux sociaux",
        "on social media",
        group="contacts",
    ),
    _count("contacts_letter", "contacts", "par courrier", "by letter", group="contacts"),
    _count(
        "unanswered_calls",
        "contacts",
        "Appels restés sans réponse",
        "Calls nobody answered",
    ),
    _count(
        "callbacks_promised",
        "contacts",
        "Rappels promis par l'entreprise",
        "Callbacks the company promised",
        maximum=100,
    ),
    _count(
        "callbacks_received",
        "contacts",
        "Rappels effectivement reçus",
        "Callbacks actually received",
        maximum=100,
    ),
    Question(
        "hours_spent",
        "contacts",
        "float",
        Text("Temps passé au total (heures)", "Total time spent (hours)"),
        help=Text(
            "Une estimation : appels, attente, trajets.", "An estimate: calls, waiting, trips."
        ),
        minimum=0,
        maximum=1000,
    ),
    _count(
        "technician_visits",
        "contacts",
        "Visites de technicien",
        "Technician visits",
        maximum=50,
    ),
    _count(
        "technician_visits_useless",
        "contacts",
        "… dont visites pour rien",
        "… of which achieved nothing",
        maximum=50,
    ),
    _count(
        "wasted_trips",
        "contacts",
        "Déplacements pour rien (boutique, point relais)",
        "Trips for nothing (shop, pick-up point)",
        maximum=100,
    ),
    Question(
        "wasted_km",
        "contacts",
        "float",
        Text(
            "Kilomètres parcourus pour rien (aller-retour, au total)",
            "Kilometres driven for nothing (round trips, total)",
        ),
        minimum=0,
        maximum=10000,
    ),
    _option(
        "wasted_reason_no_stock",
        "contacts",
        "wasted_reasons",
        "Le matériel n'était pas en stock",
        "The equipment was not in stock",
        shown_if=_WASTED,
    ),
    _option(
        "wasted_reason_no_reservation",
        "contacts",
        "wasted_reasons",
        "Ma réservation était introuvable",
        "My reservation could not be found",
        shown_if=_WASTED,
    ),
    _option(
        "wasted_reason_closed",
        "contacts",
        "wasted_reasons",
        "Boutique ou point relais fermé",
        "Shop or pick-up point closed",
        shown_if=_WASTED,
    ),
    _option(
        "wasted_reason_other",
        "contacts",
        "wasted_reasons",
        "Autre raison",
        "Another reason",
        shown_if=_WASTED,
    ),
    Question(
        "escalation_mediator",
        "contacts",
        "flag",
        Text(
            "Médiateur (communications électroniques ou e-commerce)",
            "Ombudsman (telecoms or e-commerce mediator)",
        ),
        group="escalations",
    ),
    Question(
        "escalation_regulator",
        "contacts",
        "flag",
        Text("Signalement « J'alerte l'Arcep »", "Report to the regulator (J'alerte l'Arcep)"),
        group="escalations",
    ),
    Question(
        "escalation_signalconso",
        "contacts",
        "flag",
        Text("SignalConso", "SignalConso"),
        group="escalations",
    ),
    Question(
        "escalation_association",
        "contacts",
        "flag",
        Text("Association de consommateurs", "Consumer association"),
        group="escalations",
    ),
    Question(
        "escalation_court",
        "contacts",
        "flag",
        Text("Tribunal", "Court"),
        group="escalations",
    ),
    # --- workarounds and compensation ----------------------------------------------------------
    _yes_no(
        "loaner_offered",
        "workarounds",
        "Vous a-t-on proposé un matériel de dépannage (box de dépannage, téléphone de prêt) ?",
        "Were you offered a replacement (loaner box, loan phone)?",
    ),
    _yes_no(
        "loaner_obtained",
        "workarounds",
        "L'avez-vous effectivement obtenu ?",
        "Did you actually get it?",
    ),
    _count(
        "loaner_days_to_obtain",
        "workarounds",
        "Au bout de combien de jours ?",
        "After how many days?",
        maximum=365,
        shown_if=_LOANER_OBTAINED,
    ),
    _yes_no(
        "loaner_cut_before_resolution",
        "workarounds",
        "A-t-il été coupé avant la fin du problème ?",
        "Was it cut off before the problem ended?",
        shown_if=_LOANER_OBTAINED,
        derived_from="loaner_cut_count",
    ),
    Question(
        "loaner_cut_count",
        "workarounds",
        "int",
        Text(
            "Combien de fois a-t-il été coupé avant la fin du problème ?",
            "How many times was it cut off before the problem ended?",
        ),
        help=Text("0 s'il n'a jamais été coupé.", "0 if it was never cut off."),
        minimum=0,
        maximum=50,
        shown_if=_LOANER_OBTAINED,
        since_version=2,
    ),
    _yes_no(
        "refund_requested",
        "workarounds",
        "Avez-vous demandé un remboursement ou un dédommagement ?",
        "Did you ask for a refund or compensation?",
    ),
    Question(
        "refund_outcome",
        "workarounds",
        "choice",
        Text("Résultat de la demande", "Outcome of the request"),
        choices=(
            _c("full", "Remboursé en totalité", "Refunded in full"),
            _c("partial", "Remboursé en partie", "Partly refunded"),
            _c("refused", "Refusé", "Refused"),
            _c("pending", "Pas encore de réponse", "No answer yet"),
        ),
        shown_if=_REFUND_ASKED,
    ),
    Question(
        "refund_amount_requested",
        "workarounds",
        "float",
        Text("Montant demandé (€)", "Amount requested (EUR)"),
        minimum=0,
        maximum=100000,
        shown_if=_REFUND_ASKED,
    ),
    Question(
        "refund_amount_obtained",
        "workarounds",
        "float",
        Text("Montant obtenu (€)", "Amount obtained (EUR)"),
        minimum=0,
        maximum=100000,
        shown_if=_REFUND_DECIDED,
    ),
    Question(
        "refund_requested_on",
        "workarounds",
        "date",
        Text("Date de la demande", "Date of the request"),
        shown_if=_REFUND_ASKED,
    ),
    Question(
        "refund_received_on",
        "workarounds",
        "date",
        Text("Date du remboursement", "Date the refund arrived"),
        shown_if=_REFUND_DECIDED,
    ),
    _yes_no(
        "unrequested_gesture",
        "workarounds",
        "L'entreprise a-t-elle fait un geste commercial sans que vous le demandiez ?",
        "Did the company make a goodwill gesture without being asked?",
    ),
    # --- assessment --------------------------------------------------------------------------
    Question(
        "csat",
        "assessment",
        "int",
        Text(
            "Satisfaction sur la façon dont l'entreprise a traité votre problème",
            "Satisfaction with how the company handled it",
        ),
        help=Text(
            "1 = très insatisfait, 5 = très satisfait", "1 = very dissatisfied, 5 = very satisfied"
        ),
        minimum=1,
        maximum=5,
    ),
    Question(
        "effort",
        "assessment",
        "int",
        Text("Effort qu'il vous a fallu fournir", "Effort it took you"),
        help=Text("1 = très facile, 7 = très difficile", "1 = very easy, 7 = very hard"),
        minimum=1,
        maximum=7,
        derived_from="ease",
    ),
    # Version 2 asks the effort the other way round, so that every scale of the form runs from
    # the worst end to the best (csat 1-5, ease 1-7, nps 0-10); effort is 8 - ease.
    Question(
        "ease",
        "assessment",
        "int",
        Text(
            "Facilité des démarches pour obtenir une solution",
            "How easy it was to get it dealt with",
        ),
        help=Text("1 = très difficile, 7 = très facile", "1 = very hard, 7 = very easy"),
        minimum=1,
        maximum=7,
        since_version=2,
    ),
    Question(
        "nps",
        "assessment",
        "int",
        Text(
            "Recommanderiez-vous cette entreprise à un proche ?",
            "Would you recommend this company to a friend?",
        ),
        help=Text("0 = certainement pas, 10 = certainement", "0 = certainly not, 10 = certainly"),
        minimum=0,
        maximum=10,
    ),
    Question(
        "switched",
        "assessment",
        "choice",
        Text("Avez-vous changé d'entreprise ?", "Did you switch company?"),
        choices=(
            _c("yes", "Oui", "Yes"),
            _c("considering", "J'y pense", "Considering it"),
            _c("no", "Non", "No"),
        ),
    ),
    Question(
        "narrative",
        "assessment",
        "text",
        Text("Racontez en quelques lignes (facultatif)", "Tell it in a few lines (optional)"),
        help=Text(
            "Jamais publié tel quel. N'y mettez ni nom, ni numéro de client, ni adresse.",
            "Never published as written. Please leave out names, account numbers and addresses.",
        ),
        max_length=NARRATIVE_MAX_CHARS,
    ),
    Question(
        "consent_research",
        "assessment",
        "consent",
        Text(
            "J'accepte que ma réponse, anonyme, serve à des statistiques et à la recherche.",
            "I agree that my anonymous response is used for statistics and research.",
        ),
        required=True,
    ),
    Question(
        "consent_quote",
        "assessment",
        "flag",
        Text(
            "J'accepte qu'un extrait anonymisé de mon récit soit cité.",
            "I agree that an anonymised excerpt of my account may be quoted.",
        ),
    ),
    Question(
        "contact_email",
        "assessment",
        "email",
        Text("Votre e-mail (facultatif)", "Your e-mail (optional)"),
        help=Text(
            "Seulement si vous acceptez d'être recontacté. Conservé à part, jamais publié.",
            "Only if you agree to be contacted. Stored apart, never published.",
        ),
        max_length=254,
        stored_in="contacts",
    ),
)

QUESTIONS: dict[str, Question] = {q.id: q for q in FIELDS}
SECTION_IDS = tuple(s.id for s in SECTIONS)


def questions_in(section_id: str) -> tuple[Question, ...]:
    return tuple(q for q in FIELDS if q.section == section_id)


def response_questions(version: int | None = None) -> tuple[Question, ...]:
    """Questions stored in the responses table (optionally only those added in ``version``)."""
    return tuple(
        q
        for q in FIELDS
        if q.stored_in == "responses" and (version is None or q.since_version == version)
    )


# Metadata stored with every response, in column order, with its SQL type and meaning.
METADATA: tuple[tuple[str, str, Text], ...] = (
    ("response_id", "UUID", Text("Identifiant de la réponse", "Response identifier")),
    ("submitted_at", "TIMESTAMPTZ", Text("Horodatage de l'envoi", "Submission time")),
    (
        "submitted_on",
        "DATE",
        Text("Date d'envoi (heure de Paris)", "Submission date (Paris time)"),
    ),
    ("questionnaire_version", "INTEGER", Text("Version du questionnaire", "Questionnaire version")),
    ("locale", "VARCHAR", Text("Langue du formulaire", "Form language")),
    (
        "source",
        "VARCHAR",
        Text("Origine : web, import, synthetic", "Origin: web, import, synthetic"),
    ),
    ("fill_seconds", "DOUBLE", Text("Durée de remplissage (s)", "Time to fill in (s)")),
    (
        "flag_honeypot",
        "BOOLEAN",
        Text("Champ piège rempli (robot probable)", "Honeypot filled (likely bot)"),
    ),
    ("flag_too_fast", "BOOLEAN", Text("Rempli trop vite", "Filled in too fast")),
    ("flag_duplicate", "BOOLEAN", Text("Doublon probable", "Likely duplicate")),
    (
        "flag_burst",
        "BOOLEAN",
        Text(
            "Arrivée en rafale pour l'entreprise (campagne probable)",
            "Arrived in a burst for the company (likely campaign)",
        ),
    ),
    (
        "collected_from",
        "DATE",
        Text(
            "Début de la collecte d'origine (réponses importées)",
            "Start of the original collection (imported responses)",
        ),
    ),
)
# The quality flags: a flagged response is kept and shown to researchers, left out of the
# statistics by default and never published.
FLAG_COLUMNS = ("flag_honeypot", "flag_too_fast", "flag_duplicate", "flag_burst")
# Metadata columns added after the first release, with the migration that added each: a
# migration appends its columns at the end of the table (see survey.store.column_types).
METADATA_ADDED_BY_MIGRATION: dict[str, int] = {"flag_burst": 2, "collected_from": 3}
# The migration that added each later questionnaire version's questions (their columns go at
# the end of the table, after those of earlier migrations, in questionnaire order).
VERSION_ADDED_BY_MIGRATION: dict[int, int] = {2: 5}


def columns_added_by_migrations() -> tuple[tuple[str, str], ...]:
    """Columns of ``responses`` that a migration after the first appended, in table order:
    by migration, then metadata before questions, each in its definition order.

    >>> [name for name, _ in columns_added_by_migrations()][:3]
    ['flag_burst', 'collected_from', 'services_internet']
    """
    types = {name: sql_type for name, sql_type, _ in METADATA}
    added = [(METADATA_ADDED_BY_MIGRATION[n], 0, n, types[n]) for n in METADATA_ADDED_BY_MIGRATION]
    added += [
        (VERSION_ADDED_BY_MIGRATION[q.since_version], 1, q.id, q.sql_type)
        for q in response_questions()
        if q.since_version > 1
    ]
    order = {name: i for i, name in enumerate([n for n, _, _ in METADATA] + list(QUESTIONS))}
    added.sort(key=lambda row: (row[0], row[1], order[row[2]]))
    return tuple((name, sql_type) for _, _, name, sql_type in added)


# Kept for integrity and deletion, never exported.
PRIVATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("submission_key", "VARCHAR"),
    ("fingerprint", "VARCHAR"),
    ("deletion_hash", "VARCHAR"),
)
SOURCES = ("web", "import", "synthetic")
TOO_FAST_SECONDS = 60.0


def exported_columns() -> tuple[str, ...]:
    """Columns of an export, in order: metadata then answers. No e-mail, no hash."""
    return tuple(name for name, _, _ in METADATA) + tuple(q.id for q in response_questions())


# --- interface strings ------------------------------------------------------------------------
# Every string outside the questions themselves lives in the catalogue survey/messages/*.toml,
# read through survey.i18n.t; only the error codes' wording is reached from here.


def error_message(code: str, locale: str, **params) -> str:
    """The message of an error ``code`` of :mod:`survey.validation` in ``locale``.

    The wording is the catalogue's ``error.<code>``; an unknown code gives the generic
    ``error.invalid``. Numbers and dates in ``params`` are written the locale's way
    (:func:`survey.i18n.number`, :func:`survey.i18n.date`); a missing parameter leaves its
    placeholder as it is rather than failing, since the message is shown to a respondent.

    Examples
    --------
    >>> error_message("too_large", "fr", maximum=100000.0)
    'Maximum : 100\u202f000.'
    >>> error_message("too_early", "en", earliest=date(2000, 1, 1))
    'Date before 2000-01-01.'
    """
    key = f"error.{code}"
    if key not in i18n.catalogue():
        key = "error.invalid"
    shown = {name: _localised(value, locale) for name, value in params.items()}
    try:
        return i18n.t(key, locale, **shown)
    except (KeyError, IndexError):
        return i18n.t(key, locale)


def _localised(value: object, locale: str) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return i18n.integer(value, locale)
    if isinstance(value, float):
        return i18n.number(value, locale, digits=0 if value.is_integer() else 2)
    if isinstance(value, date):
        return i18n.date(value, locale)
    return str(value)


# --- codebook -------------------------------------------------------------------------------


def codebook() -> list[dict]:
    """The questionnaire as a data dictionary: one entry per stored column."""
    entries = [
        {
            "id": name,
            "section": "metadata",
            "type": sql_type,
            "label_fr": label.fr,
            "label_en": label.en,
            "required": True,
            "choices": list(SOURCES) if name == "source" else [],
            "minimum": None,
            "maximum": None,
            "max_length": None,
            "applies_when": None,
            "table": "responses",
            "exported": True,
            "since_version": 1,
            "group": None,
            "derived_from": None,
        }
        for name, sql_type, label in METADATA
    ]
    for q in FIELDS:
        entries.append(
            {
                "id": q.id,
                "section": q.section,
                "type": q.sql_type,
                "label_fr": q.label.fr,
                "label_en": q.label.en,
                "required": q.required,
                "choices": [
                    {"value": c.value, "label_fr": c.label.fr, "label_en": c.label.en}
                    for c in q.choices
                ]
                if q.id not in ("department",)
                else "see survey/reference/departments.csv",
                "minimum": q.minimum,
                "maximum": q.maximum,
                "max_length": q.max_length,
                "applies_when": _applies_when(q),
                "group": q.group,
                "derived_from": q.derived_from,
                "table": q.stored_in,
                "exported": q.stored_in == "responses",
                "since_version": q.since_version,
            }
        )
    return entries


def _applies_when(q: Question) -> dict | None:
    if q.shown_if is None:
        return None
    parent, values = q.shown_if
    if isinstance(values, AtLeast):
        return {"question": parent, "at_least": values.minimum}
    return {"question": parent, "in": list(values)}


def codebook_json() -> str:
    return json.dumps(
        {"questionnaire_version": QUESTIONNAIRE_VERSION, "fields": codebook()},
        ensure_ascii=False,
        indent=2,
    )


def codebook_markdown() -> str:
    lines = [
        f"# Client Roi codebook (questionnaire version {QUESTIONNAIRE_VERSION})",
        "",
        "Missing values (NULL) mean “don't know” or “not asked”, never zero.",
        "A multiple choice is one yes/no column per option; when no option was ticked, "
        "every one of them is NULL (not answered).",
        "",
        "| column | type | label (fr) | label (en) | values / bounds | asked when | exported |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in codebook():
        if isinstance(entry["choices"], str):
            values = entry["choices"]
        elif entry["choices"] and isinstance(entry["choices"][0], dict):
            values = ", ".join(f"`{c['value']}`" for c in entry["choices"])
        elif entry["choices"]:
            values = ", ".join(f"`{c}`" for c in entry["choices"])
        elif entry["minimum"] is not None or entry["maximum"] is not None:
            values = f"{entry['minimum']:g} to {entry['maximum']:g}"
        elif entry["max_length"]:
            values = f"up to {entry['max_length']} characters"
        else:
            values = ""
        when = entry["applies_when"]
        if when and "at_least" in when:
            asked = f"`{when['question']}` >= {when['at_least']}"
        else:
            asked = f"`{when['question']}` in {when['in']}" if when else ""
        if entry["derived_from"]:
            asked = (asked + "; " if asked else "") + f"derived from `{entry['derived_from']}`"
        if entry["group"] in MULTIPLE_CHOICES:
            values = f"ticked / not ticked (multiple choice `{entry['group']}`)"
        cells = [
            f"`{entry['id']}`" + (" (required)" if entry["required"] else ""),
            entry["type"],
            entry["label_fr"],
            entry["label_en"],
            values,
            asked,
            "yes" if entry["exported"] else "no (stored apart)",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
