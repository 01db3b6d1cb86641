/* The debtor's card payment page (templates/debtor/pay.html). No inline script: the page gives
   its data in data- attributes. Stripe's card element collects the card into a SetupIntent
   (confirmCardSetup), the portal charges it, and confirmCardPayment finishes any 3-D Secure step
   the bank asks for; then the page goes to the result (the receipt, or why it failed). */
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }
  var button = document.getElementById("pay-button");
  var errorBox = document.getElementById("pay-error");
  var cardErrors = document.getElementById("card-errors");
  var otherField = document.getElementById("other-amount");
  var otherInput = otherField ? otherField.querySelector("input") : null;
  var currency = form.dataset.currency;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
    if (message) { errorBox.scrollIntoView({block: "center"}); }
  }

  if (typeof Stripe === "undefined") {
    showError("The card form could not load. Check your connection and reload the page.");
    button.disabled = true;
    return;
  }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card", {hidePostalCode: false});
  card.mount("#card-element");
  card.on("change", function (event) {
    cardErrors.textContent = event && event.error ? event.error.message : "";
  });

  function chosen() {
    var checked = form.querySelector("input[name=choice]:checked");
    return checked ? checked.value : "";
  }

  // As the server reads an amount (portal/text.py plain_number): digits, commas only between
  // thousands, a dot before the cents. "12,30" or "1e2" is no amount, so the button says just "Pay"
  // (Number() would read them as 1230 and 100), and so does more than the balance.
  var PLAIN = /^(\d+|[1-9]\d{0,2}(,\d{3})+)(\.\d{0,2})?$/;

  function amountLabel() {
    var choice = chosen();
    var amount = choice === "installment" ? form.dataset.installment
      : choice === "balance" ? form.dataset.balance
      : (otherInput && otherInput.value.trim()) || "";
    if (!PLAIN.test(amount)) { return "Pay"; }
    var number = Number(amount.replace(/,/g, ""));
    if (!(number > 0) || number > Number(form.dataset.balance)) { return "Pay"; }
    return "Pay " + number.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}) + " " + currency;
  }

  function refresh() {
    if (otherField) { otherField.hidden = chosen() !== "other"; }
    button.textContent = amountLabel();
  }
  form.addEventListener("change", refresh);
  if (otherInput) { otherInput.addEventListener("input", refresh); }
  refresh();

  function post(data) {
    return fetch(window.location.pathname, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value, "Accept": "application/json"}
    }).then(function (response) {
      return response.json().catch(function () {
        return {error: "Something went wrong on our side. Nothing was charged; try again."};
      });
    }, function () {
      return {error: "No connection. Nothing was charged; check your connection and try again."};
    });
  }

  function busy(on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
    button.textContent = on ? "Processing…" : amountLabel();
  }

  function stop(message) {
    showError(/Nothing was charged/.test(message) ? message : message + " Nothing was charged.");
    busy(false);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) { return; }
    showError("");
    busy(true);
    var data = new FormData(form);
    data.set("action", "setup");
    post(data).then(function (setup) {
      if (setup.error) { return stop(setup.error); }
      return stripe.confirmCardSetup(setup.client_secret, {payment_method: {card: card}}).then(function (result) {
        if (result.error) { return stop(result.error.message || "Your card could not be used. Nothing was charged."); }
        data.set("action", "charge");
        data.set("setup_intent", result.setupIntent.id);
        return post(data).then(function (charge) {
          if (charge.error) { return stop(charge.error); }
          if (charge.status === "requires_action") {
            return stripe.confirmCardPayment(charge.client_secret).then(function () {
              window.location.assign(charge.result_url);  // the result page says what happened
            });
          }
          window.location.assign(charge.result_url);
        });
      });
    }).catch(function () {
      stop("Something went wrong. Nothing was charged; reload the page and try again.");
    });
  });
}());
