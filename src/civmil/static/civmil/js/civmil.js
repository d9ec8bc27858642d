// civmil page behaviour (an ES module loaded by base.html on every page).
// Everything here is an enhancement: every form and link works without JavaScript.
//
// - htmx requests carry the CSRF token from <meta name="csrf-token">.
// - <select data-autosubmit> submits its form when changed with a pointer; from the keyboard
//   (arrow keys change the value one step at a time) it waits for Enter or the form's button.
// - data-confirm="question" on a form, button or link asks before going on.
// - After a failed submission the first field with an error (or the form's error summary) gets focus.

const root = document.documentElement;
root.classList.add("js");

function strings() {
  return document.getElementById("civmil-i18n")?.dataset ?? {};
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
}

// ---- htmx -------------------------------------------------------------------------

document.addEventListener("htmx:configRequest", (event) => {
  const token = csrfToken();
  if (token) {
    event.detail.headers["X-CSRFToken"] = token;
  }
});

// ---- auto-submitting selects --------------------------------------------------------

const KEYBOARD_STEP_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown", "Home", "End"]);
const keyboardChanged = new WeakSet();

function submitForm(form) {
  if (typeof form.requestSubmit === "function") {
    form.requestSubmit();
  } else {
    form.submit();
  }
}

document.addEventListener("keydown", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-autosubmit")) {
    return;
  }
  if (KEYBOARD_STEP_KEYS.has(event.key) || event.key.length === 1) {
    keyboardChanged.add(select);
  } else if (event.key === "Enter" && select.form) {
    event.preventDefault();
    keyboardChanged.delete(select);
    submitForm(select.form);
  }
});

document.addEventListener("pointerdown", (event) => {
  if (event.target instanceof HTMLSelectElement) {
    keyboardChanged.delete(event.target);
  }
});

document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-autosubmit") || !select.form) {
    return;
  }
  if (keyboardChanged.has(select)) {
    return; // the keyboard user confirms with Enter or the form's button
  }
  submitForm(select.form);
});

// ---- confirmation ------------------------------------------------------------------

function confirmed(element) {
  const question = element.getAttribute("data-confirm") || strings().confirm || "Are you sure?";
  return window.confirm(question);
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("a[data-confirm], button[data-confirm], input[type=submit][data-confirm]") : null;
  if (target && !confirmed(target)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) {
    return;
  }
  // A submit button with its own data-confirm has asked already.
  if (event.submitter?.hasAttribute("data-confirm")) {
    return;
  }
  if (!confirmed(form)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// ---- focus on errors ----------------------------------------------------------------

export function focusFirstError(scope = document) {
  const field = scope.querySelector('[aria-invalid="true"]:not([type="hidden"]):not([disabled])');
  const target = field ?? scope.querySelector(".form-errors");
  if (target) {
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center", behavior: "auto" });
    return true;
  }
  return false;
}

function onReady(callback) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", callback, { once: true });
  } else {
    callback();
  }
}

onReady(() => {
  focusFirstError();
});

document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail?.elt;
  if (target instanceof Element) {
    focusFirstError(target);
  }
});
