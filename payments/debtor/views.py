"""The debtor's pages, reached by a secure link (no sign-in, no staff navigation).

    /d/<token>/                      the identity check (opening it spends nothing)
    /d/<token>/account/              what is owed, to whom, the offers sent, the plan in place
    /d/<token>/offers/<id>/          an offer's schedule, the ESIGN disclosure, sign
    /d/<token>/plan/                 build a plan or settlement; accept it or send it as a request
    /d/<token>/dispute/, callback/, opt-out/, agreements/<ref>.pdf, sign-out/

Every page but the first needs a verified visit to that very link (payments.debtor.visits); ids
in the URL are looked up on the link's account only, so another account's id is a 404.
"""
import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from collections_work.compliance import UNKNOWN_ZONE_CANDIDATES
from collections_work.debtor_accounts.local_day import account_today as debtor_today
from collections_work.models import Contact, DebtPurpose
from collections_work.worklist.services import contact_opt_out, debtor_dispute, debtor_follow_up
from payments.debtor.forms import CallbackRequestForm, DisputeForm, IdentityForm, PlanBuilderForm, SignForm
from payments.debtor.visits import client_ip, debtor_page, unavailable, visit_end, visit_start
from payments.links import identity
from payments.links.services import LinkUnavailable, link_verify
from payments.models import AcceptanceEvidence, PaymentPlan, PlanOffer, StripeAccount
from payments.offers import rules
from payments.offers.services import offer_schedule
from payments.plans import agreements
from payments.plans.services import MISSED_PAYMENT_TEXT, debtor_plan_check, debtor_plan_request, plan_accept
from payments.plans.wording import next_installment, plan_in_words
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.text import date_text

EARLIEST_CALL, LATEST_CALL = 8, 21  # 12 CFR 1006.6(b)(1)(i): 8 a.m. to 9 p.m. the debtor's local time
# Time zones as a debtor knows them (any other zone is named after its city: "Puerto Rico time").
ZONE_NAMES = {"America/New_York": "Eastern time", "America/Detroit": "Eastern time",
              "America/Chicago": "Central time", "America/Denver": "Mountain time",
              "America/Phoenix": "Arizona time", "America/Los_Angeles": "Pacific time",
              "America/Anchorage": "Alaska time", "Pacific/Honolulu": "Hawaii time"}


def zone_name(zone: str) -> str:
    return ZONE_NAMES.get(zone) or zone.split("/")[-1].replace("_", " ") + " time"


def _base(request, link, **extra) -> dict:
    account = link.account
    return {"link": link, "link_token": _token(request), "account": account, "agency": link.agency,
            "client": account.client, "consumer": account.debt_purpose != DebtPurpose.COMMERCIAL, **extra}


@debtor_page(verified=False)
def landing(request, link):
    """Who are you? Two facts the portal holds; nothing about the debt before they match."""
    now = timezone.now()
    if link.state(now) != "active":
        return unavailable(request, LinkUnavailable(link.state(now)), status=410, link=link)
    facts = identity.facts_for(link.account)
    if facts is None:
        return unavailable(request, LinkUnavailable("revoked"), status=410, link=link)
    form = IdentityForm(request.POST or None, facts=facts)
    if request.method == "POST" and form.is_valid():
        try:
            confirmed = link_verify(link=link, answers=form.cleaned_data, ip=client_ip(request), facts=facts)
        except LinkUnavailable as error:
            return unavailable(request, error, status=410, link=link)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            visit_start(request, link, confirmed)
            return redirect("debtor_account", token=request.resolver_match.kwargs["token"])
    tries_left = max(0, 5 - link.failed_attempts)
    return render(request, "debtor/landing.html", {"link": link, "agency": link.agency, "form": form,
                                                   "tries_left": tries_left},
                  status=400 if form.errors else 200)


def _token(request) -> str:
    return request.resolver_match.kwargs["token"]


@debtor_page()
def account(request, link):
    account = link.account
    offers = list(PlanOffer.objects.filter(account=account, status=PlanOffer.Status.SENT).order_by("-sent_at", "-id"))
    for offer in offers:
        offer.account = account  # loaded with the link: no query per offer
        offer.summary = _offer_in_words(offer)
    plan = PaymentPlan.objects.filter(account=account, status=PaymentPlan.Status.CURRENT).first()
    installments = list(plan.installments.all()) if plan else []
    return render(request, "debtor/account.html", _base(
        request, link, offers=offers, plan=plan, installments=installments,
        plan_summary=plan_in_words(installments, frequency=plan.frequency, balance=plan.total_amount,
                                   currency=account.currency) if installments else "",
        next_payment=next_installment(installments),
        evidence=AcceptanceEvidence.objects.filter(plan=plan).first() if plan else None,
        pay_by_card=account.balance > 0 and StripeAccount.objects.filter(agency_id=link.agency_id).exists(),
        email_on_file=Contact.objects.filter(debtor_id=account.debtor_id, kind=Contact.Kind.EMAIL,
                                             opted_out_at__isnull=True).exists()))


def _offer_in_words(offer) -> str:
    return plan_in_words(offer_schedule(offer), frequency=offer.frequency, balance=offer.account.balance,
                         currency=offer.account.currency)


def _sign_context(request, link, sign_form, payments, **extra):
    return _base(request, link, sign_form=sign_form, payments=payments,
                 disclosure=agreements.esign_disclosure(link.agency), missed_payment_text=MISSED_PAYMENT_TEXT, **extra)


def schedule_fingerprint(plan) -> str:
    """What the debtor saw: the plan's kind and every date and amount. The page sends it back
    with "I agree" (or "Send as a request"), so a plan changed in the form after its schedule
    was shown is shown again instead of being signed unseen."""
    text = plan.kind + ";" + ";".join(f"{p.due_date.isoformat()}={p.amount}" for p in plan.payments)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@debtor_page()
def offer(request, link, offer_id):
    """One offer sent to the debtor: its schedule, the disclosure, and the signature. An offer of
    this account that is no longer open (accepted, withdrawn, expired) sends the debtor back to
    the account page saying so: the back button after signing showed "Page not found"."""
    seen = (PlanOffer.Status.SENT, PlanOffer.Status.ACCEPTED, PlanOffer.Status.EXPIRED, PlanOffer.Status.WITHDRAWN)
    offer = get_object_or_404(PlanOffer, pk=offer_id, account=link.account, status__in=seen)  # never a draft
    if offer.status != PlanOffer.Status.SENT:
        messages.info(request, "You accepted this offer: your plan is shown below." if offer.status ==
                      PlanOffer.Status.ACCEPTED else "This offer is no longer open.")
        return redirect("debtor_account", token=_token(request))
    offer.account = link.account  # loaded with the link
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            evidence = plan_accept(link=link, offer=offer, typed_name=form.cleaned_data["typed_name"],
                                   consented=form.cleaned_data["consent"], ip=client_ip(request),
                                   user_agent=request.headers.get("User-Agent", ""),
                                   facts=request.debtor_visit["facts"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            return _signed(request, evidence)
    return render(request, "debtor/sign.html", _sign_context(
        request, link, form, offer_schedule(offer), offer=offer, summary=_offer_in_words(offer)),
        status=400 if form.errors else 200)


def _signed(request, evidence):
    messages.success(request, "Your plan is in place. We emailed you a copy of the signed agreement; you can "
                              "also download it below.")
    return redirect("debtor_account", token=_token(request))


@debtor_page()
def plan_builder(request, link):
    """Build a plan: see the schedule; inside the client's rules sign it at once, outside them
    send it to the agency as a request. "I agree" and "Send as a request" act only on the very
    schedule the page showed (schedule_fingerprint); a plan changed since is shown again."""
    account = link.account
    if PaymentPlan.objects.filter(account=account, status=PaymentPlan.Status.CURRENT).exists():
        # A second plan would be refused only after "I agree": say so before anything is typed.
        messages.info(request, "You already have a payment plan: it is shown below.")
        return redirect("debtor_account", token=_token(request))
    today = debtor_today(account)
    rule = rules.rule_for(account.client, account.balance)
    form = PlanBuilderForm(request.POST or None, initial={"first_due_date": today + timedelta(days=7)})
    _explain_rule(form, rule, today)
    action = request.POST.get("action")
    sign_form = SignForm(request.POST if action == "accept" else None)
    plan, changed = None, False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = debtor_plan_check(account=account, kind=data["kind"], first_due_date=data["first_due_date"],
                                     monthly_amount=data["monthly_amount"], months=data["months"],
                                     settle_amount=data["settle_amount"], today=today)
            changed = action in ("accept", "request") and request.POST.get("schedule") != schedule_fingerprint(plan)
            if changed:
                sign_form = SignForm(initial={"typed_name": request.POST.get("typed_name", "")})
            elif action == "request" and plan.problems:
                debtor_plan_request(link=link, plan=plan, note=data["note"])
                messages.success(request, "Your request was sent. The agency will answer it, usually within two "
                                          "business days.")
                return redirect("debtor_account", token=_token(request))
            elif action == "accept" and sign_form.is_valid():
                evidence = plan_accept(link=link, debtor_plan=plan, typed_name=sign_form.cleaned_data["typed_name"],
                                       consented=sign_form.cleaned_data["consent"], ip=client_ip(request),
                                       user_agent=request.headers.get("User-Agent", ""),
                                       facts=request.debtor_visit["facts"])
                return _signed(request, evidence)
        except DomainError as error:
            add_domain_error(sign_form if error.field in ("consent", "typed_name") else form, error)
    context = _sign_context(
        request, link, sign_form, plan.payments if plan else [], form=form, plan=plan, today=today, changed=changed,
        fingerprint=schedule_fingerprint(plan) if plan else "",
        summary=plan_in_words(plan.payments, frequency=plan.frequency, balance=account.balance,
                              currency=account.currency) if plan else "")
    invalid = form.errors or sign_form.errors
    return render(request, "debtor/plan.html", context, status=400 if invalid else 200)


def _explain_rule(form, rule, today) -> None:
    """Tell the debtor, next to each field, what they may choose online without waiting: the
    longest plan, the smallest monthly payment, the latest first payment (not the settlement
    floor: an offer below the balance is the agency's to weigh)."""
    if rule is None:
        return
    fields = form.fields
    fields["monthly_amount"].help_text = f"At least {rule.min_installment:,.2f}, for example 150.00."
    fields["months"].help_text = (f"Up to {rule.max_months} month{'s' if rule.max_months != 1 else ''}; "
                                  "we split the balance evenly.")
    latest = today + timedelta(days=rule.max_defer_days)
    fields["first_due_date"].help_text = f"Any day from today to {latest:%B} {latest.day}, {latest.year}."
    fields["first_due_date"].widget.attrs.update(min=today.isoformat())


@debtor_page()
def dispute(request, link):
    form = DisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            debtor_dispute(account=link.account, reason=form.cleaned_data["reason"],
                           validation=form.cleaned_data["kind"] == "validation")
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Received. The agency has paused collection on this account and will "
                                      "answer you in writing.")
            return redirect("debtor_account", token=_token(request))
    return render(request, "debtor/dispute.html", _base(request, link, form=form), status=400 if form.errors else 200)


def _callback_zones(account) -> list[str]:
    return [account.debtor_time_zone] if account.debtor_time_zone else list(UNKNOWN_ZONE_CANDIDATES)


@debtor_page()
def callback(request, link):
    """A call back at a time the debtor chooses, between 8:00 and 21:00 where they are."""
    account = link.account
    zones = _callback_zones(account)
    form = CallbackRequestForm(request.POST or None)
    if not account.debtor_time_zone:  # the time is read as the first candidate's (Eastern) time
        form.fields["time"].label = f"Time ({zone_name(zones[0])})"
        form.fields["time"].help_text = (f"Between 2:00 pm and 9:00 pm {zone_name(zones[0])}, so that it is daytime "
                                         "wherever you are in the US.")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        zone = ZoneInfo(zones[0])
        due_at = datetime.combine(data["day"], data["time"]).replace(tzinfo=zone)
        local_hours_ok = all(EARLIEST_CALL <= due_at.astimezone(ZoneInfo(z)).hour < LATEST_CALL for z in zones)
        if due_at <= timezone.now() or due_at > timezone.now() + timedelta(days=30):
            form.add_error("day", "Choose a time in the next 30 days.")
        elif not local_hours_ok:
            form.add_error("time", f"Choose a time between 8:00 am and 9:00 pm ({zone_name(zones[0])})."
                           if account.debtor_time_zone else
                           f"Choose a time between 2:00 pm and 9:00 pm {zone_name(zones[0])}: we do not know your "
                           "time zone, so the call must be in the daytime everywhere in the US.")
        else:
            debtor_follow_up(account=account, due_at=due_at, note=data["note"],
                             summary=f"The debtor asked for a call back on {date_text(due_at, '%b %d, %Y at %H:%M')} ({zones[0]})")
            messages.success(request, f"We will call you on {due_at:%A, %B %-d at %-I:%M %p} "
                                      f"({zone_name(zones[0])}).")
            return redirect("debtor_account", token=_token(request))
    return render(request, "debtor/callback.html", _base(request, link, form=form, zone=zones[0],
                                                         zone_name=zone_name(zones[0]),
                                                         zone_known=bool(account.debtor_time_zone)),
                  status=400 if form.errors else 200)


@debtor_page()
@require_POST
def opt_out(request, link):
    """No more email about this debt: every email address of the debtor is opted out."""
    for contact in Contact.objects.filter(debtor_id=link.account.debtor_id, kind=Contact.Kind.EMAIL,
                                          opted_out_at__isnull=True):
        contact_opt_out(contact=contact)
    messages.success(request, "Done: we will not email you about this account any more.")
    return redirect("debtor_account", token=_token(request))


@debtor_page()
def agreement(request, link, reference):
    evidence = AcceptanceEvidence.objects.filter(reference=reference, account=link.account).first()
    if evidence is None:
        raise Http404
    return FileResponse(evidence.agreement_pdf.open("rb"), as_attachment=True, content_type="application/pdf",
                        filename=f"agreement-{evidence.account.client_reference}.pdf")


@debtor_page()
@require_POST
def sign_out(request, link):
    visit_end(request, link)
    return redirect("debtor_landing", token=_token(request))
