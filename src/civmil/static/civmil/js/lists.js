// Rows of a kernel list that expand in place (an ES module loaded by the list page).
//
// Each row's tools cell holds <button class="row-expand" aria-expanded="false" data-card-url="…">.
// Pressing it (pointer, Enter or Space) opens the record's card in a row of its own just below,
// fetched from the type's card URL; pressing it again, or Escape on it or inside the card, closes it. The
// expansion row carries the record's data-live-id, so a live "removed" event takes it away with
// the row; a live refresh of an open row keeps it open and fetches the card again.
// Without JavaScript the buttons stay hidden and the row's link opens the record's page.

function strings() {
  return document.getElementById("civmil-i18n")?.dataset ?? {};
}

function expansionOf(row) {
  const next = row.nextElementSibling;
  return next && next.classList.contains("row-expansion") && next.dataset.liveId === row.dataset.liveId ? next : null;
}

// Ids in a card are unique on its own page, not in a list of several open cards: each gets the
// record's id as a suffix, and the references to them follow.
function uniqueIds(holder, suffix) {
  const renamed = new Map();
  for (const el of holder.querySelectorAll("[id]")) {
    renamed.set(el.id, `${el.id}-${suffix}`);
    el.id = `${el.id}-${suffix}`;
  }
  for (const attr of ["aria-labelledby", "aria-describedby", "aria-controls", "for"]) {
    for (const el of holder.querySelectorAll(`[${attr}]`)) {
      el.setAttribute(attr, el.getAttribute(attr).split(/\s+/).map((id) => renamed.get(id) ?? id).join(" "));
    }
  }
}

async function loadCard(button, cell) {
  const text = strings();
  cell.textContent = text.mapCardLoading || "Loading the details…";
  cell.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(button.dataset.cardUrl, {
      credentials: "same-origin", headers: { "HX-Request": "true", Accept: "text/html" },
    });
    if (!response.ok || !(response.headers.get("Content-Type") ?? "").startsWith("text/html")) {
      throw new Error(String(response.status));
    }
    const holder = document.createElement("template");
    holder.innerHTML = (await response.text()).trim();
    // The card is this row's: live updates find the row, not a second copy of the record.
    for (const el of holder.content.querySelectorAll("[data-live-id]")) {
      el.removeAttribute("data-live-id");
    }
    uniqueIds(holder.content, button.closest("tr").dataset.liveId);
    cell.replaceChildren(holder.content);
  } catch {
    cell.textContent = text.mapCardFailed || "The details could not be loaded.";
  } finally {
    cell.removeAttribute("aria-busy");
  }
}

function expand(button) {
  const row = button.closest("tr");
  const id = row.dataset.liveId;
  const expansion = document.createElement("tr");
  expansion.className = "row-expansion";
  expansion.dataset.liveId = id;
  const cell = document.createElement("td");
  cell.colSpan = row.cells.length;
  cell.id = `row-card-${id}`;
  expansion.append(cell);
  row.after(expansion);
  button.setAttribute("aria-controls", cell.id);
  button.setAttribute("aria-expanded", "true");
  loadCard(button, cell);
}

function collapse(button) {
  const row = button.closest("tr");
  expansionOf(row)?.remove();
  button.setAttribute("aria-expanded", "false");
}

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button.row-expand") : null;
  if (!button) {
    return;
  }
  if (button.getAttribute("aria-expanded") === "true") {
    collapse(button);
  } else {
    expand(button);
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !(event.target instanceof Element)) {
    return;
  }
  const expansion = event.target.closest("tr.row-expansion");
  const button = expansion?.previousElementSibling?.querySelector("button.row-expand")
    ?? event.target.closest("button.row-expand[aria-expanded='true']");
  if (button) {
    collapse(button);
    button.focus();
  }
});

// A live refresh replaces an open row with a fresh (closed) one: it stays open, with a fresh card.
for (const body of document.querySelectorAll("table.kernel-list > tbody")) {
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (!(node instanceof HTMLTableRowElement) || node.classList.contains("row-expansion")) {
          continue;
        }
        const expansion = expansionOf(node);
        const button = node.querySelector("button.row-expand");
        if (expansion && button) {
          button.setAttribute("aria-expanded", "true");
          button.setAttribute("aria-controls", expansion.cells[0].id);
          loadCard(button, expansion.cells[0]);
        }
      }
    }
  }).observe(body, { childList: true });
}
