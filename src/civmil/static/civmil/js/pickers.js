// Searchable pickers (an ES module loaded by base.html; tom-select is served from vendor/).
//
// Every <select data-picker> the server wrote (civmil.core.pickers) becomes a searchable box:
// type to narrow the list, arrows and Enter to pick, Backspace to remove the last choice.
// Without JavaScript the select stays as it is, and the form works the same.
//
// - data-picker-url: the list is too long to be in the page; options are loaded as the user types
//   (at most LIMIT at a time), through the same access policy as the field's choices. The values
//   already chosen are in the page.
// - The label, help text and error of the field stay tied to the box the user types in
//   (aria-describedby, aria-invalid, aria-required), and its texts come from the page's language
//   (#civmil-i18n).

const LIMIT = 20;

function strings() {
  return document.getElementById("civmil-i18n")?.dataset ?? {};
}

function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text ?? "";
  return div.innerHTML;
}

function loader(url) {
  return (query, callback) => {
    const target = new URL(url, window.location.href);
    target.searchParams.set("q", query.slice(0, 100));
    target.searchParams.set("limit", String(LIMIT));
    fetch(target, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((body) => callback(body.results ?? []))
      .catch(() => callback());
  };
}

// What the select said to assistive technology is said by the box the user types in.
function carryAria(select, tom) {
  const input = tom.control_input;
  // The select stays in the page for the form; assistive technology hears only the box.
  select.setAttribute("aria-hidden", "true");
  for (const name of ["aria-describedby", "aria-invalid", "aria-required"]) {
    const value = select.getAttribute(name);
    if (value !== null) {
      input.setAttribute(name, value);
      if (name === "aria-invalid") {
        select.removeAttribute(name); // the first field with an error gets focus: the box, not the hidden select
      }
    }
  }
  if (select.required) {
    input.setAttribute("aria-required", "true");
  }
}

export function enhancePickers(scope = document) {
  if (typeof window.TomSelect !== "function") {
    return; // the library did not load: the plain selects still work
  }
  const s = strings();
  for (const select of scope.querySelectorAll("select[data-picker]")) {
    if (select.tomselect) {
      continue;
    }
    const url = select.getAttribute("data-picker-url");
    const multiple = select.multiple;
    const settings = {
      create: false,
      maxOptions: 50,
      allowEmptyOption: !multiple && !select.required,
      hidePlaceholder: true,
      placeholder: s.pickerPlaceholder || "",
      closeAfterSelect: !multiple,
      plugins: multiple ? { remove_button: { title: s.pickerRemove || "Remove" } } : {},
      render: {
        // Inside the list (role listbox), a message is an option that cannot be picked.
        no_results: () => `<div class="no-results" role="option" aria-disabled="true" aria-selected="false">${escapeHtml(s.pickerNoResults || "No results found")}</div>`,
        loading: () => `<div class="picker-loading" role="option" aria-disabled="true" aria-selected="false">${escapeHtml(s.pickerLoading || "Searching…")}</div>`,
        option_create: (data, escape) => `<div class="create">${escapeHtml(s.pickerAdd || "Add")} <strong>${escape(data.input)}</strong>…</div>`,
      },
    };
    if (url) {
      Object.assign(settings, {
        valueField: "value",
        labelField: "text",
        searchField: ["text", "search"], // "search": what the server matched besides the text
        load: loader(url),
        loadThrottle: 250,
        preload: "focus",
        shouldLoad: () => true,
      });
    }
    // eslint-disable-next-line no-new
    const tom = new window.TomSelect(select, settings);
    carryAria(select, tom);
  }
}

enhancePickers();

document.addEventListener("htmx:load", (event) => {
  if (event.detail?.elt instanceof Element) {
    enhancePickers(event.detail.elt);
  }
});
